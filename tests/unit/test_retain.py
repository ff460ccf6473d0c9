"""`spec.tls.retainOnDelete`: deleting a Platform keeps its CA Secret and key state Secret
(no owner reference, so garbage collection leaves them), and a Platform recreated with the
same name adopts them: same CA, same key (snapshots, no cluster)."""

from __future__ import annotations

from typing import Any

from pico_harness.support.world import World, custom

EC = {"key": {"algorithm": "ECDSA"}}
KEPT = ("mz-ca", "mz-rcp-tls-state")


def platform(uid: str, **tls: Any) -> dict[str, Any]:
    body = custom("Platform", "mz", {"image": "img", "tls": {**EC, **tls}})
    body["metadata"]["uid"] = uid
    return body


def group(**tls: Any) -> World:
    world = World()
    world.add(platform("first", **tls))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.settle()
    return world


def material(world: World) -> tuple[bytes, bytes]:
    return world.secret_data("mz-ca")["tls.crt"], world.secret_data("mz-rcp-tls-state")["tls.key"]


def test_a_retained_platform_recreated_keeps_its_ca_and_key() -> None:
    world = group(retainOnDelete=True)
    before = material(world)
    for name in KEPT:
        assert not world.get("Secret", name)["metadata"].get("ownerReferences")
    world.delete_collected("Platform", "mz")
    assert world.find("Secret", "mz-rcp-tls") is None  # the rest goes
    assert all(world.find("Secret", name) for name in KEPT)
    world.events.clear()
    world.add(platform("second", retainOnDelete=True))
    world.settle()
    assert material(world) == before
    reasons = {e.reason for e in world.events}
    assert "CACreated" not in reasons and "KeyLost" not in reasons
    assert world.condition("Platform", "mz", "Ready")["status"] == "True"


def test_without_retain_a_recreated_platform_gets_a_new_ca() -> None:
    world = group()
    before = material(world)
    world.delete_collected("Platform", "mz")
    assert not any(world.find("Secret", name) for name in KEPT)
    world.add(platform("second"))
    world.settle()
    assert material(world)[0] != before[0]


def test_switching_retain_on_orphans_the_same_secrets_and_off_owns_them_again() -> None:
    world = group()
    before = {n: world.get("Secret", n)["data"] for n in KEPT}
    body = world.get("Platform", "mz")
    body["spec"]["tls"]["retainOnDelete"] = True
    body["metadata"]["generation"] = 2
    world.settle()
    for name in KEPT:
        secret = world.get("Secret", name)
        assert not secret["metadata"].get("ownerReferences")
        assert secret["data"] == before[name]
    body = world.get("Platform", "mz")
    body["spec"]["tls"]["retainOnDelete"] = False
    body["metadata"]["generation"] = 3
    world.settle()
    for name in KEPT:
        assert world.get("Secret", name)["metadata"]["ownerReferences"][0]["uid"] == "first"
        assert world.get("Secret", name)["data"] == before[name]
