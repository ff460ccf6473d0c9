"""The README's main command, run as a user runs it: `scripts/demo` ends with exit code 0, no
traceback and every section; `scripts/demo --keep` runs until Ctrl-C (SIGINT to its process
group, as a terminal sends it) and ends cleanly; SIGTERM in the middle of a run stops it too.
Each run leaves nothing of its real node behind (tests/support/node_traces.py).

Three real-node runs of the demo, each a few minutes (tests/README.md has the figures)."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pico_harness.cluster import nodenet
from pico_harness.support.node_traces import Baseline, Traces

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (
    "=== kubectl apply -k manifests/",
    "=== custom resources (kubectl get pico)",
    "=== keytool -list of the platform keystore",
    "=== live traffic for",
    "=== desktops:",
    "=== Events",
)
DESKTOPS = (
    re.compile(r"alice +with Secret alice-desktop-key +accepted +\(as expected\)"),
    re.compile(r"bob +with Secret bob-kept-key +refused \(exit 10\) +\(as expected\)"),
)
KUBECONFIG = re.compile(r"KUBECONFIG=(\S+)")
RUN_SECONDS = 1800  # a warm run takes minutes; this only bounds a hung one


class Demo:
    """`scripts/demo ARGS` in its own process group, its output read line by line."""

    def __init__(self, *args: str) -> None:
        with nodenet.node_lock():  # the machine before: no other real node is up
            self.before = Baseline.now()
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "demo"), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.traces: Traces | None = None

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, marker: str) -> str:
        """Reads until a line holding `marker`, then records what the running node made."""
        deadline = time.monotonic() + RUN_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            line = self._queue.get(timeout=left)
            if line is None:
                break
            self.lines.append(line)
            if marker in line:
                self._record_traces()
                return line
        raise AssertionError(f"no line with {marker!r}:\n{self.output}")

    def _record_traces(self) -> None:
        found = [m.group(1) for line in self.lines if (m := KUBECONFIG.search(line))]
        assert found, self.output
        self.traces = Traces.of(Path(found[0]).parent)  # the cluster's work folder
        assert self.traces.processes, self.traces

    def end(self) -> int:
        """Waits for the exit; returns its code once everything it printed is read."""
        code = self.process.wait(timeout=RUN_SECONDS)
        while (line := self._queue.get(timeout=60)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def left_behind(self) -> dict[str, object]:
        assert self.traces is not None
        with nodenet.node_lock():  # no other run's node between ours and the checks
            left = self.traces.left_after_stop(self.before)
        demo_folder = self.traces.work.parent  # the demo's temporary folder, removed at its end
        return left | ({"demo folder": str(demo_folder)} if demo_folder.exists() else {})

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(60)


def _clean_up(demo: Demo) -> None:
    """After a failed assertion: the demo's process and work folder do not outlive the test."""
    demo.kill()
    if demo.traces is not None and not nodenet.mounts_under([demo.traces.work]):
        shutil.rmtree(demo.traces.work.parent, ignore_errors=True)


def test_scripts_demo_shows_every_section_and_exits_0() -> None:
    demo = Demo()
    try:
        demo.wait_for("=== desktops:")  # the real node runs every pod of the examples
        assert demo.traces is not None and demo.traces.mounts and demo.traces.netns
        code = demo.end()
        out = demo.output
        assert code == 0, out
        assert "Traceback" not in out and "WRONG" not in out, out
        assert [s for s in SECTIONS if s not in out] == [], out
        assert [p.pattern for p in DESKTOPS if not p.search(out)] == [], out
        assert re.search(r"status\.desktopTrust: .*\"bob\": \"Revoked\"", out), out
        assert demo.left_behind() == {}
    finally:
        _clean_up(demo)


def test_scripts_demo_keep_runs_until_ctrl_c_then_stops_everything() -> None:
    demo = Demo("--keep")
    try:
        demo.wait_for("kept running: export KUBECONFIG=")
        os.killpg(demo.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        code = demo.end()
        out = demo.output
        assert code == 0, out
        assert "Traceback" not in out and "WRONG" not in out, out
        assert demo.left_behind() == {}
    finally:
        _clean_up(demo)


def test_scripts_demo_keep_stopped_by_sigterm_mid_run_stops_everything() -> None:
    demo = Demo("--keep")
    try:
        demo.wait_for("KUBECONFIG=")  # the cluster is up; the operator is being installed
        demo.process.send_signal(signal.SIGTERM)  # `kill PID`
        code = demo.end()
        out = demo.output
        assert code == 128 + signal.SIGTERM, out
        assert "Traceback" not in out, out
        assert "=== interrupted: the cluster, its node and the operator are stopped" in out
        assert demo.left_behind() == {}
    finally:
        _clean_up(demo)
