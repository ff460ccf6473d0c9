"""Status GitOps tools read: kstatus's result (tests/support/kstatus.py, its rules ported) for
the Platform pass by pass on the in-memory API: InProgress during a CA rotation and a
client-auth rollout, between phases too; Current once settled; Failed when the user must fix
the spec."""

from __future__ import annotations

from typing import Any

import pytest

from pico_harness.support import kstatus
from pico_harness.support.world import World, settled_group
from pico_tls.builders import names
from pico_tls.reconcile.decision import Decision, StatusPatch


def conditions(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"conditions": [{"type": t, "status": s} for t, s in pairs]}


@pytest.mark.parametrize(
    ("meta", "status", "expected"),
    [
        ({"generation": 2}, {"observedGeneration": 1}, "InProgress"),
        ({"generation": 1, "deletionTimestamp": "x"}, {}, "Terminating"),
        ({"generation": 1}, conditions(("Ready", "True"), ("Reconciling", "True")), "InProgress"),
        ({"generation": 1}, conditions(("Ready", "False"), ("Stalled", "True")), "Failed"),
        ({"generation": 1}, conditions(("Ready", "True")), "Current"),
        ({"generation": 1}, conditions(("Ready", "Unknown")), "InProgress"),
        ({"generation": 1}, {}, "Current"),
    ],
)
def test_the_ported_rules(meta: dict[str, Any], status: dict[str, Any], expected: str) -> None:
    assert kstatus.compute({"metadata": meta, "status": status}) == expected


def passes_until_settled(world: World, busy: Any, limit: int = 12) -> list[tuple[bool, str]]:
    """(in progress by the operator's own record, kstatus) after every status patch of the
    Platform, applied one action at a time as the API server sees them."""
    samples = []
    for _ in range(limit):
        decision = world.decide()
        for action in decision.actions:
            world.apply(Decision([action]))
            if isinstance(action, StatusPatch) and action.kind == "Platform":
                body = world.get("Platform", "mz")
                samples.append((busy(body["status"]), kstatus.compute(body)))
        world.roll_out()
        if not decision.actions:
            break
    return samples


def test_a_ca_rotation_reads_in_progress_until_done_never_current_between_phases() -> None:
    world = settled_group()
    assert kstatus.compute(world.get("Platform", "mz")) == "Current"
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    samples = passes_until_settled(world, lambda st: st.get("caRotation") is not None)
    during = [k for busy, k in samples if busy]
    assert len(during) >= 4 and set(during) == {"InProgress"}, samples
    assert samples[-1] == (False, "Current")


def test_a_client_auth_rollout_reads_in_progress_until_enforced() -> None:
    world = settled_group()
    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = True
    world.get("Platform", "mz")["metadata"]["generation"] = 2
    samples = passes_until_settled(
        world, lambda st: st["clientAuth"]["phase"] not in ("Enforced", "Disabled")
    )
    during = [k for busy, k in samples if busy]
    assert during and set(during) == {"InProgress"}, samples
    assert samples[-1] == (False, "Current")
    assert world.status("Platform", "mz")["observedGeneration"] == 2


def test_switching_client_auth_off_reads_in_progress_from_the_flag_flip_on() -> None:
    world = settled_group()
    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = True
    world.settle()
    assert world.status("Platform", "mz")["clientAuth"]["phase"] == "Enforced"
    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = False
    world.get("Platform", "mz")["metadata"]["generation"] = 3
    samples = passes_until_settled(world, lambda st: st["clientAuth"]["phase"] == "Relaxing")
    during = [k for busy, k in samples if busy]
    assert during and set(during) == {"InProgress"}, samples
    assert samples[-1] == (False, "Current")


def test_an_invalid_spec_reads_failed_and_names_the_problem() -> None:
    world = settled_group()
    world.get("Platform", "mz")["spec"]["tls"]["duration"] = "1h"
    world.get("Platform", "mz")["metadata"]["generation"] = 2
    world.reconcile()
    body = world.get("Platform", "mz")
    assert kstatus.compute(body) == "Failed"
    stalled = world.condition("Platform", "mz", "Stalled")
    assert stalled["status"] == "True" and stalled["observedGeneration"] == 2
    assert stalled["message"] == world.condition("Platform", "mz", "Ready")["message"]
    assert world.condition("Platform", "mz", "Reconciling")["status"] == "False"
