"""A debouncing work queue: one reconcile at a time per platform group.

Events only mark a group due (after a short settle delay, so ten ExecutionContainers applied
together cause one platform rollout); workers run the blocking reconcile in threads. The gate
(leader election) holds every pass while closed: a standby keeps its groups due, and runs them
all once it leads (`poke`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, platform name)
Reconcile = Callable[[str, str], float | None]
Check = Callable[[], bool]


def _open() -> bool:
    return True


@dataclass
class Scheduler:
    reconcile: Reconcile
    settle_seconds: float = 1.0
    workers: int = 4
    max_backoff: float = 60.0
    gate: Callable[[], bool] = _open  # False: start no pass (this replica does not lead)
    _due: dict[Key, float] = field(default_factory=dict)
    _running: set[Key] = field(default_factory=set)
    _failures: dict[Key, int] = field(default_factory=dict)
    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # Events that may turn out to be echoes (`enqueue(..., unless=)`): at its time, a key due
    # only for them is dropped when every check says so. `_certain`: the earliest time a key is
    # due for sure (anything else: a requeue, an event without a check).
    _unless: dict[Key, list[Check]] = field(default_factory=dict)
    _certain: dict[Key, float] = field(default_factory=dict)

    def enqueue(self, key: Key, delay: float | None = None, unless: Check | None = None) -> None:
        """Make `key` due after `delay` (default: the settle delay), keeping an earlier time.
        With `unless`, the pass is dropped if `unless()` is true when it is due (and nothing
        else made the key due meanwhile).

        Safe to call from any thread: off the loop, the change is handed to the loop.
        """
        loop = self._loop
        if loop is not None and _running_loop() is not loop:
            loop.call_soon_threadsafe(self._enqueue_on_loop, key, delay, unless)
        else:
            self._enqueue_on_loop(key, delay, unless)

    def _enqueue_on_loop(self, key: Key, delay: float | None, unless: Check | None = None) -> None:
        at = time.monotonic() + (self.settle_seconds if delay is None else delay)
        if unless is not None:
            self._unless.setdefault(key, []).append(unless)
        elif key not in self._certain or at < self._certain[key]:
            self._certain[key] = at
        if key not in self._due or at < self._due[key]:
            self._due[key] = at
            if self._wake is not None:
                self._wake.set()

    def _take(self, key: Key, now: float) -> bool:
        """`key` is due: True to run its pass now; False when every event that made it due
        now was explained away (it stays due at its certain time, if it has one)."""
        del self._due[key]
        certain = self._certain.pop(key, None)
        checks = self._unless.pop(key, [])
        if (certain is not None and certain <= now) or not all(check() for check in checks):
            return True
        if certain is not None:
            self._due[key] = self._certain[key] = certain
        return False

    def busy(self) -> bool:
        """True while a pass runs."""
        return bool(self._running)

    def poke(self) -> None:
        """Look at the queue now (on the loop: the gate opened)."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        slots = asyncio.Semaphore(self.workers)
        while True:
            now, open_ = time.monotonic(), self.gate()
            ready = [
                k for k, at in self._due.items() if open_ and at <= now and k not in self._running
            ]
            for key in ready:
                if not self._take(key, now):
                    continue
                self._running.add(key)
                await slots.acquire()
                task = asyncio.create_task(self._run_one(key, slots))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            pending = [at for k, at in self._due.items() if k not in self._running]
            timeout = max(0.05, min(pending) - time.monotonic()) if pending and open_ else 5.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def _run_one(self, key: Key, slots: asyncio.Semaphore) -> None:
        try:
            again = await asyncio.to_thread(self.reconcile, *key)
            self._failures.pop(key, None)
        except Exception as err:  # one group's failure must not stop the others
            count = self._failures[key] = self._failures.get(key, 0) + 1
            again = min(self.max_backoff, 2.0**count)
            log.warning(
                "reconcile of %s/%s failed (%s); retrying in %.0fs",
                key[0],
                key[1],
                type(err).__name__ + ": " + str(err)[:300],
                again,
            )
        finally:
            self._running.discard(key)
            slots.release()
        if again is not None:
            self._enqueue_on_loop(key, again)
        # Always wake the loop: the key may have become due while it was running.
        if self._wake is not None:
            self._wake.set()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
