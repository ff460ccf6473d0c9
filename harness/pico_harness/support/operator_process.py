"""The operator as a process: `python -m` + the container command and args of
manifests/base/operator.yaml, so tests, benchmarks and the demo run the command that is deployed.
Only the namespace scope, the module (experiments) and the probe address (a loopback port, or
none) may differ. Each OperatorProcess is one replica: a pod name of its own (the Lease holder),
kept across restarts as a container restart keeps it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pico_harness import REPO_ROOT

ROOT = REPO_ROOT
MANIFEST = ROOT / "manifests" / "base" / "operator.yaml"


def manifest_container() -> dict[str, Any]:
    docs = list(yaml.safe_load_all(MANIFEST.read_text()))
    deployment = next(d for d in docs if d and d["kind"] == "Deployment")
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def manifest_args() -> list[str]:
    """The container's command followed by its args (the namespaces served)."""
    container = manifest_container()
    args = [str(a) for key in ("command", "args") for a in container.get(key) or []]
    assert args[:4] == ["kopf", "run", "-m", "pico_tls"], args
    return args


def liveness_path() -> str:
    probe = manifest_container()["livenessProbe"]
    return str(probe["httpGet"]["path"])


def operator_args(
    *,
    namespaces: Sequence[str] = (),
    module: str = "pico_tls",
    liveness_port: int | None = None,
) -> list[str]:
    """The manifest's args, scoped to `namespaces` (default: all), running `module`, with a
    kopf liveness endpoint (if the manifest had one) on 127.0.0.1:`liveness_port`."""
    out: list[str] = []
    for arg in manifest_args():
        if arg == "--all-namespaces" and namespaces:
            out += [f"--namespace={n}" for n in namespaces]
        elif arg.startswith("--liveness="):
            if liveness_port is not None:
                out.append(re.sub(r"//[^/]+", f"//127.0.0.1:{liveness_port}", arg, count=1))
        else:
            out.append(arg)
    out[out.index("-m") + 1] = module
    return out


class OperatorProcess:
    """The operator under a kubeconfig, in its own process group, logging to a file."""

    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        *,
        namespaces: Sequence[str] = (),
        module: str = "pico_tls",
        liveness_port: int | None = None,
        env: Mapping[str, str] | None = None,
        extra_path: Sequence[str] = (),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.args = operator_args(namespaces=namespaces, module=module, liveness_port=liveness_port)
        self.env = dict(env or {})
        self.pod_name = f"local-{uuid.uuid4().hex[:8]}"
        self.liveness_port = liveness_port
        self.extra_path = list(extra_path)
        self.process: subprocess.Popen[bytes] | None = None
        self._start_offset = 0

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", *self.args]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _environment(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("KUBERNETES_") and k != "KUBECONFIG"
        }
        path = [str(ROOT / "operator"), *self.extra_path, env.get("PYTHONPATH", "")]
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            PYTHONPATH=os.pathsep.join(p for p in path if p),
            PYTHONUNBUFFERED="1",
            POD_NAME=self.pod_name,
            POD_NAMESPACE="pico-tls-system",
            PICO_TLS_METRICS_PORT="0",  # no fixed port per test process (tests may pass one)
        )
        env.pop("PICO_TLS_HEALTH_ADDRESS", None)
        if self.liveness_port is not None:
            env["PICO_TLS_HEALTH_ADDRESS"] = f"127.0.0.1:{self.liveness_port}"
        return env | self.env

    def start(self) -> OperatorProcess:
        if self.running:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._start_offset = log.tell()
            log.write(f"==== start: {' '.join(self.command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def stop(self, timeout: float = 20) -> int | None:
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        return proc.returncode

    def restart(self) -> OperatorProcess:
        self.stop()
        return self.start()

    def log_text(self, since_start: bool = False) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[self._start_offset if since_start else 0 :].decode(errors="replace")

    def wait_for_log(self, text: str | re.Pattern[str], timeout: float = 60) -> str:
        """Waits until the log since the last start() contains `text` (a string or regex)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log_text(since_start=True)
            if text.search(log) if isinstance(text, re.Pattern) else text in log:
                return log
            if not self.running:
                code = self.process.returncode if self.process else None
                raise AssertionError(
                    f"operator exited ({code}) before logging {text!r}:\n{log[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"operator did not log {text!r} within {timeout}s:\n{log[-3000:]}"
                )
            time.sleep(0.2)
