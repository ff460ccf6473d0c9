"""End-to-end fixtures: the JVM probe for keystore checks (cluster fixtures are in tests/), and
a check after every operator test that no private key or password leaked
(pico_harness.support.leaks:
every password and key any Secret held at any time of the session, in clear, base64 and PEM
forms, searched in the operator log, Events, status, ConfigMaps, pods and pod templates)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pico_harness.java.fixtures import java_probe
from pico_harness.support.leaks import LeakCheck, SecretRecorder

__all__ = ["java_probe"]

OPERATOR_NAMESPACE = "pico-tls-system"
_summaries: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _summaries:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def leak_check(kube_cluster: Any) -> Iterator[LeakCheck]:
    """Records every Secret version of the cluster from the first operator test on."""
    recorder = SecretRecorder(kube_cluster).start()
    check = LeakCheck(recorder)
    try:
        yield check
    finally:
        recorder.stop()
        _summaries.append(check.summary())


@pytest.fixture(autouse=True)
def secrets_stay_secret(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that runs the operator in a namespace: no password or private key seen
    in any Secret so far appears in the operator's log or that namespace's public objects."""
    if not {"operator", "namespace"} <= set(request.fixturenames):
        yield
        return
    ns = request.getfixturevalue("namespace")  # torn down after this fixture
    cluster = request.getfixturevalue("kube_cluster")
    operator = request.getfixturevalue("operator")
    check = request.getfixturevalue("leak_check")
    yield
    log = operator.log_text()
    leaks = check.check(cluster, [ns, OPERATOR_NAMESPACE], log)
    assert "PRIVATE KEY" not in log
    assert not leaks, leaks
