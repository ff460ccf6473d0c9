"""Run the pico stand-in (harness/pico_harness/images/standin) as local processes, without an image.

``compile_standin`` compiles its sources with the machine's javac into a folder outside the repo;
``Standin`` starts one role (``java ... StandinMain`` or the image's ``entrypoint.sh``), collects
its log lines, waits for ``READY`` and reads ``/stats``. Used by tests/java/test_standin.py; the
image build (pico_harness.images.build) compiles the same sources the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pico_harness.proc import ManagedProcess

STANDIN_DIR = Path(__file__).resolve().parent / "standin"
SOURCES = sorted((STANDIN_DIR / "src").glob("*.java"))
ENTRYPOINT = STANDIN_DIR / "entrypoint.sh"
MAIN_CLASS = "StandinMain"
JVM_OPTIONS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto")
READY = re.compile(r"READY role=(\w+).*?(?: rcp=(\d+))?.* http=(\d+)")


def sources_digest() -> str:
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def compile_standin(out_dir: Path) -> Path:
    """javac the stand-in's sources into ``out_dir`` (created); returns the class folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["javac", "--release", "17", "-nowarn", "-d", str(out_dir), *map(str, SOURCES)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"javac failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return out_dir


class Standin:
    """One stand-in process; a context manager that stops it on exit."""

    def __init__(
        self,
        classes: Path,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        entrypoint: bool = False,
        jvm_options: Sequence[str] = (),
    ) -> None:
        base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        self.env = {**base_env, **(env or {})}
        options = [*JVM_OPTIONS, *jvm_options]
        if entrypoint:
            self.env.update(STANDIN_CLASSPATH=str(classes), JAVA_OPTS=" ".join(options))
            self.command = ["sh", str(ENTRYPOINT), *args]
        else:
            self.command = ["java", *options, "-cp", str(classes), MAIN_CLASS, *args]
        self.lines: list[str] = []
        self.rcp_port: int | None = None
        self.http_port: int | None = None
        self._proc: ManagedProcess | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> Standin:
        self._proc = ManagedProcess(
            self.command,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            grace=10,
            kill_wait=10,
        ).start()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = 30.0) -> Standin:
        """Wait for the READY line (ports read from it); raise with the output if it exits."""
        assert self._proc is not None

        def ready() -> bool:
            for line in list(self.lines):
                match = READY.search(line)
                if match:
                    self.rcp_port = int(match.group(2)) if match.group(2) else None
                    self.http_port = int(match.group(3))
                    return True
            return False

        self._proc.wait_ready(
            ready,
            timeout,
            interval=0.05,
            on_exit=lambda code: RuntimeError(f"stand-in exited {code}:\n{self.output}"),
            on_timeout=lambda: TimeoutError(f"stand-in not ready in {timeout}s:\n{self.output}"),
        )
        return self

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self._proc is not None
        code = self._proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code

    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def stats(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.http_port}/stats"
        with urllib.request.urlopen(url, timeout=5) as response:
            data: dict[str, Any] = json.load(response)
        return data

    def wait_stats(self, outcome: str, count: int, timeout: float = 30.0) -> dict[str, Any]:
        """Poll /stats until ``outcome`` was counted ``count`` times; returns the last stats."""
        deadline = time.monotonic() + timeout
        stats = self.stats()
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["outcomes"].get(outcome, {}).get("count", 0) >= count:
                return stats
            time.sleep(0.1)
        raise TimeoutError(f"{outcome} not counted {count} times: {stats}\n{self.output}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()

    def __enter__(self) -> Standin:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
