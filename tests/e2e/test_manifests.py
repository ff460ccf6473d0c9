"""End-to-end: the operator started exactly as manifests/operator.yaml starts it (its args, with
the liveness endpoint moved to a free loopback port) serves /healthz and reconciles."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pico_harness.support.operator_process import OperatorProcess, liveness_path
from pico_harness.support.resources import platform, wait_ready

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_deployed_command_serves_its_liveness_probe_and_reconciles(
    kube_cluster: Any,
    operator_process: OperatorProcess,
    operator_kubeconfig: Path,
    namespace: str,
    tmp_path: Path,
) -> None:
    operator_process.stop()  # one operator at a time
    port = free_port()
    probe_path = liveness_path()
    log = tmp_path / "operator.log"
    deployed = OperatorProcess(operator_kubeconfig, log, liveness_port=port)
    deployed.start()
    try:

        def healthy() -> bool:
            assert deployed.running, deployed.log_text()[-2000:]
            try:
                url = f"http://127.0.0.1:{port}{probe_path}"
                with urllib.request.urlopen(url, timeout=5) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        kube_cluster.wait_until("liveness probe answers 200", healthy, timeout=60)
        kube_cluster.apply(platform(namespace))
        status = wait_ready(kube_cluster, "platform", "mz", namespace)["status"]
        assert status["clientAuth"]["phase"] == "Enforced"
    finally:
        deployed.stop()
