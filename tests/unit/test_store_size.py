"""No 1 MiB cliff: the Platform's keystore Secret is sized before it is written; near the
limit a Warning, past it the newest desktops are refused while the rest converges (decide on
the in-memory API, with the limit scaled down to a few desktops)."""

from __future__ import annotations

import pytest

from pico_harness.support.world import World, custom
from pico_tls.keystore import StoreOptions, decode_keystore, detect_format
from pico_tls.reconcile import sizes

EC = {"key": {"algorithm": "ECDSA"}}


def pins(world: World) -> set[str]:
    data = world.secret_data("mz-rcp-tls")
    blob = data.get("keystore.p12") or data["keystore.jks"]
    options = StoreOptions(
        detect_format(blob), data["keystore.password"].decode(), data["key.password"].decode()
    )
    return {alias for alias, _ in decode_keystore(blob, options).trusted}


def world_with(desktops: int) -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    for i in range(desktops):
        spec = {"platformRef": {"name": "mz"}, "user": f"user{i}", **EC}
        world.add(custom("DesktopClient", f"d{i}", spec))
    return world


def platform_size(desktops: int) -> int:
    world = world_with(desktops)
    world.settle()
    return sizes.secret_size(world.get("Secret", "mz-rcp-tls"))


def test_past_the_limit_the_newest_desktops_are_refused_the_rest_converge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    two, three = platform_size(2), platform_size(3)
    monkeypatch.setattr(sizes, "MARGIN", 0)
    monkeypatch.setattr(sizes, "SECRET_LIMIT", (two + three) // 2)  # room for two
    monkeypatch.setattr(sizes, "WARN_AT", two // 2)
    monkeypatch.setattr(sizes, "secret_size", lambda m: len(str(m.get("data"))) * 3 // 4)
    world = world_with(3)
    world.settle()
    assert {"desktop-d0", "desktop-d1"} <= pins(world)
    assert "desktop-d2" not in pins(world)
    refused = world.condition("DesktopClient", "d2", "Ready")
    assert (refused["status"], refused["reason"]) == ("False", "StoreFull")
    assert world.condition("DesktopClient", "d0", "Ready")["status"] == "True"
    store = world.condition("Platform", "mz", "KeystoreReady")
    assert store["reason"] == "StoreNearLimit"
    assert [e.reason for e in world.events if e.type == "Warning"].count("StoreNearLimit") == 1
