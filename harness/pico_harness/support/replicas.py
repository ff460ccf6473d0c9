"""Several operator replicas on one cluster, as the Deployment runs them (manifests/operator.yaml
args, the manifests' RBAC), each a process with a pod name of its own, electing a leader on
the Lease pico-tls-system/pico-tls-operator."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from pico_harness.support.operator_process import OperatorProcess

LEASE_NAMESPACE = "pico-tls-system"
LEASE_NAME = "pico-tls-operator"
# Short timings so tests wait seconds, not the deployed 15 / 10 / 2.
FAST_LEASE = {
    "PICO_TLS_LEASE_DURATION": "6",
    "PICO_TLS_RENEW_DEADLINE": "4",
    "PICO_TLS_RETRY_PERIOD": "1",
}
BECAME_LEADER = "is the leader now"
STANDS_BY = "stands by"
RECONCILED = "reconciled platform"


def lease(cluster: Any) -> dict[str, Any] | None:
    proc = cluster.kubectl(
        "get", "lease", LEASE_NAME, "-n", LEASE_NAMESPACE, "-o", "json", check=False
    )
    if proc.returncode != 0:
        return None
    found: dict[str, Any] = json.loads(proc.stdout)
    return found


def holder(cluster: Any) -> str:
    found = lease(cluster) or {}
    return str((found.get("spec") or {}).get("holderIdentity") or "")


class Replicas:
    def __init__(self, kubeconfig: Path, logs: Path, count: int = 2, **env: str) -> None:
        self.procs = [
            OperatorProcess(kubeconfig, logs / f"replica-{i}.log", env={**FAST_LEASE, **env})
            for i in range(count)
        ]

    def start(self) -> Replicas:
        for proc in self.procs:
            proc.start()
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()

    def by_name(self, pod_name: str) -> OperatorProcess:
        return next(p for p in self.procs if p.pod_name == pod_name)

    def wait_leader(self, cluster: Any, timeout: float = 60) -> OperatorProcess:
        """The replica the Lease names, once it has logged that it leads."""

        def found() -> OperatorProcess | None:
            name = holder(cluster)
            procs = [p for p in self.procs if p.pod_name == name and p.running]
            return procs[0] if procs and BECAME_LEADER in procs[0].log_text(True) else None

        leader: OperatorProcess = cluster.wait_until("a leader", found, timeout=timeout)
        return leader

    def others(self, leader: OperatorProcess) -> list[OperatorProcess]:
        return [p for p in self.procs if p is not leader]


def sigkill(proc: OperatorProcess) -> float:
    """Kill without a chance to release the Lease; returns the monotonic time of the kill."""
    assert proc.process is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    proc.process.wait(10)
    return killed
