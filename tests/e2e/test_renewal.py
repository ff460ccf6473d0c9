"""End-to-end: a reissued desktop certificate (same key) leaves the key the user already
imported working until that certificate expires; deleting the desktop revokes both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pico_harness.java.tools import start_servers, tls_handshake_batch
from pico_harness.support.resources import (
    generations,
    get,
    member,
    platform,
    platform_server,
    secret_data,
    template_hash,
    wait_ready,
)
from pico_harness.support.secretwatch import SecretVersions
from pico_harness.support.stores import (
    decoded,
    rejected_by_server,
    secret_store,
    store_file,
    stranger_for,
)

pytestmark = pytest.mark.e2e


def trusted_aliases(cluster: Any, ns: str) -> set[str]:
    from pico_tls.keystore import StoreFormat, StoreOptions, decode_keystore

    data = secret_data(cluster, "mz-rcp-tls", ns)
    options = StoreOptions(
        StoreFormat.PKCS12, data["keystore.password"].decode(), data["key.password"].decode()
    )
    return {alias for alias, _ in decode_keystore(data["keystore.p12"], options).trusted}


@pytest.mark.parametrize("trust", ["CertificateAuthority", "Pinned"])
def test_a_reissued_desktop_certificate_keeps_the_imported_key_working(
    kube_cluster: Any, operator: Any, namespace: str, java_probe: Path, tmp_path: Path, trust: str
) -> None:
    ns = namespace
    kube_cluster.apply(
        [
            platform(ns, trust={"mode": trust}),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
            member(ns, "DesktopClient", "alice", user="Alice"),
        ]
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "desktopclient", "alice", ns)
    imported = secret_store(kube_cluster, "alice-desktop-key", ns, tmp_path)
    first_cert = secret_data(kube_cluster, "alice-desktop-key", ns)["tls.crt"]
    platform_hash = template_hash(kube_cluster, "statefulset", "mz", ns)

    # A new subject name means a new certificate for the same key: the platform pins it first
    # (one roll), and only then does the desktop's Secret hand it out.
    kube_cluster.apply(member(ns, "DesktopClient", "alice", user="Alice Smith"))
    kube_cluster.wait_until(
        "desktop switched to its new certificate",
        lambda: secret_data(kube_cluster, "alice-desktop-key", ns)["tls.crt"] != first_cert,
        timeout=90,
    )
    assert template_hash(kube_cluster, "statefulset", "mz", ns) != platform_hash
    assert get(kube_cluster, "statefulset", "mz", ns)["status"].get("updatedReplicas") == 1
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "desktopclient", "alice", ns)
    state = secret_data(kube_cluster, "alice-desktop-key-state", ns)
    assert state["previous.crt"] == first_cert and "next.crt" not in state
    assert {"desktop-alice", "desktop-alice-2"} <= trusted_aliases(kube_cluster, ns)
    reissued = secret_store(kube_cluster, "alice-desktop-key", ns, tmp_path)
    server_store = secret_store(kube_cluster, "mz-rcp-tls", ns, tmp_path)
    stranger = stranger_for(kube_cluster, ns, tmp_path, "mz-rcp-tls")
    with start_servers([platform_server(java_probe, server_store, "platform")]) as (server,):
        results = tls_handshake_batch([(server, c) for c in (imported, reissued, stranger)])
    assert [r.ok for r in results] == [True, True, False], [r.detail for r in results]
    assert rejected_by_server(results[2]), results[2]
    event = results[1].server_event
    assert event is not None and "CN=Alice Smith" in (event.client_subject or "")

    # Deleting the desktop revokes the old and the new certificate.
    rolled = template_hash(kube_cluster, "statefulset", "mz", ns)
    kube_cluster.kubectl("delete", "desktopclient", "alice", "-n", ns)
    kube_cluster.wait_until(
        "platform rolled without alice",
        lambda: template_hash(kube_cluster, "statefulset", "mz", ns) != rolled,
    )
    assert get(kube_cluster, "platform", "mz", ns)["status"]["trustedClients"] == 1
    assert not {"desktop-alice", "desktop-alice-2"} & trusted_aliases(kube_cluster, ns)
    server_store = secret_store(kube_cluster, "mz-rcp-tls", ns, tmp_path)
    ec1 = secret_store(kube_cluster, "ec1-rcp-tls", ns, tmp_path)
    with start_servers([platform_server(java_probe, server_store, "platform")]) as (server,):
        results = tls_handshake_batch([(server, c) for c in (imported, reissued, ec1)])
    assert [r.ok for r in results] == [False, False, True], [r.detail for r in results]
    assert rejected_by_server(results[0]) and rejected_by_server(results[1]), results


def test_the_renew_annotation_reissues_once_and_rolls_only_its_owner(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply(
        [
            platform(ns),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
            member(ns, "ExecutionContainer", "ec2", image="pico/ec:test"),
        ]
    )
    for name in ("ec1", "ec2"):
        wait_ready(kube_cluster, "executioncontainer", name, ns)
    before = {n: secret_data(kube_cluster, f"{n}-rcp-tls-state", ns) for n in ("ec1", "ec2")}
    hashes = {
        "mz": template_hash(kube_cluster, "statefulset", "mz", ns),
        "ec2": template_hash(kube_cluster, "deployment", "ec2", ns),
    }
    ec1_hash = template_hash(kube_cluster, "deployment", "ec1", ns)

    kube_cluster.kubectl("annotate", "executioncontainer", "ec1", "-n", ns, "picotls.dev/renew=r1")
    kube_cluster.wait_until(
        "ec1 renewed",
        lambda: (
            (get(kube_cluster, "executioncontainer", "ec1", ns).get("status") or {}).get(
                "renewRequest"
            )
            == "r1"
        ),
    )
    ec1 = wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    after = secret_data(kube_cluster, "ec1-rcp-tls-state", ns)
    assert after["tls.key"] == before["ec1"]["tls.key"]
    assert after["tls.crt"] != before["ec1"]["tls.crt"]
    assert template_hash(kube_cluster, "deployment", "ec1", ns) != ec1_hash
    # CA trust: nobody else changes.
    assert secret_data(kube_cluster, "ec2-rcp-tls-state", ns) == before["ec2"]
    assert template_hash(kube_cluster, "statefulset", "mz", ns) == hashes["mz"]
    assert template_hash(kube_cluster, "deployment", "ec2", ns) == hashes["ec2"]
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert any("renewal requested" in e["message"] for e in events)
    assert ec1["status"]["certificateFingerprint"]

    # The same value again is not a new request: a later pass (a spec change) renews nothing.
    kube_cluster.kubectl(
        "patch",
        "executioncontainer",
        "ec1",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec": {"properties": {"pico.example": "1"}}}',
    )
    kube_cluster.wait_until(
        "ec1 properties written",
        lambda: (
            "pico.example=1"
            in get(kube_cluster, "configmap", "ec1-rcp-tls", ns)["data"]["rcp-tls.properties"]
        ),
    )
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    assert secret_data(kube_cluster, "ec1-rcp-tls-state", ns)["tls.crt"] == after["tls.crt"]


def test_pinned_renewal_is_pinned_by_the_platform_before_the_container_presents_it(
    kube_cluster: Any, operator: Any, namespace: str, java_probe: Path, tmp_path: Path
) -> None:
    ns = namespace
    kube_cluster.apply(
        [
            platform(ns, trust={"mode": "Pinned"}),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
        ]
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    workloads_before = generations(kube_cluster, ns)
    versions = SecretVersions(kube_cluster, ns, ("mz-rcp-tls", "ec1-rcp-tls"))
    try:
        kube_cluster.wait_until(
            "watch sees the current Secrets", lambda: all(versions.versions.values()), timeout=30
        )
        kube_cluster.kubectl(
            "annotate", "executioncontainer", "ec1", "-n", ns, "picotls.dev/renew=1"
        )
        kube_cluster.wait_until(
            "ec1 presents its renewed certificate",
            lambda: len(versions.versions["ec1-rcp-tls"]) >= 2,
            timeout=90,
        )
        wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
        wait_ready(kube_cluster, "platform", "mz", ns)
    finally:
        versions.stop()

    # The platform's store changed first (pins old + new), then ec1's (presents new); one
    # roll each.
    assert versions.order[-2:] == [("mz-rcp-tls", 1), ("ec1-rcp-tls", 1)], versions.order
    assert len(versions.versions["mz-rcp-tls"]) == 2
    assert {k: g - workloads_before[k] for k, g in generations(kube_cluster, ns).items()} == {
        "mz": 1,
        "ec1": 1,
    }
    # ...and ec1's only after the platform had rolled out: its Secret was written after the
    # StatefulSet's last change (etcd revisions of one cluster are ordered).
    sts = get(kube_cluster, "statefulset", "mz", ns)["metadata"]["resourceVersion"]
    ec1_secret = get(kube_cluster, "secret", "ec1-rcp-tls", ns)["metadata"]["resourceVersion"]
    assert int(ec1_secret) > int(sts)
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert any(e["reason"] == "CertificatesPromoted" for e in events)

    # Every pair that can run side by side handshakes; the one the order avoids would not.
    servers = [
        platform_server(java_probe, store_file(decoded(d), tmp_path / f"mz-{i}"), "platform")
        for i, d in enumerate(versions.versions["mz-rcp-tls"])
    ]
    clients = [
        store_file(decoded(d), tmp_path / f"ec1-{j}")
        for j, d in enumerate(versions.versions["ec1-rcp-tls"])
    ]
    pairs = [(0, 0), (1, 0), (1, 1), (0, 1)]
    with start_servers(servers) as started:
        results = tls_handshake_batch([(started[i], clients[j]) for i, j in pairs])
    assert [r.ok for r in results] == [True, True, True, False], [r.detail for r in results]
