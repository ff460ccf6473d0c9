"""End-to-end: the user's own CA, Shared keystores with pinned JKS trust, password changes."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pico_harness.java.tools import start_servers, tls_handshake_batch
from pico_harness.support.resources import (
    condition,
    generations,
    get,
    member,
    platform,
    platform_server,
    secret_data,
    tls_secret,
    wait_ready,
)
from pico_harness.support.stores import (
    rejected_by_server,
    secret_store,
    stranger_for,
)
from pico_tls.pki.certs import cert_to_pem, create_ca, sha256_fingerprint
from pico_tls.pki.keys import KeyAlgorithm, generate_key, key_to_pem

pytestmark = pytest.mark.e2e


def test_a_users_ca_is_checked_then_used(kube_cluster: Any, operator: Any, namespace: str) -> None:
    ns = namespace
    ca = create_ca(
        "Example Corp pico CA", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=365)
    )
    other_key = generate_key(KeyAlgorithm.EC_P256)
    kube_cluster.apply(
        tls_secret(
            ns,
            "corp-ca",
            {"tls.crt": cert_to_pem(ca.certificate), "tls.key": key_to_pem(other_key)},
        )
    )
    kube_cluster.apply(
        [
            platform(
                ns, trust={"mode": "CertificateAuthority", "caSecretRef": {"name": "corp-ca"}}
            ),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
        ]
    )

    def refused() -> bool:
        obj = get(kube_cluster, "platform", "mz", ns)
        return condition(obj, "KeystoreReady") == "False"

    kube_cluster.wait_until("mismatched CA key reported", refused, timeout=60)
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert any(e["reason"] == "CAInvalid" and "corp-ca" in e["message"] for e in events)
    assert not any("PRIVATE KEY" in e["message"] for e in events)

    # The fixed Secret is picked up from its own watch event, not a periodic resync.
    kube_cluster.apply(
        tls_secret(
            ns, "corp-ca", {"tls.crt": cert_to_pem(ca.certificate), "tls.key": key_to_pem(ca.key)}
        )
    )
    status = wait_ready(kube_cluster, "platform", "mz", ns, timeout=60)["status"]
    assert status["caFingerprint"] == sha256_fingerprint(ca.certificate)
    assert secret_data(kube_cluster, "ec1-rcp-tls", ns)["ca.crt"] == cert_to_pem(ca.certificate)
    assert kube_cluster.kubectl("get", "secret", "mz-ca", "-n", ns, check=False).returncode != 0


def test_shared_keystores_with_pinned_jks_trust(
    kube_cluster: Any, operator: Any, namespace: str, java_probe: Path, tmp_path: Path
) -> None:
    ns = namespace
    kube_cluster.apply(
        [
            platform(
                ns,
                keystoreMode="Shared",
                trust={"mode": "Pinned"},
                format={"type": "JKS"},
                key={"algorithm": "ECDSA", "size": 384},
            ),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
            member(ns, "DesktopClient", "carol", user="Carol", format={"type": "JKS"}),
        ]
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    wait_ready(kube_cluster, "desktopclient", "carol", ns)
    # Shared: the container holds the platform's key (the seed's method a).
    platform_data = secret_data(kube_cluster, "mz-rcp-tls", ns)
    assert secret_data(kube_cluster, "ec1-rcp-tls", ns)["tls.crt"] == platform_data["tls.crt"]
    props = get(kube_cluster, "configmap", "ec1-rcp-tls", ns)["data"]["rcp-tls.properties"]
    assert "pico.rcp.tls.keystore=/etc/pico/tls/keystore.jks" in props
    assert "pico.rcp.tls.keystore.alias=platform" in props

    server_store = secret_store(kube_cluster, "mz-rcp-tls", ns, tmp_path)
    clients = [
        secret_store(kube_cluster, s, ns, tmp_path) for s in ("ec1-rcp-tls", "carol-desktop-key")
    ]
    with start_servers([platform_server(java_probe, server_store, "platform")]) as (server,):
        stranger = stranger_for(kube_cluster, ns, tmp_path, "mz-rcp-tls")
        results = tls_handshake_batch([(server, c) for c in [*clients, stranger]])
    assert [r.ok for r in results] == [True, True, False], [r.detail for r in results]
    assert rejected_by_server(results[2]), results[2]
    assert server_store.store_type == "JKS"


def test_a_changed_password_secret_rolls_the_pods_once(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.kubectl(
        "create",
        "secret",
        "generic",
        "pico-pw",
        "-n",
        ns,
        "--from-literal=keystore.password=first-Passw0rd",
    )
    kube_cluster.apply(
        [
            platform(ns, passwordSecretRef={"name": "pico-pw"}),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
        ]
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    before = generations(kube_cluster, ns)
    assert secret_data(kube_cluster, "mz-rcp-tls", ns)["keystore.password"] == b"first-Passw0rd"
    key_before = secret_data(kube_cluster, "mz-rcp-tls-state", ns)["tls.key"]
    cert_before = secret_data(kube_cluster, "mz-rcp-tls", ns)["tls.crt"]

    kube_cluster.kubectl(
        "patch",
        "secret",
        "pico-pw",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"stringData": {"keystore.password": "second-Passw0rd"}}),
    )
    kube_cluster.wait_until(
        "new password in the keystore Secret",
        lambda: (
            secret_data(kube_cluster, "mz-rcp-tls", ns)["keystore.password"] == b"second-Passw0rd"
        ),
        timeout=60,
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    after = generations(kube_cluster, ns)
    assert {k: after[k] - before[k] for k in before} == {"mz": 1, "ec1": 1}
    # The certificate and key stayed: only the passwords changed.
    assert secret_data(kube_cluster, "mz-rcp-tls-state", ns)["tls.key"] == key_before
    assert secret_data(kube_cluster, "mz-rcp-tls", ns)["tls.crt"] == cert_before


def test_a_container_named_like_another_platform_is_refused(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    other = platform(ns)
    other["metadata"]["name"] = "other"
    # The Platform first, so that the container is the newcomer (created in the same second,
    # the tie would be broken by uid, and either could be the one refused).
    kube_cluster.apply([platform(ns), other])
    wait_ready(kube_cluster, "platform", "other", ns)
    time.sleep(1.1)  # creationTimestamp has a resolution of one second
    kube_cluster.apply(
        [
            member(ns, "ExecutionContainer", "other", image="pico/ec:test"),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
        ]
    )
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)

    def refused() -> dict[str, Any] | None:
        obj = get(kube_cluster, "executioncontainer", "other", ns)
        return obj if condition(obj, "Ready") == "False" else None

    obj = kube_cluster.wait_until("clash reported", refused, timeout=60)
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NameClash" and "other-rcp-tls" in ready["message"]
    assert "Platform other" in ready["message"]
    # The Platform keeps its own Secret; no Deployment was made for the refused container.
    owner = get(kube_cluster, "secret", "other-rcp-tls", ns)["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Platform"
    assert kube_cluster.kubectl("get", "deployment", "other", "-n", ns, check=False).returncode
    versions = generations(kube_cluster, ns)
    time.sleep(4)  # no tug of war over the shared names
    assert generations(kube_cluster, ns) == versions


def test_a_new_format_and_alias_alone_rebuild_the_stores_and_roll_once(
    kube_cluster: Any, operator: Any, namespace: str, tmp_path: Path
) -> None:
    from pico_harness.java.tools import keytool_list

    ns = namespace
    kube_cluster.apply(
        [platform(ns), member(ns, "ExecutionContainer", "ec1", image="pico/ec:test")]
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    key_before = secret_data(kube_cluster, "mz-rcp-tls-state", ns)["tls.key"]
    workloads_before = generations(kube_cluster, ns)

    # Only the format and the alias change: no key, certificate or password does.
    kube_cluster.apply(platform(ns, format={"type": "JKS"}, alias="mz-main"))

    def rebuilt() -> bool:
        data = secret_data(kube_cluster, "mz-rcp-tls", ns)
        return "keystore.jks" in data and "keystore.p12" not in data

    kube_cluster.wait_until("platform store rebuilt as JKS", rebuilt, timeout=60)
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    props = get(kube_cluster, "configmap", "mz-rcp-tls", ns)["data"]["rcp-tls.properties"]
    assert "pico.rcp.tls.keystore=/etc/pico/tls/keystore.jks" in props
    assert "pico.rcp.tls.keystore.alias=mz-main" in props
    assert secret_data(kube_cluster, "mz-rcp-tls-state", ns)["tls.key"] == key_before
    store = secret_store(kube_cluster, "mz-rcp-tls", ns, tmp_path)
    entries = {e.alias: e.entry_type for e in keytool_list(store.path, store.store_password, "JKS")}
    assert entries == {"mz-main": "PrivateKeyEntry", "pico-ca": "trustedCertEntry"}
    # The container's store is JKS too (same format); each workload rolled exactly once.
    assert "keystore.jks" in secret_data(kube_cluster, "ec1-rcp-tls", ns)
    after = generations(kube_cluster, ns)
    assert {k: after[k] - workloads_before[k] for k in workloads_before} == {"mz": 1, "ec1": 1}
