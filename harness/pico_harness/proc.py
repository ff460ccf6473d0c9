"""One lifecycle for the harness's subprocesses: start (output to a log file or pipes), wait
until ready, stop (SIGTERM or closed stdin, then SIGKILL after a grace), as a context manager,
and stopped at interpreter exit if the owner forgot."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

CLOSE_STDIN = "close-stdin"  # stop by closing stdin (the child ends on EOF), not by a signal

_running: set[ManagedProcess] = set()  # started, not yet stopped


def _stop_running() -> None:
    for process in list(_running):
        with contextlib.suppress(Exception):
            process.stop()


# Registered on import, so owners that register their own exit handler later (LocalCluster)
# run theirs first: this one only catches what is left.
atexit.register(_stop_running)


class ManagedProcess:
    """A subprocess started once, stopped at most once for real (stop() is idempotent).

    `log_path`: stdout and stderr appended to that file (else the `stdout`/`stderr` arguments,
    e.g. subprocess.PIPE). `new_session`: the child leads a new session (a terminal's signals do
    not reach it); `group`: that, and signals go to its whole process group. `stop_by`: a
    signal number, or CLOSE_STDIN. `grace`: seconds between that and SIGKILL; `kill_wait`:
    seconds to wait after SIGKILL. `stop_at_exit=False`: a process meant to outlive this
    interpreter (a detached supervisor)."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        log_path: Path | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        text: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        group: bool = False,
        new_session: bool = False,
        preexec_fn: Callable[[], None] | None = None,
        stop_by: int | str = signal.SIGTERM,
        grace: float = 5.0,
        kill_wait: float = 5.0,
        stop_at_exit: bool = True,
    ) -> None:
        self.args = list(args)
        self.log_path = log_path
        self.group = group
        self.stop_by = stop_by
        self.grace = grace
        self.kill_wait = kill_wait
        self.stop_at_exit = stop_at_exit
        self._popen_options: dict[str, Any] = {
            "stdin": stdin,
            "stdout": stdout,
            "stderr": stderr,
            "text": text,
            "env": None if env is None else dict(env),
            "cwd": cwd,
            "start_new_session": group or new_session,
            "preexec_fn": preexec_fn,
        }
        if text:
            self._popen_options["bufsize"] = 1
        self.popen: subprocess.Popen[Any] | None = None

    # -- start

    def start(self) -> ManagedProcess:
        if self.log_path is None:
            self.popen = subprocess.Popen(self.args, **self._popen_options)
        else:
            with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
                options = {**self._popen_options, "stdout": log, "stderr": subprocess.STDOUT}
                self.popen = subprocess.Popen(self.args, **options)
        if self.stop_at_exit:
            _running.add(self)
        return self

    def wait_ready(
        self,
        ready: Callable[[], bool],
        timeout: float,
        *,
        on_exit: Callable[[int], BaseException],
        on_timeout: Callable[[], BaseException],
        interval: float = 0.2,
    ) -> None:
        """Poll `ready()` until true; raise on_exit(code) when the process ends first, or
        on_timeout() after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            code = self.poll()
            if code is not None:
                raise on_exit(code)
            time.sleep(interval)
        raise on_timeout()

    # -- state

    @property
    def pid(self) -> int:
        assert self.popen is not None, "not started"
        return self.popen.pid

    @property
    def stdin(self) -> IO[Any] | None:
        return None if self.popen is None else self.popen.stdin

    @property
    def stdout(self) -> IO[Any] | None:
        return None if self.popen is None else self.popen.stdout

    @property
    def stderr(self) -> IO[Any] | None:
        return None if self.popen is None else self.popen.stderr

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.returncode

    def poll(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        assert self.popen is not None, "not started"
        return self.popen.wait(timeout)

    # -- stop

    def signal(self, signum: int) -> None:
        """Send `signum` to the process (its group when `group`); gone already is fine."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.group:
                os.killpg(self.popen.pid, signum)
            else:
                os.kill(self.popen.pid, signum)

    def kill(self, wait: float | None = None) -> None:
        """SIGKILL now, then wait for it (`kill_wait` seconds unless given)."""
        if self.popen is None:
            return
        self.signal(signal.SIGKILL)
        self.popen.wait(self.kill_wait if wait is None else wait)
        _running.discard(self)

    def stop(self, grace: float | None = None) -> None:
        """Ask it to end (`stop_by`), SIGKILL after the grace; nothing when already ended."""
        popen = self.popen
        if popen is None:
            return
        if self.stop_by == CLOSE_STDIN:
            if popen.stdin is not None:
                with contextlib.suppress(OSError):
                    popen.stdin.close()
        elif popen.poll() is None:
            self.signal(int(self.stop_by))
        try:
            popen.wait(self.grace if grace is None else grace)
        except subprocess.TimeoutExpired:
            self.kill()
        _running.discard(self)

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
