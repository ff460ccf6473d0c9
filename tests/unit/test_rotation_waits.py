"""A CA rotation waits for a member left out while its pods run (its store never got the new
CA), and says why (Warning, Progressing); it goes on once the member is written again (the
real read -> decide -> apply loop over the in-memory API)."""

from __future__ import annotations

from pico_harness.support.world import World, WorldKube, custom
from pico_tls.builders import names
from pico_tls.kube import KubeError
from pico_tls.reconcile.group import GroupReconciler

EC = {"key": {"algorithm": "ECDSA"}}
REFUSED = KubeError("PATCH", "/api/v1/namespaces/ns/secrets/ec2-rcp-tls", 422, "Invalid", "no")


def test_a_rotation_waits_in_trust_both_for_a_left_out_member_and_says_why() -> None:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    for name in ("ec1", "ec2"):
        world.add(custom("ExecutionContainer", name, {"platformRef": {"name": "mz"}, "image": "i"}))
    kube = WorldKube(world)
    reconciler = GroupReconciler(kube, clock=lambda: world.now)  # type: ignore[arg-type]
    for _ in range(5):
        reconciler.reconcile("ns", "mz")
        world.roll_out()
    kube.refusals["Secret", "ec2-rcp-tls"] = REFUSED
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    for _ in range(6):
        reconciler.reconcile("ns", "mz")
        world.roll_out()
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "TrustBoth"
    progressing = world.condition("Platform", "mz", "Progressing")
    assert progressing["reason"] == "CARotationWaiting" and "ec2" in progressing["message"]
    waits = [e for e in world.events if e.reason == "CARotationWaiting"]
    assert len(waits) == 1 and waits[0].type == "Warning"
    del kube.refusals["Secret", "ec2-rcp-tls"]
    world.advance(minutes=1)  # past the member's retry time
    for _ in range(8):
        reconciler.reconcile("ns", "mz")
        world.roll_out()
    assert not world.status("Platform", "mz").get("caRotation")
    assert len(world.secret_data("ec2-rcp-tls")["ca.crt"].split(b"BEGIN")) == 2  # new CA only


def test_while_it_waits_it_looks_again_at_the_members_retry_not_every_2_s() -> None:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    for name in ("ec1", "ec2"):
        world.add(custom("ExecutionContainer", name, {"platformRef": {"name": "mz"}, "image": "i"}))
    kube = WorldKube(world)
    reconciler = GroupReconciler(kube, clock=lambda: world.now)  # type: ignore[arg-type]
    for _ in range(5):
        reconciler.reconcile("ns", "mz")
        world.roll_out()
    kube.refusals["Secret", "ec2-rcp-tls"] = REFUSED
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    for _ in range(3):
        outcome = reconciler.reconcile("ns", "mz")
        world.roll_out()
    assert outcome.requeue_after is not None and outcome.requeue_after > 10
