"""The leader election's rules and loop, on a simulated clock and an in-memory Lease with
resourceVersions (the same election on the real apiserver: tests/e2e/test_leader_live.py)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pico_tls import leader
from pico_tls.election import Elector
from pico_tls.kube import Fenced, KubeError
from pico_tls.leader import (
    ElectionConfig,
    Leadership,
    LeaseRecord,
    LeaseTimings,
    Move,
    lease_body,
    next_move,
)

TIMINGS = LeaseTimings(duration=15, renew_deadline=10, retry_period=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LeaseStore:
    """The Lease as the API keeps it: create refuses an existing one, update a stale one."""

    def __init__(self) -> None:
        self.body: dict[str, Any] | None = None
        self.version = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise KubeError("GET", "lease", 503, "Service Unavailable")

    def get(self, kind: Any, namespace: str, name: str) -> dict[str, Any] | None:
        self._check()
        return copy.deepcopy(self.body)

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        self._check()
        if self.body is not None:
            raise KubeError("POST", "lease", 409, "Conflict", "exists", "AlreadyExists")
        return self._store(manifest)

    def replace(self, manifest: Mapping[str, Any], resource_version: str) -> dict[str, Any]:
        self._check()
        assert self.body is not None
        if resource_version != self.body["metadata"]["resourceVersion"]:
            raise KubeError("PUT", "lease", 409, "Conflict", "changed", "Conflict")
        return self._store(manifest)

    def _store(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.body = copy.deepcopy(dict(manifest))
        self.body["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.body)


def replica(store: LeaseStore, clock: Clock, name: str) -> Elector:
    config = ElectionConfig(True, name, "pico-tls-system", timings=TIMINGS)
    ship = Leadership(name, "pico-tls-system/pico-tls-operator", clock=clock)
    return Elector(store, config, ship, busy=lambda: False, clock=clock)  # type: ignore[arg-type]


def step(elector: Elector) -> None:
    asyncio.run(elector.step())


def record(holder: str, transitions: int = 0) -> LeaseRecord:
    return LeaseRecord(holder, 15, "2026-01-01T00:00:00.000000Z", transitions, "7")


def test_timings_must_leave_the_leader_time_to_stop_before_a_take_over() -> None:
    with pytest.raises(ValueError, match="renew deadline < lease duration"):
        LeaseTimings(duration=10, renew_deadline=10, retry_period=2)
    with pytest.raises(ValueError, match="retry period < renew deadline"):
        LeaseTimings(duration=15, renew_deadline=2, retry_period=2)


@pytest.mark.parametrize(
    ("holder", "now", "stopping", "move"),
    [
        ("a", 0, False, Move.RENEW),  # ours: extend it
        ("", 0, False, Move.TAKE),  # free (released)
        ("b", 14.9, False, Move.WAIT),  # b's claim runs until 15
        ("b", 15, False, Move.TAKE),  # lapsed
        ("", 0, True, Move.WAIT),  # passes of our lost term still run: claim nothing
        ("a", 0, True, Move.WAIT),
    ],
)
def test_next_move(holder: str, now: float, stopping: bool, move: Move) -> None:
    assert next_move(record(holder), "a", 15, now, stopping) is move


def test_renewal_keeps_the_acquire_time_and_a_take_over_counts_a_transition() -> None:
    config = ElectionConfig(True, "a", "ns", timings=TIMINGS)
    now = datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=UTC)
    renewed = lease_body(config, record("a", 3), Move.RENEW, now)["spec"]
    taken = lease_body(config, record("b", 3), Move.TAKE, now)["spec"]
    new = lease_body(config, None, Move.TAKE, now)["spec"]
    assert renewed["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert renewed["leaseTransitions"] == 3
    assert taken["acquireTime"] == taken["renewTime"] == "2026-02-03T04:05:06.000789Z"
    assert (taken["leaseTransitions"], new["leaseTransitions"]) == (4, 0)
    assert renewed["holderIdentity"] == taken["holderIdentity"] == "a"
    assert renewed["leaseDurationSeconds"] == 15


def test_the_fence_closes_renew_deadline_after_the_renewal_was_sent() -> None:
    clock = Clock()
    ship = Leadership("a", "ns/lease", clock=clock)
    with pytest.raises(Fenced, match="does not hold the Lease"):
        ship.check()
    ship.renewed(sent_at=clock.now, renew_deadline=10)
    clock.now += 9.99
    ship.check()
    assert ship.status() == leader.LeaderStatus("a", True, "a", "ns/lease")
    clock.now += 0.01
    assert not ship.leading()
    ship.renewed(sent_at=clock.now, renew_deadline=10)
    ship.seen("b")  # someone else holds it: our term is over at once
    assert not ship.leading() and ship.status().holder == "b"


def test_without_election_the_only_replica_always_leads() -> None:
    ship = Leadership("solo")
    ship.check()
    leader.install(ship)
    assert leader.is_leader() and leader.status() == leader.LeaderStatus("solo", True, "solo", "")


@given(
    renew_sent=st.floats(0, 1000),
    write_delay=st.floats(0, 5),
    observe_delay=st.floats(0, 5),
)
def test_a_leader_stops_writing_before_a_standby_may_take_over(
    renew_sent: float, write_delay: float, observe_delay: float
) -> None:
    """The renewal is sent, lands `write_delay` later, is seen by the standby `observe_delay`
    after that: the leader's fence ends strictly before the standby's claim can start."""
    ship = Leadership("a", "ns/lease", clock=lambda: 0.0)
    ship.renewed(renew_sent, TIMINGS.renew_deadline)
    seen_at = renew_sent + write_delay + observe_delay
    take_at = seen_at + TIMINGS.duration
    assert next_move(record("a"), "b", take_at, take_at - 1e-3, False) is Move.WAIT
    assert ship._until < take_at
    assert next_move(record("a"), "b", take_at, take_at, False) is Move.TAKE


def test_two_replicas_one_leader_and_a_take_over_after_the_leader_dies() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    step(a)
    step(b)
    assert a.leadership.leading() and not b.leadership.leading()
    assert b.leadership.status().holder == "a"
    for _ in range(20):  # a renews every retry period; b never gets it
        clock.now += TIMINGS.retry_period
        step(a)
        step(b)
        assert a.leadership.leading() and not b.leadership.leading()
    died_at = clock.now  # a stops (SIGKILL): no more renewals
    while not b.leadership.leading():
        clock.now += 0.5
        assert not (a.leadership.leading() and b.leadership.leading())
        step(b)
    assert clock.now - died_at >= TIMINGS.duration
    assert not a.leadership.leading()
    assert store.body is not None and store.body["spec"]["holderIdentity"] == "b"
    assert store.body["spec"]["leaseTransitions"] == 1


def test_a_leader_that_cannot_renew_stops_writing_and_stands_by_after_its_passes() -> None:
    store, clock = LeaseStore(), Clock()
    running = [True]
    a = replica(store, clock, "a")
    a.busy = lambda: running[0]
    step(a)
    assert a.leadership.leading()
    store.down = True  # the API does not answer
    for _ in range(5):
        clock.now += TIMINGS.retry_period
        step(a)
    assert not a.leadership.leading()  # the fence closed after the renew deadline
    assert a.healthy()
    store.down = False
    clock.now += TIMINGS.retry_period
    step(a)  # still stopping (a pass of the old term runs): it claims nothing
    assert not a.leadership.leading() and store.body["spec"]["holderIdentity"] == "a"  # type: ignore[index]
    clock.now += TIMINGS.duration
    assert not a.healthy()  # stuck past a lease duration: the liveness probe fails
    running[0] = False
    step(a)
    assert a.healthy()
    step(a)  # back on standby: its own Lease, renewed again
    assert a.leadership.leading()


def test_release_hands_the_lease_to_a_standby_at_once() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    step(a)
    step(b)
    asyncio.run(a.release())
    assert not a.leadership.leading()
    assert store.body is not None and store.body["spec"]["holderIdentity"] == ""
    clock.now += TIMINGS.retry_period
    step(b)
    assert b.leadership.leading()


class CountingStore(LeaseStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, kind: Any, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads += 1
        return super().get(kind, namespace, name)


def test_the_leader_renews_without_reading_and_reads_again_after_a_refusal() -> None:
    store, clock = CountingStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    step(a)  # reads, finds none, creates it
    for _ in range(5):
        clock.now += 2
        step(a)
    assert store.reads == 1 and a.leadership.leading()
    assert store.body is not None and store.version == 6
    store.body["metadata"]["resourceVersion"] = "edited"  # someone else wrote it
    clock.now += 2
    step(a)  # its renewal is refused (409): the fence stays up until renew_deadline
    clock.now += 2
    step(a)
    assert store.reads == 2 and a.leadership.leading()
    step(b)
    assert not b.leadership.leading()  # a standby reads every time
    assert store.reads == 3
