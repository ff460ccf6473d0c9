"""A real Prometheus (Debian's `prometheus` package, tests/monitoring/install-deps.sh) started by
a test: its own temporary folder, its web API on a loopback port, stopped on exit. It finds the
operator pod through the API server (kubernetes_sd_configs, role pod, with the test cluster's
kubeconfig) and scrapes the container port named `metrics` on the pod's IP (the real node's
bridge, reachable from this machine), as a ServiceMonitor-less install would."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCRAPE_SECONDS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(kubeconfig: Path, namespace: str) -> dict[str, Any]:
    """Scrape every pod of `namespace` on its container port named `metrics`."""
    keep_metrics_port = {
        "source_labels": ["__meta_kubernetes_pod_container_port_name"],
        "regex": "metrics",
        "action": "keep",
    }
    relabel = [
        keep_metrics_port,
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
    ]
    job = {
        "job_name": "pico-tls-operator",
        "scrape_interval": f"{SCRAPE_SECONDS}s",
        "scrape_timeout": f"{SCRAPE_SECONDS}s",
        "kubernetes_sd_configs": [
            {
                "role": "pod",
                "kubeconfig_file": str(kubeconfig),
                "namespaces": {"names": [namespace]},
            }
        ],
        "relabel_configs": relabel,
        # the operator's own namespace/name labels win over the target's
        "honor_labels": True,
    }
    return {"global": {"evaluation_interval": "5s"}, "scrape_configs": [job]}


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

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

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running_prometheus(work_dir: Path, kubeconfig: Path, namespace: str) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus missing: tests/monitoring/install-deps.sh installs it")
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "prometheus.yml").write_text(yaml.safe_dump(config(kubeconfig, namespace)))
    port = free_port()
    log = work_dir / "prometheus.log"
    cmd = [
        binary,
        f"--config.file={work_dir / 'prometheus.yml'}",
        f"--storage.tsdb.path={work_dir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=work_dir)
    prometheus = Prometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 60
        while not prometheus.ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {prometheus.log_text()[-2000:]}")
            time.sleep(0.5)
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
