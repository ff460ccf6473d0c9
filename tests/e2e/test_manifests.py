"""End-to-end: the operator started exactly as manifests/operator.yaml starts it (its args, with
the liveness endpoint moved to a free loopback port) serves /healthz and reconciles."""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import ROOT, OperatorProcess
from tests.e2e.test_operator import wait_ready
from tests.e2e.test_operator_modes import platform

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ManifestOperator(OperatorProcess):
    """`python -m kopf ...` with the manifest's arguments, nothing added."""

    def __init__(self, kubeconfig: Path, log_path: Path, args: list[str]) -> None:
        super().__init__(kubeconfig, log_path)
        self.args = args

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", *self.args]


def manifest_args(port: int) -> tuple[list[str], str]:
    docs = list(yaml.safe_load_all((ROOT / "manifests" / "operator.yaml").read_text()))
    deployment = next(d for d in docs if d and d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = [str(a) for a in container["args"]]
    assert args[:4] == ["kopf", "run", "-m", "pico_tls"], args
    probe = str(container["livenessProbe"]["httpGet"]["path"])
    return [a.replace("0.0.0.0:8080", f"127.0.0.1:{port}") for a in args], probe


def test_the_deployed_command_serves_its_liveness_probe_and_reconciles(
    kube_cluster: Any,
    operator_process: OperatorProcess,
    operator_kubeconfig: Path,
    namespace: str,
    tmp_path: Path,
) -> None:
    operator_process.stop()  # one operator at a time
    port = free_port()
    args, probe_path = manifest_args(port)
    deployed = ManifestOperator(operator_kubeconfig, tmp_path / "operator.log", args)
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
