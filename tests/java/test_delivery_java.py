"""The -e forms through a real shell entrypoint into a real JVM's system properties.

`startup.sh` stands for an image whose entrypoint runs `exec mzsh startup <pico> "$@"`;
`public-entrypoint.sh` behaves like the public MediationZone entrypoint (TLS_* variables,
base64-encoded passwords, its options built as one string and word-split, then the container's
arguments). Both end in `PropsArgs`, which turns `-e key=value` into system properties the way
`mzsh startup -e` does and prints them. The argument vectors come from the rendered pod
templates, with Kubernetes' `$(VAR)` expansion and the Secret-filled environment applied.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pico_harness.java.fixtures import require_java
from pico_harness.support import delivery as dt
from pico_harness.support.entrypoints import PUBLIC_ENTRYPOINT
from pico_tls.builders import secret_manifests
from pico_tls.render import render_objects

PROPS_ARGS = """
import java.nio.charset.StandardCharsets;
import java.util.*;

public class PropsArgs {
    public static void main(String[] args) {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].equals("-e") || i + 1 == args.length) {
                throw new IllegalArgumentException(args[i]);
            }
            String pair = args[++i];
            int eq = pair.indexOf('=');
            System.setProperty(pair.substring(0, eq), pair.substring(eq + 1));
            keys.add(pair.substring(0, eq));
        }
        Base64.Encoder b64 = Base64.getEncoder();
        for (String key : keys) {
            byte[] value = System.getProperty(key).getBytes(StandardCharsets.UTF_8);
            System.out.println(b64.encodeToString(key.getBytes(StandardCharsets.UTF_8)) + " "
                + b64.encodeToString(value));
        }
    }
}
"""
STARTUP = '#!/bin/sh\nexec java -cp "$CLASSES" PropsArgs "$@"\n'
TRICKY = {
    "note.spaces": "  two  spaces and a 'quote' \\\"double\\\" ",
    "note.dollar": "$(PICO_RCP_TLS_KEYSTORE_PASSWORD) $HOME $$ ${x}",
    "note.glob": "* ? [a] ~ ; | & > <",
    "note.unicode": "grüße 😀",
}
SAFE = {"note.plain": "a-b=c#ü,d/e@f"}


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_java()
    out = tmp_path_factory.mktemp("propsargs")
    (out / "PropsArgs.java").write_text(PROPS_ARGS)
    subprocess.run(["javac", "-d", str(out), str(out / "PropsArgs.java")], check=True)
    for name, text in (("startup.sh", STARTUP), ("public-entrypoint.sh", PUBLIC_ENTRYPOINT)):
        (out / name).write_text(text)
        (out / name).chmod(0o755)
    return out


def _group(form: str, props: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "Platform",
            "metadata": {"name": "mz", "namespace": "ns"},
            "spec": {"image": "i", "properties": props, "delivery": {"form": form}},
        }
    ]


def _run(
    classes: Path, script: str, objs: list[dict[str, Any]]
) -> tuple[dict[str, str], dict[str, str]]:
    secrets = {
        o["metadata"]["name"]: secret_manifests.decode_data(o)
        for o in objs
        if o["kind"] == "Secret"
    }
    workload = next(o for o in objs if o["kind"] == "StatefulSet")
    container = dt.container_of(workload)
    env = dt.resolved_env(container, secrets)
    argv = [dt.expand(a, env) for a in container["args"]]
    result = subprocess.run(
        [str(classes / script), *argv],  # no shell: the vector as the kubelet passes it
        # a UTF-8 locale, or the JVM decodes non-ASCII arguments wrongly (so must the image)
        env={
            "PATH": "/usr/bin:/bin",
            "LC_ALL": "C.UTF-8",
            "CLASSES": str(classes),
            "MAIN_CLASS": "PropsArgs",
            **env,
        },
        capture_output=True,
        check=True,
        timeout=60,
    )
    got = {}
    for line in result.stdout.decode().splitlines():
        key, value = line.split(" ")
        got[base64.b64decode(key).decode()] = base64.b64decode(value).decode()
    data = secrets["mz-rcp-tls"]
    return got, {k: v.decode() for k, v in data.items() if k.endswith("password")}


def test_startup_args_reach_the_jvm_unchanged(classes: Path) -> None:
    got, pw = _run(classes, "startup.sh", render_objects(_group("StartupArgs", TRICKY | SAFE)))
    assert {k: got[k] for k in {**TRICKY, **SAFE}} == TRICKY | SAFE
    assert got["pico.rcp.tls.keystore.password"] == dt.b64(pw["keystore.password"])
    assert got["pico.rcp.tls.key.password"] == dt.b64(pw["key.password"])
    assert got["pico.rcp.tls.keystore.alias"] == "platform"


def test_entrypoint_env_survives_the_public_entrypoints_word_splitting(classes: Path) -> None:
    got, pw = _run(classes, "public-entrypoint.sh", render_objects(_group("EntrypointEnv", SAFE)))
    assert got["note.plain"] == SAFE["note.plain"]
    assert got["pico.rcp.tls.keystore"] == "/etc/pico/tls/keystore.p12"
    assert got["pico.rcp.tls.keystore.alias"] == "platform"
    assert got["pico.rcp.tls.require_clientauth"] == "false"
    assert got["pico.rcp.tls.keystore.password"] == dt.b64(pw["keystore.password"])
    assert got["mz.httpd.security.key.password"] == dt.b64(pw["key.password"])


@pytest.mark.parametrize("key", sorted(TRICKY))
def test_what_word_splitting_would_break_is_refused(key: str) -> None:
    from pico_tls.spec import SpecError

    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        render_objects(_group("EntrypointEnv", {key: TRICKY[key]}))
