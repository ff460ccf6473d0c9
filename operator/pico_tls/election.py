"""The leader election loop: every `retry_period`, read the Lease and renew or take it when
the rules of `leader.next_move` say so (conditional writes: the Lease's resourceVersion decides
who wins a race). The leader renews on top of what its last write returned, without reading;
a refusal makes it read again. Logs every change of standing; a replica that lost the Lease
stops dispatching passes and claims nothing until its running passes have ended."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pico_tls.kube import LEASE, Kube, KubeError
from pico_tls.leader import (
    Clock,
    ElectionConfig,
    Leadership,
    LeaseRecord,
    Move,
    lease_body,
    next_move,
    released_body,
)

log = logging.getLogger(__name__)
RELEASE_WAIT = 5.0  # seconds a shutdown waits for running passes before handing the Lease back


def _wall() -> datetime:
    return datetime.now(UTC)


class Elector:
    def __init__(
        self,
        kube: Kube,
        config: ElectionConfig,
        leadership: Leadership,
        *,
        busy: Callable[[], bool],
        on_lead: Callable[[], None] = lambda: None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.kube = kube
        self.config = config
        self.leadership = leadership
        self.busy = busy  # any pass running?
        self.on_lead = on_lead
        self.clock = clock
        self._seen_version = ""
        self._seen_at = 0.0
        self._term = False  # we believed we led at the last settle()
        self._stopping_since: float | None = None
        self._announced = False
        self._closing = False  # shutting down: claim and renew nothing more
        # The Lease as our last write of it left it: while we lead, a renewal writes on top
        # of it without reading first (a 409 means someone else wrote: read it again).
        self._written: dict[str, Any] | None = None

    @property
    def lease(self) -> str:
        return f"{self.config.namespace}/{self.config.lease_name}"

    async def run(self) -> None:
        while True:
            await self.step()
            await asyncio.sleep(self.config.timings.retry_period)

    async def step(self) -> None:
        sent = self.clock()
        try:
            await asyncio.to_thread(self.attempt, sent)
        except Exception as err:  # API down, timeouts: the loop must go on (the fence holds)
            level = logging.WARNING if self.leadership.leading() else logging.DEBUG
            log.log(level, "lease %s: %s", self.lease, err)
        self.settle()

    def attempt(self, sent: float) -> None:
        """One look at the Lease (blocking). `sent`: when this attempt began, the base of
        the fence if it renews (a renewal lands after it was sent, never before)."""
        if self._closing:
            return
        body, self._written = self._written, None
        if body is None or not self.leadership.leading():
            body = self.kube.get(LEASE, self.config.namespace, self.config.lease_name)
        stopping = self._stopping_since is not None
        if body is None:
            if not stopping:
                self._written = self.kube.create(lease_body(self.config, None, Move.TAKE, _wall()))
                self.leadership.renewed(sent, self.config.timings.renew_deadline)
            return
        record = LeaseRecord.from_lease(body)
        now = self.clock()
        if record.version != self._seen_version:
            self._seen_version, self._seen_at = record.version, now
        lapses_at = self._seen_at + (record.duration or self.config.timings.duration)
        move = next_move(record, self.config.identity, lapses_at, now, stopping)
        if move is Move.WAIT:
            self.leadership.seen(record.holder)
            return
        written = lease_body(self.config, record, move, _wall())
        self._written = self.kube.replace(written, record.version)
        self.leadership.renewed(sent, self.config.timings.renew_deadline)

    def settle(self) -> None:
        """Act on a change of standing: log it; on taking the lead, wake the passes; after a
        loss, stand by again once no pass of the old term runs."""
        leading = self.leadership.leading()
        me = self.config.identity
        if leading and not self._term:
            self._term = True
            log.info("%s is the leader now (Lease %s)", me, self.lease)
            self.on_lead()
        elif not leading and self._term:
            self._term = False
            self._stopping_since = self.clock()
            holder = self.leadership.status().holder
            log.warning(
                "%s lost the Lease %s (holder %s): writes stopped", me, self.lease, holder or "-"
            )
        elif not leading and not self._announced:
            holder = self.leadership.status().holder or "-"
            log.info("%s stands by (Lease %s held by %s)", me, self.lease, holder)
        self._announced = True
        if self._stopping_since is not None and not self.busy():
            self._stopping_since = None
            log.info("%s: no pass of its last term runs; standing by", me)

    def healthy(self) -> bool:
        """False when the Lease was lost longer than a lease duration ago and passes of that
        term still run (stuck in a request): the liveness probe fails, kubelet restarts us."""
        since = self._stopping_since
        return since is None or self.clock() - since < self.config.timings.duration

    async def release(self) -> None:
        """On shutdown: stop writing, let running passes end, then hand the Lease back."""
        self._closing = True
        was_leading = self.leadership.leading()
        self.leadership.step_down(final=True)
        if not was_leading:
            return
        deadline = self.clock() + RELEASE_WAIT
        while self.busy() and self.clock() < deadline:
            await asyncio.sleep(0.1)
        if self.busy():
            return  # a pass may still be writing: let the Lease lapse instead
        try:
            await asyncio.to_thread(self._hand_back)
        except (KubeError, OSError) as err:
            log.warning("lease %s not released: %s", self.lease, err)

    def _hand_back(self) -> None:
        body = self.kube.get(LEASE, self.config.namespace, self.config.lease_name)
        if body is None:
            return
        record = LeaseRecord.from_lease(body)
        if record.holder == self.config.identity:
            self.kube.replace(released_body(self.config, record, _wall()), record.version)
            log.info("%s released the Lease %s", self.config.identity, self.lease)
