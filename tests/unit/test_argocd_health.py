"""The Argo CD health checks (docs/argocd-health/*.lua) run in a real Lua interpreter on the
status the operator writes, pass by pass on the in-memory API: they agree with kstatus
(Healthy = Current, Progressing = InProgress, Degraded = Failed) for every kind and state."""

from __future__ import annotations

from pico_harness.support import kstatus
from pico_harness.support.argocd_lua import health
from pico_harness.support.world import World, custom, settled_group
from pico_tls.builders import names

AGREES = {"Current": "Healthy", "InProgress": "Progressing", "Failed": "Degraded"}


def objects(world: World) -> list[dict]:
    return world.of_kind("Platform", "ExecutionContainer", "DesktopClient")


def test_settled_resources_of_every_kind_are_healthy() -> None:
    world = settled_group()
    found = {o["kind"]: health(o) for o in objects(world)}
    assert {k: s for k, (s, _) in found.items()} == {
        "Platform": "Healthy",
        "ExecutionContainer": "Healthy",
        "DesktopClient": "Healthy",
    }
    assert found["Platform"][1].endswith("(client authentication: Disabled)")


def test_a_ca_rotation_is_progressing_with_its_phase_and_agrees_with_kstatus() -> None:
    world = settled_group()
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    seen = []
    for _ in range(10):
        world.reconcile()
        for obj in objects(world):
            status, message = health(obj)
            assert AGREES[kstatus.compute(obj)] == status, (obj["kind"], status, message)
            if obj["kind"] == "Platform":
                seen.append((status, message))
        world.roll_out()
    assert (
        "Progressing",
        "Every store trusts the new and the old CA (CA rotation: TrustBoth)",
    ) in seen
    assert seen[-1][0] == "Healthy"


def test_an_unobserved_spec_is_progressing() -> None:
    world = settled_group()
    world.get("Platform", "mz")["metadata"]["generation"] = 2
    assert health(world.get("Platform", "mz")) == (
        "Progressing",
        "Waiting for the operator to act on the latest spec",
    )


def test_what_the_user_must_fix_is_degraded_with_the_reason() -> None:
    world = settled_group()
    world.get("Platform", "mz")["spec"]["tls"]["duration"] = "1h"
    world.get("Platform", "mz")["metadata"]["generation"] = 2
    world.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "clash-rcp-tls", "namespace": "ns", "uid": "u-cm"},
            "data": {},
        }
    )
    world.add(custom("ExecutionContainer", "clash", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.reconcile()
    status, message = health(world.get("Platform", "mz"))
    assert status == "Degraded" and "renewBefore" in message, message
    world.get("Platform", "mz")["spec"]["tls"].pop("duration")
    world.get("Platform", "mz")["metadata"]["generation"] = 3
    world.reconcile()
    status, message = health(world.get("ExecutionContainer", "clash"))
    assert status == "Degraded" and "clash-rcp-tls" in message, message
    assert kstatus.compute(world.get("ExecutionContainer", "clash")) == "Failed"
