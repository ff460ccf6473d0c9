"""End-to-end: `spec.tls.retainOnDelete` on the local control plane. Deleting the Platform
lets garbage collection take its workloads and mounted Secret but not its CA Secret and key
state Secret; the Platform recreated with the same name adopts them (same CA, same key)."""

from __future__ import annotations

from typing import Any

import pytest

from pico_harness.support.resources import exists, get, member, platform, secret_data, wait_ready

pytestmark = pytest.mark.e2e


def test_a_retained_platform_comes_back_with_its_ca_and_key(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    body = platform(ns, retainOnDelete=True)
    kube_cluster.apply([body, member(ns, "ExecutionContainer", "ec1", image="pico/ec:test")])
    first = wait_ready(kube_cluster, "platform", "mz", ns)
    ca = secret_data(kube_cluster, "mz-ca", ns)["tls.crt"]
    key = secret_data(kube_cluster, "mz-rcp-tls-state", ns)["tls.key"]
    for name in ("mz-ca", "mz-rcp-tls-state"):
        assert not get(kube_cluster, "secret", name, ns)["metadata"].get("ownerReferences")

    kube_cluster.kubectl("delete", "platform", "mz", "-n", ns, "--wait=true")
    kube_cluster.wait_until(
        "garbage collection of the mounted Secret",
        lambda: (
            not exists(kube_cluster, "secret", "mz-rcp-tls", ns)
            and not exists(kube_cluster, "statefulset", "mz", ns)
        ),
        timeout=60,
    )
    assert exists(kube_cluster, "secret", "mz-ca", ns)
    assert exists(kube_cluster, "secret", "mz-rcp-tls-state", ns)

    kube_cluster.apply(body)
    again = wait_ready(kube_cluster, "platform", "mz", ns)
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    assert secret_data(kube_cluster, "mz-ca", ns)["tls.crt"] == ca
    assert secret_data(kube_cluster, "mz-rcp-tls-state", ns)["tls.key"] == key
    assert again["status"]["caFingerprint"] == first["status"]["caFingerprint"]
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert not [e for e in events if e["reason"] in ("KeyLost", "NameClash")]
    assert len([e for e in events if e["reason"] == "CACreated"]) == 1
