"""Following the operator until every target is done: one line each time a target's state
changes (a progress display that also reads well in a CI log)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pico_tls.ctl.errors import CtlError

State = Callable[[], tuple[bool, str]]  # (done, what is happening)


@dataclass(frozen=True)
class Target:
    label: str  # "platform/mz"
    state: State


def follow(targets: Sequence[Target], timeout: float, interval: float = 1.0) -> None:
    """Poll until every target is done; CtlError (exit 1) after `timeout` seconds."""
    start = time.monotonic()
    said: dict[str, str] = {}
    pending = list(targets)
    while pending:
        elapsed = time.monotonic() - start
        still = []
        for target in pending:
            done, text = target.state()
            if said.get(target.label) != text:
                said[target.label] = text
                print(f"[{elapsed:5.0f}s] {target.label}: {text}", flush=True)
            if not done:
                still.append(target)
        pending = still
        if pending and elapsed > timeout:
            names = ", ".join(t.label for t in pending)
            raise CtlError(f"gave up after {timeout:.0f}s waiting for {names}", code=1)
        if pending:
            time.sleep(interval)
    print(f"all done in {time.monotonic() - start:.0f}s", file=sys.stderr)
