"""pico_harness.proc.ManagedProcess, the one lifecycle of the harness's subprocesses: how it
stops a child (the signal, then SIGKILL after the grace; or closed stdin), and what waiting for
readiness reports."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pico_harness import proc
from pico_harness.cluster.localcluster import pid_alive
from pico_harness.proc import CLOSE_STDIN, ManagedProcess

IGNORES_SIGTERM = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(60)"
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_stop_sends_sigterm_and_logs_to_the_file(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    with ManagedProcess(python("import time; print('hello', flush=True); time.sleep(60)"),
                        log_path=log) as child:  # fmt: skip
        child.wait_ready(
            lambda: "hello" in log.read_text(),
            30,
            on_exit=lambda code: AssertionError(code),
            on_timeout=lambda: AssertionError("no output"),
        )
        assert child.running()
    assert child.returncode == -signal.SIGTERM
    assert child not in proc._running


def test_a_child_that_ignores_sigterm_gets_sigkill_after_the_grace() -> None:
    child = ManagedProcess(python(IGNORES_SIGTERM), stdout=subprocess.PIPE, text=True, grace=0.5)
    child.start()
    assert child.stdout is not None and child.stdout.readline() == "up\n"
    child.stop()
    assert child.returncode == -signal.SIGKILL


def test_close_stdin_ends_a_child_that_reads_until_eof() -> None:
    child = ManagedProcess(
        python("import sys; sys.stdin.read()"), stdin=subprocess.PIPE, stop_by=CLOSE_STDIN
    ).start()
    child.stop()
    assert child.returncode == 0


def test_group_signals_reach_the_grandchild() -> None:
    code = (
        "import subprocess, time; g = subprocess.Popen(['sleep', '60']); "
        "print(g.pid, flush=True); time.sleep(60)"
    )
    child = ManagedProcess(python(code), stdout=subprocess.PIPE, text=True, group=True).start()
    assert child.stdout is not None
    grandchild = int(child.stdout.readline())
    child.stop()
    assert child.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 30  # the signal is delivered at once; this is no timing test
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(grandchild)


def test_wait_ready_reports_an_early_exit() -> None:
    child = ManagedProcess(python("raise SystemExit(3)")).start()
    with pytest.raises(RuntimeError, match="exited 3"):
        child.wait_ready(
            lambda: False,
            30,
            on_exit=lambda code: RuntimeError(f"exited {code}"),
            on_timeout=lambda: TimeoutError("not ready"),
        )


def test_processes_left_running_are_stopped_at_exit() -> None:
    child = ManagedProcess(python("import time; time.sleep(60)")).start()
    proc._stop_running()
    assert child.returncode == -signal.SIGTERM
