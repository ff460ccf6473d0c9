"""Cluster fixtures shared by all tests.

- ``kube_cluster`` (session): a Kubernetes API to test against, as a ``KubeCluster`` with
  ``kubeconfig``, ``server``, ``kubectl(*args)``, ``get_json``, ``apply``, ``wait_until``.
  Default: a ``LocalCluster`` (pico_harness.cluster.localcluster; binaries built by build.sh if
  missing). ``PICO_TLS_KUBECONFIG=<path>`` uses an existing cluster instead (only one that looks
  like a test cluster, unless ``PICO_TLS_FORCE_CLUSTER=1``); ``PICO_TLS_KIND=1`` uses pytest-kind
  when Docker is available.
- ``crds`` (session): crds/*.yaml applied and Established.
- ``operator_kubeconfig`` (session): manifests/rbac.yaml applied, a kubeconfig holding a
  TokenRequest token of ServiceAccount pico-tls-system/pico-tls-operator.
- ``operator_process`` (session) / ``operator`` (function): the operator as manifests/operator.yaml
  starts it, under that kubeconfig (``pico_harness.support.operator_process.OperatorProcess``);
  ``operator`` makes sure it is running for the test.
- ``namespace`` (function): a fresh namespace, deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from pico_harness.cluster.localcluster import (
    ClusterAccess,
    ClusterError,
    LocalCluster,
    default_bin_dir,
    ensure_binaries,
    missing_binaries,
)
from pico_harness.support.install import OPERATOR_SERVICE_ACCOUNT, install_crds, install_rbac
from pico_harness.support.operator_process import OperatorProcess

ROOT = Path(__file__).resolve().parent.parent
TEST_CLUSTER_PATTERN = re.compile(r"localhost|127\.0\.0\.1|\[::1\]|kind|test", re.IGNORECASE)


class KubeCluster(ClusterAccess):
    """What the tests talk to: a kubeconfig, kubectl helpers, and the LocalCluster if any."""

    def __init__(
        self,
        kubeconfig: Path,
        kubectl_bin: str,
        *,
        server: str,
        local: LocalCluster | None = None,
        kind: str = "local",
    ) -> None:
        super().__init__(kubeconfig, kubectl_bin)
        self.server = server
        self.local = local
        self.kind = kind

    def raw_config(self) -> dict[str, Any]:
        """The current context's cluster and user, credentials included (kubectl config view)."""
        out = self.kubectl("config", "view", "--raw", "--minify", "--flatten", "-o", "json")
        return dict(yaml.safe_load(out.stdout))

    def ca_pem(self) -> bytes:
        import base64

        cluster = self.raw_config()["clusters"][0]["cluster"]
        data = cluster.get("certificate-authority-data")
        return base64.b64decode(data) if data else b""


def _kubectl_bin() -> str:
    with contextlib.suppress(Exception):
        candidate = default_bin_dir() / "kubectl"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("kubectl")
    if not found:
        pytest.skip("no kubectl: run harness/pico_harness/cluster/build.sh")
    return found


def check_test_cluster(kubeconfig: Path) -> str:
    """Refuses a kubeconfig whose current context does not look like a test cluster."""
    config: dict[str, Any] = yaml.safe_load(kubeconfig.read_text()) or {}
    context_name = os.environ.get("PICO_TLS_CONTEXT") or config.get("current-context") or ""
    context: dict[str, Any] = next(
        (
            c.get("context", {})
            for c in config.get("contexts") or []
            if c.get("name") == context_name
        ),
        {},
    )
    cluster_name = context.get("cluster", "")
    server = next(
        (
            c.get("cluster", {}).get("server", "")
            for c in config.get("clusters") or []
            if c.get("name") == cluster_name
        ),
        "",
    )
    host = urlparse(server).hostname or ""
    if os.environ.get("PICO_TLS_FORCE_CLUSTER") == "1":
        return server
    if any(TEST_CLUSTER_PATTERN.search(s) for s in (context_name, cluster_name, host)):
        return server
    pytest.exit(
        f"refusing to run tests against context {context_name!r} (server {server!r}): it does "
        "not look like a test cluster (localhost/127.0.0.1/kind/test in its name); set "
        "PICO_TLS_FORCE_CLUSTER=1 to override",
        returncode=3,
    )


def _kind_cluster(tmp: Path) -> Iterator[KubeCluster]:
    try:
        from pytest_kind import KindCluster  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pytest.skip("PICO_TLS_KIND=1 needs pytest-kind (pip install -e '.[kind]')")
    if not shutil.which("docker"):
        pytest.skip("PICO_TLS_KIND=1 needs Docker")
    kind = KindCluster(name="pico-tls-test")
    kind.create()
    try:
        path = Path(kind.kubeconfig_path)
        _clusters_used.append("a kind cluster (pytest-kind)")
        yield KubeCluster(path, str(kind.kubectl_path), server="kind", kind="kind")
    finally:
        if os.environ.get("PICO_TLS_KEEP_KIND") != "1":
            kind.delete()


# Skipped end-to-end and Java tests (PICO_TLS_NO_SKIPS=1, set by tests/run-all, fails the run).
_skipped_required: list[str] = []
REQUIRED_MARKERS = ("e2e", "java")


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    skipped = call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception)
    if skipped and any(item.get_closest_marker(m) for m in REQUIRED_MARKERS):
        assert call.excinfo is not None
        _skipped_required.append(f"{item.nodeid}: {call.excinfo.value}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_required and os.environ.get("PICO_TLS_NO_SKIPS") == "1":
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def skipped_required_lines() -> list[str]:
    if not _skipped_required or os.environ.get("PICO_TLS_NO_SKIPS") != "1":
        return []
    return [
        f"FAILED: {len(_skipped_required)} e2e/java test(s) skipped (PICO_TLS_NO_SKIPS=1); "
        "install what they need (harness/pico_harness/cluster/build.sh, a JDK):",
        *(f"  skipped {line}" for line in _skipped_required),
    ]


# What the session's end-to-end tests ran against, for the terminal summary.
_clusters_used: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _clusters_used:
        terminalreporter.write_line(f"end-to-end tests ran against: {line}")
    for line in skipped_required_lines():
        terminalreporter.write_line(line, red=True)


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    if os.environ.get("PICO_TLS_KIND") == "1":
        yield from _kind_cluster(tmp_path_factory.mktemp("kind"))
        return
    external = os.environ.get("PICO_TLS_KUBECONFIG")
    if external:
        path = Path(external).expanduser()
        server = check_test_cluster(path)
        _clusters_used.append(f"the cluster of {path} ({server})")
        yield KubeCluster(path, _kubectl_bin(), server=server, kind="external")
        return
    with contextlib.suppress(Exception):
        if missing_binaries(default_bin_dir()) and not shutil.which("go"):
            pytest.skip(
                "control plane binaries missing and no Go to build them "
                "(harness/pico_harness/cluster/build.sh)"
            )
    try:
        ensure_binaries()
    except (ClusterError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"cannot build the local control plane: {exc}")
    work = tmp_path_factory.mktemp("cluster")
    cluster = LocalCluster(work_dir=work, keep_work_dir=True)
    cluster.start()
    try:
        print(
            f"\nlocal control plane up in {cluster.startup_seconds:.1f}s, logs in {work}",
            file=sys.stderr,
        )
        _clusters_used.append(f"the local control plane, kube-apiserver {cluster.server}")
        yield KubeCluster(
            cluster.kubeconfig,
            str(cluster.bin_dir / "kubectl"),
            server=cluster.server,
            local=cluster,
        )
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def crds(kube_cluster: KubeCluster) -> KubeCluster:
    install_crds(kube_cluster)
    return kube_cluster


@pytest.fixture(scope="session")
def operator_kubeconfig(crds: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig for the operator's own ServiceAccount (manifests/rbac.yaml), not admin."""
    cluster = crds
    path = install_rbac(cluster, tmp_path_factory.mktemp("operator") / "operator.kubeconfig")
    whoami = ClusterAccess(path, cluster.kubectl_bin).kubectl("auth", "whoami", "-o", "json")
    assert OPERATOR_SERVICE_ACCOUNT in whoami.stdout
    return path


@pytest.fixture(scope="session")
def operator_process(
    operator_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        operator_kubeconfig, tmp_path_factory.mktemp("operator-log") / "operator.log"
    )
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def operator(operator_process: OperatorProcess) -> Iterator[OperatorProcess]:
    """The operator, running (started on first use, restarted if a test left it stopped)."""
    operator_process.start()
    yield operator_process
    if operator_process.process is not None and not operator_process.running:
        # a crash: show it, and let the next test start a fresh one
        sys.stderr.write(f"\noperator exited; log {operator_process.log_path}\n")


def _namespace_name(request: pytest.FixtureRequest) -> str:
    """Short (certificate names derived from it must stay within 64 characters)."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_")).strip("-")
    return f"t-{base[:16].rstrip('-')}-{uuid.uuid4().hex[:5]}"


@pytest.fixture
def namespace(kube_cluster: KubeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = _namespace_name(request)
    kube_cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"picotls.dev/test": "true"}},
        }
    )
    try:
        yield name
    finally:
        if os.environ.get("PICO_TLS_KEEP_NAMESPACES") != "1":
            kube_cluster.kubectl(
                "delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False
            )
