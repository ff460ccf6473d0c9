"""Who leads: this replica's side of the leader election, and the pure rules of the Lease.

One replica at a time holds the `coordination.k8s.io/v1` Lease and reconciles; the others
watch, stay Ready and write nothing. Fencing: a leader may write until `renew_deadline` after
it *sent* its last successful renewal; a standby may take the Lease only `duration` after it
last saw the Lease change. With `renew_deadline < duration` the old leader has stopped writing
before a standby can take over (clock rates, not clocks, must agree). `election.py` runs the
loop; `status()` says who leads (for logs, health and metrics).
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pico_tls.kube import Fenced

DEFAULT_LEASE = "pico-tls-operator"
DEFAULT_NAMESPACE = "pico-tls-system"
Clock = Callable[[], float]  # monotonic seconds


@dataclass(frozen=True)
class LeaseTimings:
    """Seconds. Defaults: controller-runtime's (15 / 10 / 2), which trust-manager uses."""

    duration: float = 15.0  # a standby waits this long after the Lease last changed
    renew_deadline: float = 10.0  # a leader stops writing this long after its last renewal
    retry_period: float = 2.0  # how often every replica looks at the Lease

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.duration:
            raise ValueError(
                "lease timings need 0 < retry period < renew deadline < lease duration, got "
                f"{self.retry_period} / {self.renew_deadline} / {self.duration}"
            )


@dataclass(frozen=True)
class ElectionConfig:
    enabled: bool
    identity: str  # the pod's name: the Lease's holderIdentity
    namespace: str
    lease_name: str = DEFAULT_LEASE
    timings: LeaseTimings = LeaseTimings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ElectionConfig:
        """`POD_NAME`, `POD_NAMESPACE` (downward API) and `PICO_TLS_LEADER_ELECTION`,
        `PICO_TLS_LEASE_NAME`, `PICO_TLS_LEASE_DURATION`, `_RENEW_DEADLINE`, `_RETRY_PERIOD`."""
        base = LeaseTimings()
        return cls(
            enabled=env.get("PICO_TLS_LEADER_ELECTION", "true").lower() not in ("false", "0"),
            identity=env.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}",
            namespace=env.get("POD_NAMESPACE") or DEFAULT_NAMESPACE,
            lease_name=env.get("PICO_TLS_LEASE_NAME") or DEFAULT_LEASE,
            timings=LeaseTimings(
                float(env.get("PICO_TLS_LEASE_DURATION", base.duration)),
                float(env.get("PICO_TLS_RENEW_DEADLINE", base.renew_deadline)),
                float(env.get("PICO_TLS_RETRY_PERIOD", base.retry_period)),
            ),
        )


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says (its spec), and the version it was read at."""

    holder: str
    duration: float
    acquired: str | None
    transitions: int
    version: str

    @classmethod
    def from_lease(cls, body: Mapping[str, Any]) -> LeaseRecord:
        spec = body.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration=float(spec.get("leaseDurationSeconds") or 0),
            acquired=spec.get("acquireTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
            version=str(body["metadata"].get("resourceVersion", "")),
        )


class Move(Enum):
    RENEW = "renew"  # we hold it: extend it
    TAKE = "take"  # free or lapsed: claim it
    WAIT = "wait"  # someone else holds it, or we are still stopping


def next_move(
    record: LeaseRecord, identity: str, lapses_at: float, now: float, stopping: bool
) -> Move:
    """What to do with the Lease read as `record`; `lapses_at`: when (our monotonic clock)
    its holder's claim runs out, `duration` after we last saw the record change. A replica
    still stopping its passes from an earlier term claims nothing."""
    if stopping:
        return Move.WAIT
    if record.holder == identity:
        return Move.RENEW
    if not record.holder or now >= lapses_at:
        return Move.TAKE
    return Move.WAIT


def micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_body(
    config: ElectionConfig, record: LeaseRecord | None, move: Move, now: datetime
) -> dict[str, Any]:
    """The Lease as written by a renewal or a take-over (`record` None: it does not exist)."""
    stamp = micro_time(now)
    acquired, transitions = stamp, 0  # a new Lease
    if record is not None and move is Move.RENEW:
        acquired, transitions = record.acquired or stamp, record.transitions
    elif record is not None:
        transitions = record.transitions + 1
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": config.lease_name, "namespace": config.namespace},
        "spec": {
            "holderIdentity": config.identity,
            "leaseDurationSeconds": math.ceil(config.timings.duration),
            "acquireTime": acquired,
            "renewTime": stamp,
            "leaseTransitions": transitions,
        },
    }


def released_body(config: ElectionConfig, record: LeaseRecord, now: datetime) -> dict[str, Any]:
    """Our Lease handed back on shutdown: no holder, so a standby takes it at once."""
    body = lease_body(config, record, Move.RENEW, now)
    body["spec"].update(holderIdentity="", leaseDurationSeconds=1)
    return body


@dataclass(frozen=True)
class LeaderStatus:
    identity: str
    leading: bool  # may write now
    holder: str  # who the Lease named when last read ("" unknown or free)
    lease: str  # namespace/name, "" without leader election


class Leadership:
    """This replica's standing, shared by the election loop, the workers' fence (any thread),
    the health endpoints and metrics."""

    def __init__(self, identity: str, lease: str = "", *, clock: Clock = time.monotonic) -> None:
        self.identity = identity
        self.lease = lease
        self.clock = clock
        self._always = not lease  # no election: the only replica, always leading
        self._until = -math.inf  # the fence: writes allowed before this (monotonic)
        self._holder = ""
        self._closed = False  # shut down: never leads again
        self._lock = threading.Lock()

    def leading(self) -> bool:
        return self._always or self.clock() < self._until

    def check(self) -> None:
        """The write fence (`Kube.fence`)."""
        if not self.leading():
            raise Fenced(f"{self.identity} does not hold the Lease {self.lease}: not writing")

    def renewed(self, sent_at: float, renew_deadline: float) -> None:
        with self._lock:
            if self._closed:
                return
            self._until = sent_at + renew_deadline
            self._holder = self.identity

    def seen(self, holder: str) -> None:
        """The Lease names `holder`; if that is someone else, our term is over."""
        with self._lock:
            self._holder = holder
            if holder != self.identity:
                self._until = -math.inf

    def step_down(self, final: bool = False) -> None:
        """Stop writing now; `final`: for good (shutdown), whatever a renewal says later."""
        with self._lock:
            self._until = -math.inf
            self._closed = self._closed or final

    def status(self) -> LeaderStatus:
        leading = self.leading()
        holder = self.identity if self._always else self._holder
        return LeaderStatus(self.identity, leading, holder, self.lease)


_current: Leadership | None = None


def install(leadership: Leadership) -> None:
    """Make `leadership` the one `status()` reports (at operator startup)."""
    global _current
    _current = leadership


def status() -> LeaderStatus | None:
    """Who leads, as this replica knows it; None before the operator started."""
    return _current.status() if _current is not None else None


def is_leader() -> bool:
    """True while this replica holds the Lease (or runs without leader election)."""
    return _current is not None and _current.leading()
