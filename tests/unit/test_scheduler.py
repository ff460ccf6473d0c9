"""The debouncing work queue: one pass per burst, one pass at a time per key, prompt wake-ups."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from pico_tls.scheduler import Scheduler

KEY = ("ns", "mz")


def run_until(
    scheduler: Scheduler, body: Callable[[], Awaitable[None]], timeout: float = 5.0
) -> None:
    async def main() -> None:
        runner = asyncio.create_task(scheduler.run())
        try:
            await asyncio.wait_for(body(), timeout)
        finally:
            runner.cancel()

    asyncio.run(main())


async def wait_for(condition: Callable[[], bool]) -> float:
    start = time.monotonic()
    while not condition():
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def test_a_burst_of_events_makes_one_pass() -> None:
    calls: list[tuple[str, str]] = []
    scheduler = Scheduler(lambda ns, name: calls.append((ns, name)), settle_seconds=0.2)

    async def body() -> None:
        await asyncio.sleep(0)
        for _ in range(10):
            scheduler.enqueue(KEY)
        await wait_for(lambda: len(calls) == 1)
        await asyncio.sleep(0.4)

    run_until(scheduler, body)
    assert calls == [KEY]


def test_enqueue_from_another_thread_wakes_the_loop_promptly() -> None:
    calls: list[float] = []
    scheduler = Scheduler(lambda ns, name: calls.append(time.monotonic()), settle_seconds=0.0)

    async def body() -> None:
        await asyncio.sleep(0.1)  # the loop is now waiting with its long idle timeout
        sent = time.monotonic()
        threading.Thread(target=scheduler.enqueue, args=(KEY,)).start()
        await wait_for(lambda: bool(calls))
        assert calls[0] - sent < 1.0

    run_until(scheduler, body)


def test_an_event_during_a_pass_causes_a_prompt_second_pass() -> None:
    started = threading.Event()
    release = threading.Event()
    calls: list[float] = []

    def reconcile(ns: str, name: str) -> float | None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            started.set()
            release.wait(5)
            return 30.0  # asks for a resync much later; the pending event must win
        return None

    scheduler = Scheduler(reconcile, settle_seconds=0.0)

    async def body() -> None:
        scheduler.enqueue(KEY)
        await asyncio.to_thread(started.wait, 5)
        scheduler.enqueue(KEY)  # due while the first pass still runs
        finished = time.monotonic()
        release.set()
        await wait_for(lambda: len(calls) == 2)
        assert calls[1] - finished < 1.0

    run_until(scheduler, body)


def test_one_pass_at_a_time_per_key() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()
    calls = 0

    def reconcile(ns: str, name: str) -> None:
        nonlocal active, peak, calls
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
            calls += 1

    scheduler = Scheduler(reconcile, settle_seconds=0.0, workers=4)

    async def body() -> None:
        for _ in range(5):
            scheduler.enqueue(KEY)
            await asyncio.sleep(0.02)
        await wait_for(lambda: calls >= 2)
        await asyncio.sleep(0.2)

    run_until(scheduler, body)
    assert peak == 1


def test_a_failing_pass_is_retried_with_backoff_and_others_go_on() -> None:
    calls: list[tuple[str, str]] = []

    def reconcile(ns: str, name: str) -> None:
        calls.append((ns, name))
        if name == "broken":
            raise RuntimeError("boom")

    scheduler = Scheduler(reconcile, settle_seconds=0.0, max_backoff=0.3)

    async def body() -> None:
        scheduler.enqueue(("ns", "broken"))
        scheduler.enqueue(KEY)
        await wait_for(lambda: calls.count(("ns", "broken")) >= 3)

    run_until(scheduler, body)
    assert calls.count(KEY) == 1


def test_a_key_due_only_for_events_explained_away_makes_no_pass() -> None:
    calls: list[tuple[str, str]] = []
    scheduler = Scheduler(lambda ns, name: calls.append((ns, name)), settle_seconds=0.05)
    explained = [False]

    async def body() -> None:
        scheduler.enqueue(KEY, unless=lambda: explained[0])
        explained[0] = True  # the operator's own write's response came before the pass
        await asyncio.sleep(0.3)
        assert calls == []
        scheduler.enqueue(KEY, unless=lambda: False)  # a change nobody explains
        await wait_for(lambda: len(calls) == 1)

    run_until(scheduler, body)
    assert calls == [KEY]


def test_a_certain_reason_keeps_the_pass_and_its_own_time() -> None:
    calls: list[float] = []
    scheduler = Scheduler(lambda ns, name: calls.append(time.monotonic()), settle_seconds=0.0)

    async def body() -> None:
        began = time.monotonic()
        scheduler.enqueue(KEY, unless=lambda: True)  # an echo, due at once: dropped
        scheduler.enqueue(KEY, delay=0.3)  # a requeue: still due at its time
        await wait_for(lambda: bool(calls))
        assert calls[0] - began >= 0.3

    run_until(scheduler, body)
    assert len(calls) == 1
