"""The reconcile-side hostile corpus (pico_harness.support.hostile_reconcile) through the real
read -> decide -> apply loop (GroupReconciler) over an in-memory API: each case is reported on
the resource it names (Ready=False, its reason, an actionable message, one Warning Event over
several passes) and no key Secret that existed is replaced."""

from __future__ import annotations

import contextlib

import pytest

from pico_harness.support.hostile import HOSTILE
from pico_harness.support.hostile_reconcile import RECONCILE_CASES, ReconcileCase
from pico_harness.support.world import World, WorldKube
from pico_tls.kube import KubeError
from pico_tls.reconcile.group import GroupReconciler, WriteRefused


def run_passes(world: World, reconciler: GroupReconciler, group: str, count: int) -> None:
    world.platform = group
    for _ in range(count):
        with contextlib.suppress(WriteRefused):
            reconciler.reconcile(world.namespace, group)
        world.roll_out()


def test_corpus_size() -> None:
    assert len({c.id for c in RECONCILE_CASES}) == len(RECONCILE_CASES) >= 20
    assert len(HOSTILE) + len(RECONCILE_CASES) >= 110


@pytest.mark.parametrize("case", RECONCILE_CASES, ids=[c.id for c in RECONCILE_CASES])
def test_reported_on_the_resource_it_names(case: ReconcileCase) -> None:
    world = World(platform=case.group)
    for obj in case.objects:
        world.add(obj)
    kube = WorldKube(world)
    for (kind, name), refusal in case.refusals.items():
        kube.refusals[kind, name] = KubeError(
            "PATCH", f"/{kind}/{name}", refusal.code, "refused", refusal.message, refusal.api_reason
        )
    reconciler = GroupReconciler(kube, clock=lambda: world.now)  # type: ignore[arg-type]
    for group in case.first:
        run_passes(world, reconciler, group, 3)
    keys_before = {
        name: data
        for (kind, name), obj in world.objects.items()
        if kind == "Secret" and (data := obj.get("data"))
    }
    run_passes(world, reconciler, case.group, 4)
    kind, name = case.target
    ready = world.condition(kind, name, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", case.reason), ready
    assert case.message in ready["message"], ready["message"]
    warnings = [
        e
        for e in world.events
        if e.type == "Warning"
        and e.involved["metadata"]["name"] == name
        and e.involved["kind"] == kind
    ]
    assert len(warnings) == 1, [e.message for e in warnings]
    for secret, data in keys_before.items():  # nothing that existed was replaced
        assert world.get("Secret", secret).get("data") == data, secret
