"""Desktops through a CA rotation: with tls.desktopReimportPeriod, TrustBoth lasts at least
that long from its start when the group has desktops, so a user who imported the store that
trusts both CAs when told (ReimportKey) is never refused (decide on the in-memory API)."""

from __future__ import annotations

from pico_harness.support.world import World, custom
from pico_tls.builders import names

EC = {"key": {"algorithm": "ECDSA"}}


def group(period: str, desktops: bool = True) -> World:
    world = World()
    tls = {**EC, "desktopReimportPeriod": period}
    world.add(custom("Platform", "mz", {"image": "img", "tls": tls}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    if desktops:
        spec = {"platformRef": {"name": "mz"}, "user": "alice", **EC}
        world.add(custom("DesktopClient", "alice", spec))
    world.settle()
    return world


def rotate(world: World, passes: int = 6) -> None:
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    for _ in range(passes):
        world.reconcile()
        world.roll_out()


def phase(world: World) -> str | None:
    return (world.status("Platform", "mz").get("caRotation") or {}).get("phase")


def test_trust_both_holds_for_the_reimport_period_then_goes_on() -> None:
    world = group("24h")
    rotate(world)
    assert phase(world) == "TrustBoth"
    progressing = world.condition("Platform", "mz", "Progressing")
    assert progressing["reason"] == "CARotationHolding"
    decision = world.reconcile()
    assert decision.requeue_after is not None and decision.requeue_after > 3600
    world.advance(hours=24, minutes=1)
    world.settle()
    assert phase(world) is None
    assert world.secret_data("mz-ca")["tls.crt"] in world.secret_data("mz-rcp-tls")["ca.crt"]


def test_without_desktops_there_is_nothing_to_wait_for() -> None:
    world = group("24h", desktops=False)
    rotate(world, passes=8)
    assert phase(world) is None
