"""Read each delivery form back the way its consumer would (for unit and e2e tests).

Every reader returns the settings a pico would end up with, {property: value}, passwords
decoded per encoding, so tests can prove that every form carries exactly the same settings.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

from pyhocon import ConfigFactory

from pico_tls import javaprops


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion of container args and env values (`$$` is `$`)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            end = text.find(")", i + 2) if nxt == "(" else -1
            if end != -1:
                name = text[i + 2 : end]
                out.append(env.get(name, f"$({name})"))
                i = end + 1
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def container_of(workload: Mapping[str, Any]) -> dict[str, Any]:
    return dict(workload["spec"]["template"]["spec"]["containers"][0])


def resolved_env(
    container: Mapping[str, Any], secrets: Mapping[str, Mapping[str, bytes]]
) -> dict[str, str]:
    """The container's environment as the kubelet fills it (secretKeyRef looked up)."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            env[item["name"]] = secrets[ref["name"]][ref["key"]].decode()
        else:
            env[item["name"]] = expand(item.get("value", ""), env)
    return env


def mounted_files(
    workload: Mapping[str, Any],
    configmaps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, bytes]],
) -> dict[str, str]:
    """Path -> text of every ConfigMap and Secret file the first container sees."""
    spec = workload["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    out: dict[str, str] = {}
    for mount in spec["containers"][0].get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            source = volume["configMap"]
            data = {k: v.encode() for k, v in configmaps[source["name"]].items()}
        elif "secret" in volume:
            source = volume["secret"]
            data = dict(secrets[source["secretName"]])
        else:
            continue
        items = source.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            text = data[item["key"]].decode(errors="replace")  # keystores: binary
            out[f"{mount['mountPath']}/{item['path']}"] = text
    return out


def argv_pairs(args: list[str]) -> dict[str, str]:
    """`-e key=value` pairs of an argument vector."""
    assert len(args) % 2 == 0 and all(a == "-e" for a in args[::2]), args
    return dict(arg.split("=", 1) for arg in args[1::2])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text, validate=True).decode()


def read_properties_form(
    container: Mapping[str, Any], files: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, str]:
    """Load every file of PICO_PROPERTIES_FILES (`files`: path -> text)."""
    out: dict[str, str] = {}
    for path in env["PICO_PROPERTIES_FILES"].split(":"):
        out |= javaprops.load(files[path])
    return out


def read_startup_args(container: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    return argv_pairs([expand(a, env) for a in container.get("args", [])])


def read_entrypoint(container: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """What the public entrypoint passes to `mzsh startup`: its own -e from TLS_*, then the
    container's args."""
    out: dict[str, str] = {}
    if env.get("TLS_ENABLED") == "true":
        store, key = b64(env["TLS_KEYSTORE_PASSWORD"]), b64(env["TLS_KEY_PASSWORD"])
        out |= {
            "mz.httpd.security": "true",
            "mz.httpd.security.keystore": env["TLS_KEYSTORE"],
            "mz.httpd.security.keystore.password": store,
            "mz.httpd.security.key.alias": env["TLS_KEY_ALIAS"],
            "mz.httpd.security.key.password": key,
            "pico.rcp.tls.keystore": env["TLS_KEYSTORE"],
            "pico.rcp.tls.keystore.password": store,
            "pico.rcp.tls.key.password": key,
        }
    out |= argv_pairs([expand(a, env) for a in container.get("args", [])])
    return out


def _hocon_key(key: str) -> str:
    # pyhocon keeps a quoted key that holds dots with its quotes (and escapes) as written
    quoted = len(key) >= 2 and key[0] == key[-1] == '"'
    return str(json.loads(key)) if quoted else key


def read_topology(texts: list[str], env: Mapping[str, str]) -> dict[str, str]:
    """Parse HOCON fragments (environment substitutions from `env`) and merge `common`."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        out: dict[str, str] = {}
        for text in texts:
            tree = ConfigFactory.parse_string(text)
            out |= {_hocon_key(str(k)): str(v) for k, v in tree.get("common", {}).items()}
        return out
    finally:
        os.environ.clear()
        os.environ.update(saved)
