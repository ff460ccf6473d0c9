"""Names never collide silently: an object the operator would write that another resource of
the namespace owns (or an older resource would write too) is refused on the newcomer before
anything is written, with a message naming both (snapshots, no cluster)."""

from __future__ import annotations

from typing import Any

import pytest

from pico_harness.support.world import World, custom
from pico_tls.reconcile.clashes import writes_of

EC = {"key": {"algorithm": "ECDSA"}}


def container(name: str, platform: str = "mz") -> dict[str, Any]:
    return custom("ExecutionContainer", name, {"platformRef": {"name": platform}, "image": "i"})


def platform(name: str) -> dict[str, Any]:
    return custom("Platform", name, {"image": "img", "tls": dict(EC)})


def settled_group() -> World:
    world = World()
    world.add(platform("mz"))
    world.add(container("ec1"))
    spec = {"platformRef": {"name": "mz"}, "user": "alice", **EC}
    world.add(custom("DesktopClient", "alice", spec))
    world.settle()
    return world


def reconcile_group(world: World, name: str) -> None:
    """A pass of another platform group of the same namespace."""
    mine, world.platform = world.platform, name
    try:
        world.reconcile()
        world.roll_out()
    finally:
        world.platform = mine


def owner(world: World, kind: str, name: str) -> str:
    return str(world.get(kind, name)["metadata"]["ownerReferences"][0]["name"])


def ready(world: World, kind: str, name: str) -> dict[str, Any]:
    return world.condition(kind, name, "Ready")


def test_a_platform_named_like_an_older_container_never_takes_its_key() -> None:
    world = settled_group()
    key = world.secret_data("ec1-rcp-tls-state")["tls.key"]
    world.add(platform("ec1"))
    for _ in range(3):
        reconcile_group(world, "ec1")
    assert world.secret_data("ec1-rcp-tls-state")["tls.key"] == key
    assert owner(world, "Secret", "ec1-rcp-tls-state") == "ec1"
    assert world.get("Secret", "ec1-rcp-tls-state")["metadata"]["ownerReferences"][0]["kind"] == (
        "ExecutionContainer"
    )
    assert world.find("StatefulSet", "ec1") is None and world.find("Secret", "ec1-ca") is None
    cond = ready(world, "Platform", "ec1")
    assert (cond["status"], cond["reason"]) == ("False", "NameClash")
    assert "Platform ec1" in cond["message"] and "ExecutionContainer ec1" in cond["message"]
    warnings = [e for e in world.events if e.reason == "NameClash"]
    assert len(warnings) == 1  # one Event per new message, not per pass
    world.settle()  # the container's own group is untouched
    assert ready(world, "ExecutionContainer", "ec1")["status"] == "True"


def test_a_container_named_like_an_older_platform_of_another_group_is_refused() -> None:
    world = settled_group()
    world.add(platform("other"))
    reconcile_group(world, "other")
    world.roll_out()
    reconcile_group(world, "other")
    state_key = world.secret_data("other-rcp-tls-state")["tls.key"]
    world.add(container("other"))  # of platform mz
    world.settle()
    assert world.secret_data("other-rcp-tls-state")["tls.key"] == state_key
    assert owner(world, "ConfigMap", "other-rcp-tls") == "other"
    assert world.get("ConfigMap", "other-rcp-tls")["metadata"]["ownerReferences"][0]["kind"] == (
        "Platform"
    )
    assert world.find("Deployment", "other") is None
    cond = ready(world, "ExecutionContainer", "other")
    assert cond["reason"] == "NameClash" and "Platform other" in cond["message"]
    excluded = world.status("Platform", "mz")["excludedMembers"]
    assert [(e["name"], e["reason"]) for e in excluded] == [("other", "NameClash")]


def test_the_newcomer_is_refused_even_when_it_is_reconciled_first() -> None:
    """Created together: the older resource wins, whichever group runs first."""
    world = World()
    world.add(platform("mz"))
    world.add(platform("x"))  # older than the container
    world.add(container("x"))
    world.settle()  # mz's group first: its container x must not write x-rcp-tls
    assert world.find("Secret", "x-rcp-tls-state") is None
    reconcile_group(world, "x")
    assert owner(world, "Secret", "x-rcp-tls-state") == "x"
    assert world.get("Secret", "x-rcp-tls-state")["metadata"]["ownerReferences"][0]["kind"] == (
        "Platform"
    )
    assert ready(world, "ExecutionContainer", "x")["reason"] == "NameClash"


def test_a_secret_the_user_made_is_never_overwritten_by_a_desktop() -> None:
    world = settled_group()
    mine = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bob-desktop-key"}}
    world.add({**mine, "data": {"x": "dXNlcg=="}})
    spec = {"platformRef": {"name": "mz"}, "user": "bob", **EC}
    world.add(custom("DesktopClient", "bob", spec))
    world.settle()
    assert world.get("Secret", "bob-desktop-key")["data"] == {"x": "dXNlcg=="}
    assert world.find("Secret", "bob-desktop-key-state") is None
    cond = ready(world, "DesktopClient", "bob")
    assert cond["reason"] == "NameClash"
    assert (
        "Secret bob-desktop-key, which exists and was not made by the operator" in (cond["message"])
    )
    assert ready(world, "DesktopClient", "alice")["status"] == "True"


def test_a_platform_whose_statefulset_name_is_taken_writes_nothing() -> None:
    world = World()
    taken = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": "mz",
            "ownerReferences": [
                {"kind": "Database", "name": "mz", "uid": "db", "controller": True}
            ],
        },
        "spec": {"replicas": 3},
    }
    world.add(taken)
    world.add(platform("mz"))
    world.add(container("ec1"))
    decision = world.reconcile()
    assert decision.writes == []
    assert world.get("StatefulSet", "mz")["spec"] == {"replicas": 3}
    message = ready(world, "Platform", "mz")["message"]
    assert "StatefulSet mz, which belongs to Database mz" in message


def test_platform_y_headless_beside_platform_y() -> None:
    world = World(platform="y")
    world.add(platform("y"))
    world.add(platform("y-headless"))
    world.settle()
    reconcile_group(world, "y-headless")
    assert owner(world, "Service", "y-headless") == "y"
    cond = ready(world, "Platform", "y-headless")
    assert cond["status"] == "False" and "Platform y" in cond["message"]


def test_a_recreated_resource_adopts_what_it_made_before() -> None:
    world = settled_group()
    key = world.secret_data("ec1-rcp-tls-state")["tls.key"]
    world.delete("ExecutionContainer", "ec1")  # garbage collection has not run yet
    world.add({**container("ec1"), "metadata": {**container("ec1")["metadata"], "uid": "new"}})
    world.settle()
    assert ready(world, "ExecutionContainer", "ec1")["status"] == "True"
    assert world.secret_data("ec1-rcp-tls-state")["tls.key"] == key


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (container("e"), {"e-rcp-tls", "e-rcp-tls-state", "e"}),
        (platform("p"), {"p-rcp-tls", "p-rcp-tls-state", "p-ca", "p", "p-headless"}),
        (
            custom("Platform", "p", {"tls": {"trust": {"caSecretRef": {"name": "mine"}}}}),
            {"p-rcp-tls", "p-rcp-tls-state", "p", "p-headless"},
        ),
    ],
)
def test_writes_of(body: dict[str, Any], expected: set[str]) -> None:
    assert {name for _, name in writes_of(body)} == expected
