"""examples/attach/: the user's workloads carry the consent label of their Platform, every
workloadRef names one of them and its container, and the additions the operator would apply
are what the example's comments say (the EntrypointEnv preset: TLS_* env and -e arguments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pico_tls.builders import attach, names, properties
from pico_tls.cli import main
from pico_tls.spec import parse_container, parse_platform
from pico_tls.spec_model import ContainerSpec, PlatformSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "attach"
PROPS = properties.rcp_properties(
    keystore_path="/etc/pico/tls/keystore.p12", alias="platform", require_client_auth=True, extra={}
)


def documents() -> list[dict[str, Any]]:
    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            doc["metadata"].setdefault("namespace", "pico-demo")
            out.append(doc)
    return out


def test_every_workload_ref_names_an_offered_workload_of_the_examples() -> None:
    docs = documents()
    workloads = {
        (d["kind"], d["metadata"]["name"]): d for d in docs if d["apiVersion"] == "apps/v1"
    }
    platform = parse_platform(next(d for d in docs if d["kind"] == "Platform"))
    refs = 0
    for doc in docs:
        if doc["kind"] not in ("Platform", "ExecutionContainer"):
            continue
        spec: PlatformSpec | ContainerSpec
        if doc["kind"] == "Platform":
            spec = parse_platform(doc)
            choice = spec.delivery
        else:
            spec = parse_container(doc, platform)
            choice = spec.delivery_under(platform)
        ref = spec.workload_ref
        assert ref is not None
        live = workloads[(ref.kind, ref.name)]
        assert attach.consent(live) == platform.name
        patch = attach.party_patch(live, doc["kind"], spec, choice, platform.tls, PROPS, "h")
        assert patch is not None
        assert set(patch["spec"]) == {"template"}
        refs += 1
    assert refs == 2


def test_the_entrypoint_preset_of_the_platform_example() -> None:
    docs = documents()
    body = next(d for d in docs if d["kind"] == "Platform")
    spec = parse_platform(body)
    live = next(d for d in docs if d["kind"] == "StatefulSet")
    patch = attach.party_patch(live, "Platform", spec, spec.delivery, spec.tls, PROPS, "h")
    assert patch is not None
    (pico,) = patch["spec"]["template"]["spec"]["containers"]
    assert pico["name"] == "platform"
    env = {e["name"] for e in pico["env"]}
    assert {"TLS_ENABLED", "TLS_KEYSTORE", "TLS_KEY_ALIAS", "TLS_KEYSTORE_PASSWORD"} <= env
    assert pico["args"][:2] == ["-e", "pico.rcp.tls.keystore.alias=platform"]
    assert patch["metadata"]["labels"] == {names.PLATFORM_LABEL: "mz-own"}


def test_render_prints_the_additions_to_the_users_workloads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["render", "-f", str(EXAMPLES)]) == 0
    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    patches = {(d["kind"], d["metadata"]["name"]): d for d in docs if d["apiVersion"] == "apps/v1"}
    assert set(patches) == {("StatefulSet", "mz-platform"), ("Deployment", "ec1-workers")}
    assert all(set(p["spec"]) == {"template"} for p in patches.values())
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "mz-own")
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "mz-platform"}
