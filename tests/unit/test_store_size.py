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


# -- every Secret and ConfigMap, not only the Platform's keystore -------------------------


def with_big_properties(monkeypatch: pytest.MonkeyPatch, ec2_bytes: int) -> World:
    """ec1 and ec2; ec2's properties make its ConfigMap about `ec2_bytes` large; the limit
    scaled down to 64 KiB (Warning from 48 KiB)."""
    monkeypatch.setattr(sizes, "SECRET_LIMIT", 64 * 1024)
    monkeypatch.setattr(sizes, "WARN_AT", 48 * 1024)
    monkeypatch.setattr(sizes, "MARGIN", 0)
    world = world_with(1)
    for name in ("ec1", "ec2"):
        spec: dict[str, object] = {"platformRef": {"name": "mz"}, "image": "i"}
        if name == "ec2":
            spec["properties"] = {f"pico.x{i}": "v" * 1000 for i in range(ec2_bytes // 1012)}
        world.add(custom("ExecutionContainer", name, spec))
    return world


def test_a_container_whose_configmap_would_pass_the_limit_is_left_out_the_rest_converges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = with_big_properties(monkeypatch, 80 * 1024)
    world.settle()
    assert world.find("ConfigMap", "ec2-rcp-tls") is None  # never sent to the API
    ready = world.condition("ExecutionContainer", "ec2", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "WriteFailed")
    assert "would refuse ConfigMap ec2-rcp-tls" in ready["message"], ready
    assert "over the API's 64 KiB limit" in ready["message"], ready
    assert world.condition("ExecutionContainer", "ec1", "Ready")["status"] == "True"
    assert world.condition("Platform", "mz", "MembersReady")["status"] == "False"
    assert world.find("Deployment", "ec1") is not None


def test_a_configmap_near_the_limit_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    world = with_big_properties(monkeypatch, 56 * 1024)
    world.settle()
    assert world.find("ConfigMap", "ec2-rcp-tls") is not None
    store = world.condition("Platform", "mz", "KeystoreReady")
    assert store["reason"] == "StoreNearLimit"
    assert store["message"].startswith("ConfigMap ec2-rcp-tls holds over"), store
    assert [e.reason for e in world.events if e.type == "Warning"] == ["StoreNearLimit"]


def test_a_platform_object_past_the_limit_stops_the_group_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sizes, "SECRET_LIMIT", 16 * 1024)
    monkeypatch.setattr(sizes, "MARGIN", 0)
    world = World()
    props = {f"pico.x{i}": "v" * 1000 for i in range(24)}
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC, "properties": props}))
    decision = world.reconcile()
    assert decision.writes == []
    ready = world.condition("Platform", "mz", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "WriteFailed")
    assert ready["message"].startswith("the API would refuse ConfigMap mz-rcp-tls"), ready
