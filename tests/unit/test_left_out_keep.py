"""Members left out keep what they have: under Pinned trust a member whose write the API
refuses, or whose spec became invalid, stays pinned by the Platform while it runs (the real
read -> decide -> apply loop over the in-memory API)."""

from __future__ import annotations

from typing import Any

from pico_harness.support.world import World, WorldKube, custom
from pico_tls.keystore import StoreOptions, decode_keystore, detect_format
from pico_tls.kube import KubeError
from pico_tls.reconcile.group import GroupReconciler

EC = {"key": {"algorithm": "ECDSA"}}
PINNED = {**EC, "trust": {"mode": "Pinned"}}
REFUSED = KubeError("PATCH", "/apis/apps/v1/namespaces/ns/deployments/ec1", 422, "Invalid", "no")


def pins(world: World) -> set[str]:
    data = world.secret_data("mz-rcp-tls")
    blob = data.get("keystore.p12") or data["keystore.jks"]
    options = StoreOptions(
        detect_format(blob), data["keystore.password"].decode(), data["key.password"].decode()
    )
    return {alias for alias, _ in decode_keystore(blob, options).trusted}


def settled() -> tuple[World, WorldKube, GroupReconciler]:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": PINNED}))
    for name in ("ec1", "ec2"):
        world.add(custom("ExecutionContainer", name, {"platformRef": {"name": "mz"}, "image": "i"}))
    spec = {"platformRef": {"name": "mz"}, "user": "alice", **EC}
    world.add(custom("DesktopClient", "alice", spec))
    kube = WorldKube(world)
    reconciler = GroupReconciler(kube, clock=lambda: world.now)  # type: ignore[arg-type]
    passes(world, reconciler)
    assert {"ec-ec1", "ec-ec2", "desktop-alice"} <= pins(world)
    return world, kube, reconciler


def passes(world: World, reconciler: GroupReconciler, count: int = 6) -> None:
    for _ in range(count):
        reconciler.reconcile("ns", "mz")
        world.roll_out()


def touch(world: World, kind: str, name: str, **spec: Any) -> None:
    body = world.get(kind, name)
    body["spec"].update(spec)
    body["metadata"]["generation"] += 1


def test_a_member_whose_write_is_refused_stays_pinned_while_it_runs() -> None:
    world, kube, reconciler = settled()
    kube.refusals["Deployment", "ec1"] = REFUSED
    touch(world, "ExecutionContainer", "ec1", replicas=2)  # its Deployment must be written
    spec = {"platformRef": {"name": "mz"}, "image": "i"}
    world.add(custom("ExecutionContainer", "ec3", spec))  # and the platform's store changes
    passes(world, reconciler)
    assert [m["name"] for m in world.status("Platform", "mz")["excludedMembers"]] == ["ec1"]
    assert {"ec-ec1", "ec-ec2", "ec-ec3"} <= pins(world)


def test_a_desktop_whose_spec_became_invalid_stays_pinned() -> None:
    world, _, reconciler = settled()
    touch(world, "DesktopClient", "alice", duration="1s")  # refused by the parser
    passes(world, reconciler)
    ready = world.condition("DesktopClient", "alice", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "desktop-alice" in pins(world)
