"""`status.desktopTrust`, pass by pass on the in-memory API: a revocation reads `Revoked`
only once the Platform's pods run without the desktop's pins, so a user can wait for it."""

from __future__ import annotations

from typing import Any

from pico_harness.support.world import World, custom
from pico_tls.reconcile.desktop_trust import desktop_trust

EC = {"key": {"algorithm": "ECDSA"}}


def desktop(name: str) -> dict[str, Any]:
    return custom("DesktopClient", name, {"platformRef": {"name": "mz"}, "user": name, **EC})


def settled_with(*desktops: str) -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    for name in desktops:
        world.add(desktop(name))
    world.settle()
    return world


def trust(world: World) -> dict[str, str]:
    return dict(world.status("Platform", "mz")["desktopTrust"])


def test_a_deleted_desktop_is_revoked_only_once_the_platform_runs_without_it() -> None:
    world = settled_with("alice", "bob")
    assert trust(world) == {"alice": "Trusted", "bob": "Trusted"}
    world.delete_collected("DesktopClient", "bob")
    assert trust(world)["bob"] == "Trusted"  # nothing seen yet: never reads as done
    for _ in range(2):  # the Platform is rolling: its old pod still accepts bob
        world.reconcile()
        assert trust(world) == {"alice": "Trusted", "bob": "RevocationPending"}
        progressing = world.condition("Platform", "mz", "Progressing")
        assert (progressing["status"], progressing["reason"]) == ("True", "RevocationPending")
        assert "bob" in progressing["message"]
        assert world.condition("Platform", "mz", "Ready")["status"] == "False"
    world.roll_out()
    world.reconcile()
    assert trust(world) == {"alice": "Trusted", "bob": "Revoked"}
    assert world.condition("Platform", "mz", "Progressing")["status"] == "False"
    assert world.condition("Platform", "mz", "Ready")["status"] == "True"


def test_a_new_desktop_is_pending_until_the_platform_runs_with_its_pin() -> None:
    world = settled_with("alice")
    world.add(desktop("bob"))
    world.reconcile()
    assert trust(world) == {"alice": "Trusted", "bob": "Pending"}
    world.settle()
    assert trust(world) == {"alice": "Trusted", "bob": "Trusted"}


def test_a_desktop_created_again_after_its_revocation_is_pending_then_trusted() -> None:
    world = settled_with("alice")
    world.delete_collected("DesktopClient", "alice")
    world.settle()
    assert trust(world) == {"alice": "Revoked"}
    world.add(desktop("alice"))
    world.reconcile()
    assert trust(world) == {"alice": "Pending"}
    world.settle()
    assert trust(world) == {"alice": "Trusted"}


def test_the_map_keeps_every_name_it_knew_and_moves_only_forward() -> None:
    previous = {"a": "Trusted", "b": "RevocationPending", "c": "Revoked", "d": "Pending"}
    assert desktop_trust(previous, ["a", "e"], platform_rolled=False) == {
        "a": "Trusted",
        "b": "RevocationPending",
        "c": "Revoked",
        "d": "RevocationPending",  # it may have been trusted by a pod started meanwhile
        "e": "Pending",
    }
    assert desktop_trust(previous, ["a", "e"], platform_rolled=True) == {
        "a": "Trusted",
        "b": "Revoked",
        "c": "Revoked",
        "d": "Revoked",
        "e": "Trusted",
    }
