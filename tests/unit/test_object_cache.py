"""Passes read what the watches delivered (`ObjectCache`), not LISTs: the cache keeps the newest
version of each watched object and nothing its watch would not deliver, a snapshot read from
it equals one read from the API, and the namespace is listed only for names it cannot vouch
for (in-memory API, no cluster)."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from pico_harness.support.world import World, WorldKube, custom, settled_group
from pico_tls.builders import names
from pico_tls.kube import KubeError
from pico_tls.kube.cache import ObjectCache, matches
from pico_tls.kube.kinds import SECRET
from pico_tls.reconcile.group import GroupReconciler
from pico_tls.reconcile.snapshot import Snapshot, read_snapshot

OURS = {names.MANAGED_BY: names.FIELD_MANAGER, names.PLATFORM_LABEL: "mz"}


def secret(name: str, version: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta = {"name": name, "namespace": "ns", "resourceVersion": str(version)}
    return {
        "kind": "Secret",
        "metadata": {**meta, "labels": dict(OURS if labels is None else labels)},
    }


def names_of(bodies: list[Any]) -> list[str]:
    return [b["metadata"]["name"] for b in bodies]


def test_the_newest_version_wins_whatever_order_it_comes_in() -> None:
    cache = ObjectCache()
    cache.put(secret("a", 5))
    cache.put(secret("a", 3))  # a late watch event: older than what is held
    assert cache.get(SECRET, "ns", "a")["metadata"]["resourceVersion"] == "5"  # type: ignore[index]
    cache.drop(secret("a", 7))
    cache.put(secret("a", 6))  # the response to a write that came before the deletion
    assert cache.get(SECRET, "ns", "a") is None
    cache.put(secret("a", 8))  # created again
    assert names_of(cache.list(SECRET, "ns")) == ["a"]


def test_a_deletion_older_than_what_is_held_leaves_it() -> None:
    cache = ObjectCache()
    cache.put(secret("a", 9))
    cache.drop(secret("a", 4))
    assert names_of(cache.list(SECRET, "ns")) == ["a"]


def test_only_what_the_watch_selects_is_kept() -> None:
    cache = ObjectCache()
    cache.put(secret("mine", 1))
    cache.put(secret("theirs", 2, labels={"app": "x"}))
    cache.put(secret("mine", 3, labels={"app": "x"}))  # our label taken off: out of scope
    assert cache.list(SECRET, "ns") == []
    cache.put({"kind": "Event", "metadata": {"name": "e", "namespace": "ns"}})
    assert cache.list(SECRET, "ns") == []


def test_what_a_pass_reads_is_a_copy() -> None:
    cache = ObjectCache()
    cache.put(secret("a", 1))
    cache.list(SECRET, "ns")[0]["metadata"]["labels"].clear()
    assert matches(cache.list(SECRET, "ns")[0], f"{names.PLATFORM_LABEL}=mz")


def test_a_list_corrects_what_a_watch_missed() -> None:
    cache = ObjectCache()
    cache.put(secret("gone", 3))  # deleted while a watch reconnected: no event came
    cache.put(secret("newer", 12))  # written after the LIST was read
    cache.put(secret("other-platform", 4, labels={**OURS, names.PLATFORM_LABEL: "p2"}))
    cache.correct(SECRET, "ns", f"{names.PLATFORM_LABEL}=mz", [secret("kept", 5)], at=10)
    assert names_of(cache.list(SECRET, "ns")) == ["kept", "newer", "other-platform"]


def test_selectors_are_equalities_and_presence() -> None:
    body = secret("a", 1)
    assert matches(body, f"{names.PLATFORM_LABEL}=mz,{names.MANAGED_BY}={names.FIELD_MANAGER}")
    assert matches(body, names.PLATFORM_LABEL)
    assert not matches(body, f"{names.PLATFORM_LABEL}=p2")
    assert not matches(body, "absent")


def watched(world: World) -> ObjectCache:
    """A cache as complete watches leave it."""
    cache = ObjectCache()
    for body in world.objects.values():
        cache.put(copy.deepcopy(body))
    cache.ready = True
    return cache


def without_clash_view(snapshot: Snapshot) -> dict[str, Any]:
    fields = dict(vars(snapshot))
    fields.pop("namespace_objects")
    return fields


def test_a_snapshot_from_the_cache_equals_one_from_the_api_and_lists_nothing() -> None:
    world = settled_group()
    api, kube = read_snapshot(WorldKube(world), "ns", "mz"), WorldKube(world)  # type: ignore[arg-type]
    cached = read_snapshot(kube, "ns", "mz", watched(world), from_cache=True)  # type: ignore[arg-type]
    assert without_clash_view(cached) == without_clash_view(api)
    assert not [c for c in kube.calls if c.startswith("list")]
    for key, body in cached.namespace_objects.items():
        assert body["metadata"]["name"] == api.namespace_objects[key]["metadata"]["name"]


def test_the_namespace_is_listed_only_for_names_the_cache_does_not_hold() -> None:
    world = settled_group()
    cache = watched(world)
    world.add(custom("ExecutionContainer", "ec2", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.add({"kind": "ConfigMap", "metadata": {"name": "ec2-rcp-tls", "namespace": "ns"}})
    cache.put(copy.deepcopy(world.get("ExecutionContainer", "ec2")))
    kube = WorldKube(world)
    found = read_snapshot(kube, "ns", "mz", cache, from_cache=True)  # type: ignore[arg-type]
    lists = sorted(c for c in kube.calls if c.startswith("list"))
    assert lists == [
        "list metadata configmaps",
        "list metadata deployments",
        "list metadata secrets",
    ]
    assert ("ConfigMap", "ec2-rcp-tls") in found.namespace_objects  # the clash is still seen


class ConflictOnce(WorldKube):
    """Answers 409 to the first create, as when someone made the object meanwhile."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.refused = False

    def create(self, manifest: Any) -> dict[str, Any]:
        if not self.refused:
            self.refused = True
            raise KubeError(
                "POST", manifest["metadata"]["name"], 409, "Conflict", "x", "AlreadyExists"
            )
        return super().create(manifest)


def test_passes_read_the_cache_until_a_resync_period_or_a_refused_write() -> None:
    world = settled_group()
    kube, cache = ConflictOnce(world), watched(world)
    reconciler = GroupReconciler(kube, resync_seconds=600, cache=cache)  # type: ignore[arg-type]

    def lists_of_a_pass(**delta: float) -> list[str]:
        world.advance(**delta)
        kube.calls.clear()
        with contextlib.suppress(KubeError, RuntimeError):  # the scheduler backs off
            reconciler.reconcile("ns", "mz", world.now)
        return [c for c in kube.calls if c.startswith("list")]

    api_read = ["list platforms", "list executioncontainers", "list desktopclients"]
    assert lists_of_a_pass() == []
    assert lists_of_a_pass(seconds=599) == []
    assert lists_of_a_pass(seconds=2)[:3] == api_read  # a resync period without a LIST
    assert lists_of_a_pass() == []
    state = world.get("Secret", "ec1-rcp-tls-state")
    world.delete("Secret", "ec1-rcp-tls-state")  # the watch brings the deletion
    cache.drop({**state, "metadata": {**state["metadata"], "resourceVersion": "100000"}})
    # the name it no longer holds: a metadata list
    assert lists_of_a_pass(seconds=1) == ["list metadata secrets"]
    assert kube.refused  # its create was answered 409
    assert lists_of_a_pass()[:3] == api_read  # so the next pass reads the API
    assert world.find("Secret", "ec1-rcp-tls-state") is not None
