"""examples/delivery/: one small platform group per delivery form, rendered by
`pico-tls render` the way a user would, each giving its form's pod template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pico_tls.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "delivery"


def rendered(name: str, capsys: pytest.CaptureFixture[str]) -> dict[tuple[str, str], Any]:
    assert main(["render", "-f", str(EXAMPLES / name)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def container(objs: dict[tuple[str, str], Any], kind: str, name: str) -> dict[str, Any]:
    return dict(objs[(kind, name)]["spec"]["template"]["spec"]["containers"][0])


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_every_form_has_an_example() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    assert names == [
        "entrypoint-env.yaml",
        "properties-file.yaml",
        "startup-args.yaml",
        "topology-files.yaml",
    ]


def test_properties_file_example(capsys: pytest.CaptureFixture[str]) -> None:
    objs = rendered("properties-file.yaml", capsys)
    env = env_of(container(objs, "StatefulSet", "mz-props"))
    assert env["PICO_PROPERTIES_FILES"].split(":") == [
        "/etc/pico/properties/rcp-tls.properties",
        "/etc/pico/tls/rcp-tls-secret.base64.properties",
        "/etc/pico/tls/httpd-tls-secret.base64.properties",
    ]
    public = objs[("ConfigMap", "ec-props-rcp-tls")]["data"]["rcp-tls.properties"]
    assert "mz.httpd.security=true" in public and "mz.httpd.security.key.alias=ec-props" in public


def test_entrypoint_env_example(capsys: pytest.CaptureFixture[str]) -> None:
    objs = rendered("entrypoint-env.yaml", capsys)
    mz = container(objs, "StatefulSet", "mz-entry")
    env = env_of(mz)
    assert env["TLS_ENABLED"] == "true" and env["TLS_KEY_ALIAS"] == "platform"
    assert env["TLS_KEY_PASSWORD"] == {
        "secretKeyRef": {"name": "mz-entry-rcp-tls", "key": "key.password"}
    }
    assert "-e" in mz["args"] and "pico.rcp.tls.require_clientauth=true" in mz["args"]
    ec = container(objs, "Deployment", "ec-entry")  # overrides the form
    assert "pico.rcp.platform.host=mz-entry.default.svc" in ec["args"]
    assert "TLS_ENABLED" not in env_of(ec)


def test_startup_args_example(capsys: pytest.CaptureFixture[str]) -> None:
    objs = rendered("startup-args.yaml", capsys)
    args = container(objs, "Deployment", "ec-args")["args"]
    assert "pico.rcp.tls.key.password=$(PICO_RCP_TLS_KEY_PASSWORD)" in args
    assert "pico.rcp.tls.keystore=/etc/pico/tls/keystore.p12" in args
    assert ("ConfigMap", "ec-args-rcp-tls") in objs


def test_topology_files_example(capsys: pytest.CaptureFixture[str]) -> None:
    objs = rendered("topology-files.yaml", capsys)
    ec = container(objs, "Deployment", "ec-topo")
    mounts = {m["mountPath"] for m in ec["volumeMounts"]}
    assert {"/etc/config/common", "/etc/config/container", "/etc/pico/tls"} <= mounts
    refs = [e["valueFrom"]["secretKeyRef"] for e in ec["env"]]
    assert {r["name"] for r in refs} == {"mz-topo-encrypted"}
    data = objs[("ConfigMap", "ec-topo-rcp-tls")]["data"]
    assert "${?PICO_RCP_TLS_KEY_PASSWORD}" in data["container.conf"]
    assert '"pico.rcp.platform.host" = "mz-topo.default.svc"' in data["cell.conf"]
