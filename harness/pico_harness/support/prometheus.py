"""A real Prometheus (Debian's `prometheus` package, install-monitoring-deps.sh) started by
a test: its own temporary folder, its web API on a loopback port, stopped on exit. It scrapes
the operator pods the test lists (`set_targets`: each pod's IP and its container port named
`metrics`, as Kubernetes pod discovery finds them; Debian's build has no Kubernetes
discovery) on the real node's bridge, reachable from this machine."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pico_harness.proc import ManagedProcess

SCRAPE_SECONDS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(targets_file: Path) -> dict[str, Any]:
    """Scrape the targets listed in `targets_file` (file-based discovery: Debian builds
    Prometheus without Kubernetes discovery, so the test lists the operator pods itself)."""
    job = {
        "job_name": "pico-tls-operator",
        "scrape_interval": f"{SCRAPE_SECONDS}s",
        "scrape_timeout": f"{SCRAPE_SECONDS}s",
        "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "5s"}],
        # the operator's own namespace/name labels win over the target's
        "honor_labels": True,
    }
    return {"global": {"evaluation_interval": "5s"}, "scrape_configs": [job]}


def pod_targets(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Kubernetes pod discovery would find: each running pod's IP with its container port
    named `metrics`, labelled with the pod's namespace and name."""
    out = []
    for pod in pods:
        ip = pod.get("status", {}).get("podIP")
        ports = [
            port["containerPort"]
            for c in pod["spec"]["containers"]
            for port in c.get("ports", [])
            if port.get("name") == "metrics"
        ]
        if ip and ports and not pod["metadata"].get("deletionTimestamp"):
            meta = pod["metadata"]
            labels = {"namespace": meta["namespace"], "pod": meta["name"]}
            out.append({"targets": [f"{ip}:{ports[0]}"], "labels": labels})
    return out


@dataclass
class Prometheus:
    url: str
    process: ManagedProcess
    log: Path
    targets_file: Path

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=promql)["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return active

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def set_targets(self, pods: list[dict[str, Any]]) -> None:
        """List the pods to scrape (written whole, then renamed: Prometheus never reads half)."""
        staged = self.targets_file.with_suffix(".tmp")
        staged.write_text(json.dumps(pod_targets(pods)))
        staged.replace(self.targets_file)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running_prometheus(work_dir: Path) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus missing: install-monitoring-deps.sh installs it")
    work_dir.mkdir(parents=True, exist_ok=True)
    targets = work_dir / "targets.json"
    targets.write_text("[]")
    (work_dir / "prometheus.yml").write_text(yaml.safe_dump(config(targets)))
    port = free_port()
    log = work_dir / "prometheus.log"
    cmd = [
        binary,
        f"--config.file={work_dir / 'prometheus.yml'}",
        f"--storage.tsdb.path={work_dir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
    ]
    process = ManagedProcess(cmd, log_path=log, cwd=work_dir, grace=20).start()
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process, log, targets)
    try:
        process.wait_ready(
            prometheus.ready,
            60,
            on_exit=lambda code: RuntimeError(f"prometheus exited ({code}): {tail(log)}"),
            on_timeout=lambda: RuntimeError(f"prometheus not ready in 60 s: {tail(log)}"),
            interval=0.5,
        )
        yield prometheus
    finally:
        process.stop()


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""
