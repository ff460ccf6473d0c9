"""The command line: `pico-tls render`, and the package layout kopf and Python rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pico_tls.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_render_prints_every_object_and_redacts_secrets(capsys):
    assert main(["render", "-f", str(ROOT / "examples")]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    kinds = sorted({(d["kind"], d["metadata"]["name"]) for d in docs})
    assert ("StatefulSet", "mz") in kinds and ("Deployment", "ec2") in kinds
    assert ("Secret", "alice-desktop-key") in kinds and ("ConfigMap", "ec1-rcp-tls") in kinds
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert all(v.startswith("<redacted") for s in secrets for v in s["data"].values())


def _render_flags(tmp_path: Path, require: bool, capsys: Any) -> dict[str, str]:
    """The require_clientauth line of every rendered properties ConfigMap."""
    docs = [
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "Platform",
            "metadata": {"name": "mz"},
            "spec": {
                "image": "i",
                "tls": {"requireClientAuth": require, "key": {"algorithm": "ECDSA"}},
            },
        },
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "ExecutionContainer",
            "metadata": {"name": "ec1"},
            "spec": {"platformRef": {"name": "mz"}, "image": "i"},
        },
    ]
    source = tmp_path / f"group-{require}.yaml"
    source.write_text(yaml.safe_dump_all(docs))
    assert main(["render", "-f", str(source)]) == 0
    rendered = list(yaml.safe_load_all(capsys.readouterr().out))
    return {
        d["metadata"]["name"]: next(
            line
            for line in d["data"]["rcp-tls.properties"].splitlines()
            if "require_clientauth" in line
        )
        for d in rendered
        if d["kind"] == "ConfigMap"
    }


def test_render_follows_require_client_auth(tmp_path, capsys):
    on = "pico.rcp.tls.require_clientauth=true"
    off = "pico.rcp.tls.require_clientauth=false"
    assert _render_flags(tmp_path, True, capsys) == {"mz-rcp-tls": on, "ec1-rcp-tls": on}
    assert _render_flags(tmp_path, False, capsys) == {"mz-rcp-tls": off, "ec1-rcp-tls": off}


def test_render_rejects_a_bad_spec_with_exit_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "picotls.dev/v1alpha1",
                "kind": "Platform",
                "metadata": {"name": "mz"},
                "spec": {"image": "i", "tls": {"key": {"algorithm": "ECDSA", "size": 4096}}},
            }
        )
    )
    assert main(["render", "-f", str(bad)]) == 2
    assert "spec.tls.key.size" in capsys.readouterr().err


def test_stdlib_operator_module_is_not_shadowed():
    code = "import operator; operator.eq(1, 1)"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_kopf_registers_the_handlers_when_it_imports_the_package():
    code = (
        "import kopf, pico_tls\n"
        "handlers = list(kopf.get_default_registry()._watching.get_all_handlers())\n"
        "assert len(handlers) >= 4, handlers\n"
    )
    env = {"PYTHONPATH": str(ROOT / "operator")}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=env)
