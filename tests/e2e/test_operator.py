"""End-to-end: the operator under the RBAC of manifests/ on a real kube-apiserver.

Covers the examples rolling out, keystores accepted by a real JVM, the ordered client-auth
transition, trust updates and revocation, repair of tampered Secrets, a restart that writes
nothing, and invalid input reported in status and Events.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from pico_harness.java.tools import start_servers, tls_handshake_batch
from pico_harness.support.resources import (
    condition,
    examples_in,
    exists,
    generations,
    get,
    managed_versions,
    platform_server,
    secret_data,
    template_hash,
    wait_ready,
)
from pico_harness.support.stores import rejected_by_server, secret_store, stranger_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def ns(namespace: str) -> str:
    return namespace


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "stores"
    folder.mkdir()
    return folder


def test_examples_roll_out_and_java_accepts_the_stores(
    kube_cluster: Any, operator: Any, ns: str, java_probe: Path, workdir: Path
) -> None:
    kube_cluster.apply(examples_in(ns))
    platform = wait_ready(kube_cluster, "platform", "mz", ns)
    for ec in ("ec1", "ec2"):
        wait_ready(kube_cluster, "executioncontainer", ec, ns)
    for desktop in ("alice", "bob"):
        wait_ready(kube_cluster, "desktopclient", desktop, ns)
    status = platform["status"]
    assert status["clientAuth"] == {"desired": True, "effective": True, "phase": "Enforced"}
    assert status["trustedClients"] == 4 and status["notAfter"]
    assert condition(platform, "ClientAuthEnforced") == "True"

    props = get(kube_cluster, "configmap", "ec1-rcp-tls", ns)["data"]["rcp-tls.properties"]
    assert "pico.rcp.tls.require_clientauth=true" in props
    assert f"pico.rcp.platform.host=mz.{ns}.svc" in props
    assert "password" not in props
    pods = kube_cluster.get_json("pods", "-n", ns)["items"]
    assert len(pods) == 4  # mz-0, ec1 x1, ec2 x2
    assert all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
        for p in pods
    )

    # The platform's keystore, with client auth required, accepts the containers and the
    # desktops and rejects a stranger; it presents the key named by the alias property.
    server_store = secret_store(kube_cluster, "mz-rcp-tls", ns, workdir)
    clients = [
        secret_store(kube_cluster, s, ns, workdir)
        for s in ("ec1-rcp-tls", "ec2-rcp-tls", "alice-desktop-key", "bob-desktop-key")
    ]
    # The stranger trusts the platform: only the platform's check of it can fail.
    stranger = stranger_for(kube_cluster, ns, workdir, "mz-rcp-tls")
    with start_servers([platform_server(java_probe, server_store, "platform")]) as (server,):
        results = tls_handshake_batch([(server, c) for c in [*clients, stranger]])
    assert [r.ok for r in results] == [True, True, True, True, False], [r.detail for r in results]
    assert all(r.server_subject and "CN=mz" in r.server_subject for r in results[:4])
    assert rejected_by_server(results[4]), results[4]


def test_client_auth_on_then_off_in_a_safe_order(kube_cluster: Any, operator: Any, ns: str) -> None:
    docs = [
        d
        for d in examples_in(ns, requireClientAuth=False)
        if d["kind"] == "Platform" or d["metadata"]["name"] == "ec1"
    ]
    kube_cluster.apply(docs)
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    before = generations(kube_cluster, ns)
    phases: list[str] = []

    def record_phase(expected: str) -> bool:
        phase = get(kube_cluster, "platform", "mz", ns)["status"]["clientAuth"]["phase"]
        if not phases or phases[-1] != phase:
            phases.append(phase)
        return phase == expected

    kube_cluster.kubectl(
        "patch",
        "platform",
        "mz",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"tls": {"requireClientAuth": True}}}),
    )
    kube_cluster.wait_until(
        "client auth enforced", lambda: record_phase("Enforced"), timeout=120, interval=0.2
    )
    # Keys and trust were already in place, so the flag went out in one roll of every workload.
    after_on = generations(kube_cluster, ns)
    assert {k: after_on[k] - before[k] for k in before} == {"mz": 1, "ec1": 1}
    assert phases[-1] == "Enforced" and "Relaxing" not in phases
    for cm in ("mz-rcp-tls", "ec1-rcp-tls"):
        assert (
            "require_clientauth=true"
            in get(kube_cluster, "configmap", cm, ns)["data"]["rcp-tls.properties"]
        )
    wait_ready(kube_cluster, "platform", "mz", ns)

    kube_cluster.kubectl(
        "patch",
        "platform",
        "mz",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"tls": {"requireClientAuth": False}}}),
    )
    phases.clear()
    kube_cluster.wait_until(
        "client auth relaxed", lambda: record_phase("Disabled"), timeout=120, interval=0.2
    )
    after_off = generations(kube_cluster, ns)
    assert {k: after_off[k] - after_on[k] for k in before} == {"mz": 1, "ec1": 1}
    assert (
        "require_clientauth=false"
        in get(kube_cluster, "configmap", "ec1-rcp-tls", ns)["data"]["rcp-tls.properties"]
    )


def test_trust_follows_members_and_deleted_desktops_are_revoked(
    kube_cluster: Any, operator: Any, ns: str, java_probe: Path, workdir: Path
) -> None:
    docs = [d for d in examples_in(ns) if d["metadata"]["name"] in ("mz", "ec1", "alice", "bob")]
    kube_cluster.apply(docs)
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "desktopclient", "bob", ns)
    platform_hash = template_hash(kube_cluster, "statefulset", "mz", ns)
    bob = secret_store(kube_cluster, "bob-desktop-key", ns, workdir)
    alice = secret_store(kube_cluster, "alice-desktop-key", ns, workdir)

    # With CA trust, a new ExecutionContainer does not restart the platform.
    ec2 = next(d for d in examples_in(ns) if d["metadata"]["name"] == "ec2")
    kube_cluster.apply(ec2)
    wait_ready(kube_cluster, "executioncontainer", "ec2", ns)
    assert template_hash(kube_cluster, "statefulset", "mz", ns) == platform_hash

    # Deleting a desktop revokes it: the platform's new keystore rejects bob, accepts alice.
    kube_cluster.kubectl("delete", "desktopclient", "bob", "-n", ns)
    kube_cluster.wait_until(
        "platform rolled without bob",
        lambda: template_hash(kube_cluster, "statefulset", "mz", ns) != platform_hash,
    )
    platform = wait_ready(kube_cluster, "platform", "mz", ns)
    assert platform["status"]["trustedClients"] == 3
    server_store = secret_store(kube_cluster, "mz-rcp-tls", ns, workdir)
    ec2_store = secret_store(kube_cluster, "ec2-rcp-tls", ns, workdir)
    with start_servers([platform_server(java_probe, server_store, "platform")]) as (server,):
        results = tls_handshake_batch([(server, c) for c in (alice, ec2_store, bob)])
    assert [r.ok for r in results] == [True, True, False], [r.detail for r in results]
    assert rejected_by_server(results[2]), results[2]  # bob trusts the platform; it refuses bob


def test_pinned_trust_rolls_the_platform_once_for_ten_new_containers(
    kube_cluster: Any, operator: Any, ns: str
) -> None:
    docs = [
        d
        for d in examples_in(ns, trust={"mode": "Pinned"}, requireClientAuth=False)
        if d["kind"] == "Platform"
    ]
    kube_cluster.apply(docs)
    wait_ready(kube_cluster, "platform", "mz", ns)
    generation = generations(kube_cluster, ns)["mz"]
    containers: list[dict[str, Any]] = [
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "ExecutionContainer",
            "metadata": {"name": f"ec{i}", "namespace": ns},
            "spec": {"platformRef": {"name": "mz"}, "image": "pico/ec:test"},
        }
        for i in range(10)
    ]
    kube_cluster.apply(containers)
    for c in containers:
        wait_ready(kube_cluster, "executioncontainer", c["metadata"]["name"], ns)
    platform = wait_ready(kube_cluster, "platform", "mz", ns)
    assert platform["status"]["trustedClients"] == 10
    assert generations(kube_cluster, ns)["mz"] == generation + 1
    listing = secret_data(kube_cluster, "mz-rcp-tls", ns)
    assert "keystore.p12" in listing


def test_restart_writes_nothing_and_tampered_secrets_are_restored(
    kube_cluster: Any, operator: Any, ns: str
) -> None:
    docs = [d for d in examples_in(ns) if d["metadata"]["name"] in ("mz", "ec1", "alice")]
    kube_cluster.apply(docs)
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    wait_ready(kube_cluster, "desktopclient", "alice", ns)
    operator.stop()
    versions = managed_versions(kube_cluster, ns)
    workloads_before = generations(kube_cluster, ns)
    operator.start()
    operator.wait_for_log("reconciled", timeout=60)
    import time

    time.sleep(5)  # several settle periods: any write would have happened by now
    after = managed_versions(kube_cluster, ns)
    assert after == versions, {
        k: (versions.get(k), v) for k, v in after.items() if versions.get(k) != v
    }

    # A deleted Secret comes back with the same key; nothing rolls.
    cert = secret_data(kube_cluster, "ec1-rcp-tls", ns)["tls.crt"]
    kube_cluster.kubectl("delete", "secret", "ec1-rcp-tls", "-n", ns)
    kube_cluster.wait_until(
        "secret restored", lambda: exists(kube_cluster, "secret", "ec1-rcp-tls", ns)
    )
    assert secret_data(kube_cluster, "ec1-rcp-tls", ns)["tls.crt"] == cert
    # So does a deleted state Secret: its key is recovered from the mounted Secret.
    key = secret_data(kube_cluster, "ec1-rcp-tls-state", ns)["tls.key"]
    kube_cluster.kubectl("delete", "secret", "ec1-rcp-tls-state", "-n", ns)
    kube_cluster.wait_until(
        "state secret restored", lambda: exists(kube_cluster, "secret", "ec1-rcp-tls-state", ns)
    )
    assert secret_data(kube_cluster, "ec1-rcp-tls-state", ns)["tls.key"] == key
    assert secret_data(kube_cluster, "ec1-rcp-tls", ns)["tls.crt"] == cert
    # An edited keystore is restored too.
    kube_cluster.kubectl(
        "patch",
        "secret",
        "mz-rcp-tls",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"data": {"keystore.p12": base64.b64encode(b"junk").decode()}}),
    )
    kube_cluster.wait_until(
        "keystore restored",
        lambda: secret_data(kube_cluster, "mz-rcp-tls", ns)["keystore.p12"] != b"junk",
    )
    # An edited ConfigMap is restored too.
    kube_cluster.kubectl(
        "patch",
        "configmap",
        "ec1-rcp-tls",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"data": {"rcp-tls.properties": "pico.rcp.tls.keystore=/x\n"}}),
    )
    kube_cluster.wait_until(
        "properties restored",
        lambda: (
            "require_clientauth=true"
            in get(kube_cluster, "configmap", "ec1-rcp-tls", ns)["data"]["rcp-tls.properties"]
        ),
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    assert generations(kube_cluster, ns) == workloads_before


def test_invalid_input_is_reported_not_crashed_on(
    kube_cluster: Any, operator: Any, ns: str
) -> None:
    platform = next(d for d in examples_in(ns) if d["kind"] == "Platform")
    platform["spec"]["tls"]["passwordSecretRef"] = {"name": "missing-password"}
    kube_cluster.apply(platform)

    def reported() -> bool:
        obj = get(kube_cluster, "platform", "mz", ns)
        return condition(obj, "KeystoreReady") == "False"

    kube_cluster.wait_until("password problem reported", reported, timeout=60)
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert any(
        e["reason"] == "PasswordSecretInvalid" and "missing-password" in e["message"]
        for e in events
    )
    # Fixing the input lets the operator go on.
    kube_cluster.kubectl(
        "create",
        "secret",
        "generic",
        "missing-password",
        "-n",
        ns,
        "--from-literal=keystore.password=s3cret-Passw0rd",
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    data = secret_data(kube_cluster, "mz-rcp-tls", ns)
    assert data["keystore.password"] == b"s3cret-Passw0rd"
    logs = operator.log_text()
    assert "s3cret-Passw0rd" not in logs
    assert "PRIVATE KEY" not in logs
