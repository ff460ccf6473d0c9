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


def two_desktops(period: str = "24h") -> World:
    world = group(period)
    spec = {"platformRef": {"name": "mz"}, "user": "bob", **EC}
    world.add(custom("DesktopClient", "bob", spec))
    world.settle()
    return world


def acknowledge(world: World, desktop: str, value: str) -> None:
    meta = world.get("DesktopClient", desktop)["metadata"]
    meta.setdefault("annotations", {})[names.REIMPORTED] = value


def target(world: World) -> str:
    return str(world.status("Platform", "mz")["caRotation"]["targetFingerprint"])


def test_the_reimport_event_tells_how_to_acknowledge() -> None:
    world = two_desktops()
    rotate(world, passes=1)
    told = [e for e in world.events if e.reason == "ReimportKey"]
    assert sorted(e.involved["metadata"]["name"] for e in told) == ["alice", "bob"]
    for event in told:
        assert f"{names.REIMPORTED}={target(world)}" in event.message


def test_reissue_goes_on_as_soon_as_every_desktop_acknowledged() -> None:
    world = two_desktops()
    rotate(world)
    assert phase(world) == "TrustBoth"
    acknowledge(world, "alice", target(world))
    rotate(world, passes=3)  # one of two acknowledged: still holding, bob named
    assert phase(world) == "TrustBoth"
    progressing = world.condition("Platform", "mz", "Progressing")
    assert progressing["reason"] == "CARotationHolding"
    assert progressing["message"].endswith("not yet: bob"), progressing["message"]
    acknowledge(world, "bob", target(world).replace(":", "").lower())  # either spelling
    world.settle()  # well within the 24h period
    assert phase(world) is None
    assert world.secret_data("mz-ca")["tls.crt"] in world.secret_data("mz-rcp-tls")["ca.crt"]


def test_an_acknowledgement_of_another_rotation_does_not_count() -> None:
    world = two_desktops()
    rotate(world)
    for desktop in ("alice", "bob"):
        acknowledge(world, desktop, "AB:" * 31 + "AB")  # a fingerprint, not this rotation's
    rotate(world, passes=3)
    assert phase(world) == "TrustBoth"
