"""End-to-end: the client-auth transition resumes where it stopped when the operator restarts
half-way (its phase lives in status), and never writes the require flag before the trust."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pico_harness.support.resources import (
    get,
    managed_versions,
    member,
    platform,
    template_hash,
    wait_ready,
)

pytestmark = pytest.mark.e2e


def phase(cluster: Any, ns: str) -> str:
    return str(get(cluster, "platform", "mz", ns)["status"]["clientAuth"]["phase"])


def require_flags(cluster: Any, ns: str) -> set[str]:
    return {
        line.split("=", 1)[1]
        for cm in ("mz-rcp-tls", "ec1-rcp-tls")
        for line in get(cluster, "configmap", cm, ns)["data"]["rcp-tls.properties"].splitlines()
        if line.startswith("pico.rcp.tls.require_clientauth=")
    }


def test_client_auth_resumes_half_way_after_an_operator_restart(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    pinned = {"mode": "Pinned"}
    kube_cluster.apply(
        [
            platform(ns, requireClientAuth=False, trust=pinned),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
        ]
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    platform_hash = template_hash(kube_cluster, "statefulset", "mz", ns)
    nodes = [n["metadata"]["name"] for n in kube_cluster.get_json("nodes")["items"]]
    phases: list[str] = []

    def record(expected: str) -> bool:
        now = phase(kube_cluster, ns)
        if not phases or phases[-1] != now:
            phases.append(now)
        return now == expected

    try:
        # No node takes new pods, so the platform's roll with the new trust cannot finish.
        for node in nodes:
            kube_cluster.kubectl("cordon", node)
        # Require client auth and add a desktop at once: its trust must be in place first.
        kube_cluster.apply(
            [
                platform(ns, requireClientAuth=True, trust=pinned),
                member(ns, "DesktopClient", "alice", user="Alice"),
            ]
        )
        kube_cluster.wait_until(
            "trust written, flag held back",
            lambda: (
                record("PreparingTrust")
                and template_hash(kube_cluster, "statefulset", "mz", ns) != platform_hash
            ),
            timeout=60,
            interval=0.2,
        )
        assert require_flags(kube_cluster, ns) == {"false"}

        operator.stop()
        versions = managed_versions(kube_cluster, ns)
        operator.start()
        operator.wait_for_log("reconciled", timeout=60)
        time.sleep(4)  # several settle periods: a wrong step would have been written by now
        assert phase(kube_cluster, ns) == "PreparingTrust"
        assert require_flags(kube_cluster, ns) == {"false"}
        assert managed_versions(kube_cluster, ns) == versions
    finally:
        for node in nodes:
            kube_cluster.kubectl("uncordon", node)

    kube_cluster.wait_until(
        "client auth enforced", lambda: record("Enforced"), timeout=120, interval=0.2
    )
    # (Disabled is what the first poll saw before the operator's first pass.)
    assert [p for p in phases if p != "Disabled"] == ["PreparingTrust", "Enforcing", "Enforced"]
    assert require_flags(kube_cluster, ns) == {"true"}
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "desktopclient", "alice", ns)
