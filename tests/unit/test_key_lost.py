"""A lost key is never replaced quietly: whenever a key was in use (a status fingerprint, the
party's Secrets, its running workload, the Platform's pin of it) and no Secret holds a
readable one any more, a Warning `KeyLost` and the condition reason `KeyLost` say so, also
when the status that recorded it was wiped too (decide on the in-memory API)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pico_harness.support.world import World, custom

EC = {"key": {"algorithm": "ECDSA"}}


def settled() -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.add(
        custom("DesktopClient", "alice", {"platformRef": {"name": "mz"}, "user": "alice", **EC})
    )
    world.settle()
    return world


def wipe_status(world: World, kind: str, name: str) -> None:
    world.get(kind, name).pop("status", None)


def lose_both(world: World, secret: str) -> None:
    world.delete("Secret", secret)
    world.delete("Secret", f"{secret}-state")


def corrupt_state_key(world: World, secret: str) -> None:
    world.delete("Secret", secret)
    state = world.get("Secret", f"{secret}-state")
    state["data"]["tls.key"] = base64.b64encode(b"garbage").decode()


def lost_events(world: World) -> list[tuple[str, str]]:
    return [(e.type, e.involved["metadata"]["name"]) for e in world.events if e.reason == "KeyLost"]


def keystore_condition(world: World, kind: str, name: str) -> dict[str, Any]:
    return world.condition(kind, name, "KeystoreReady")


CASES = {
    "container, both Secrets gone": ("ExecutionContainer", "ec1", "ec1-rcp-tls", lose_both),
    "container, state key corrupt": (
        "ExecutionContainer",
        "ec1",
        "ec1-rcp-tls",
        corrupt_state_key,
    ),
    "desktop, both Secrets gone": ("DesktopClient", "alice", "alice-desktop-key", lose_both),
    "platform, both Secrets gone": ("Platform", "mz", "mz-rcp-tls", lose_both),
}


@pytest.mark.parametrize(("kind", "name", "secret", "lose"), CASES.values(), ids=list(CASES))
def test_a_key_lost_with_its_status_wiped_too_is_a_warning_and_a_reason(
    kind: str, name: str, secret: str, lose: Any
) -> None:
    world = settled()
    world.events.clear()
    wipe_status(world, kind, name)  # a backup restore: no recorded fingerprint either
    lose(world, secret)
    world.reconcile()
    assert lost_events(world) == [("Warning", name)]
    condition = keystore_condition(world, kind, name)
    assert condition["reason"] == "KeyLost", condition
    world.roll_out()
    world.settle()
    assert lost_events(world) == [("Warning", name)]  # said once
    assert keystore_condition(world, kind, name)["reason"] == "KeyLost"  # until it changes


def test_a_key_recovered_from_the_mounted_secret_is_not_lost() -> None:
    world = settled()
    world.events.clear()
    wipe_status(world, "ExecutionContainer", "ec1")
    world.delete("Secret", "ec1-rcp-tls-state")
    world.settle()
    assert lost_events(world) == []
    assert keystore_condition(world, "ExecutionContainer", "ec1")["reason"] == "KeystoreWritten"


def test_a_new_member_gets_a_key_without_a_warning() -> None:
    world = settled()
    world.events.clear()
    world.add(custom("ExecutionContainer", "ec2", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.settle()
    assert lost_events(world) == []


def test_a_renewal_after_a_lost_key_clears_the_reason() -> None:
    world = settled()
    lose_both(world, "ec1-rcp-tls")
    world.settle()
    assert keystore_condition(world, "ExecutionContainer", "ec1")["reason"] == "KeyLost"
    body = world.get("ExecutionContainer", "ec1")
    body["metadata"]["annotations"] = {"picotls.dev/renew": "1"}
    world.settle()
    assert keystore_condition(world, "ExecutionContainer", "ec1")["reason"] == "KeystoreWritten"
