"""End-to-end: a reissued desktop certificate (same key) leaves the key the user already
imported working until that certificate expires; deleting the desktop revokes both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.test_operator import (
    _stranger_store,
    get,
    platform_server,
    secret_data,
    store_of,
    template_hash,
    wait_ready,
)
from tests.e2e.test_operator_modes import member, platform
from tests.javatools import start_servers, tls_handshake_batch

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
    imported = store_of(kube_cluster, "alice-desktop-key", ns, tmp_path)
    first_cert = secret_data(kube_cluster, "alice-desktop-key", ns)["tls.crt"]
    platform_hash = template_hash(kube_cluster, "statefulset", "mz", ns)

    # A new subject name means a new certificate for the same key.
    kube_cluster.apply(member(ns, "DesktopClient", "alice", user="Alice Smith"))
    kube_cluster.wait_until(
        "platform rolled with the new desktop certificate",
        lambda: template_hash(kube_cluster, "statefulset", "mz", ns) != platform_hash,
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "desktopclient", "alice", ns)
    data = secret_data(kube_cluster, "alice-desktop-key", ns)
    assert data["tls.crt"] != first_cert
    state = secret_data(kube_cluster, "alice-desktop-key-state", ns)
    assert state["previous.crt"] == first_cert
    assert {"desktop-alice", "desktop-alice-previous"} <= trusted_aliases(kube_cluster, ns)
    reissued = store_of(kube_cluster, "alice-desktop-key", ns, tmp_path)
    server_store = store_of(kube_cluster, "mz-rcp-tls", ns, tmp_path)
    stranger = _stranger_store(tmp_path)
    with start_servers([platform_server(java_probe, server_store, "platform")]) as (server,):
        results = tls_handshake_batch([(server, c) for c in (imported, reissued, stranger)])
    assert [r.ok for r in results] == [True, True, False], [r.detail for r in results]
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
    assert not {"desktop-alice", "desktop-alice-previous"} & trusted_aliases(kube_cluster, ns)
    server_store = store_of(kube_cluster, "mz-rcp-tls", ns, tmp_path)
    ec1 = store_of(kube_cluster, "ec1-rcp-tls", ns, tmp_path)
    with start_servers([platform_server(java_probe, server_store, "platform")]) as (server,):
        results = tls_handshake_batch([(server, c) for c in (imported, reissued, ec1)])
    assert [r.ok for r in results] == [False, False, True], [r.detail for r in results]
