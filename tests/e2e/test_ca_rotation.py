"""End-to-end: CA rotation with trust overlap. Every version of the platform's keystore that
may run next to a version of a container's keystore (same or neighbouring phase) accepts it in
a real JVM handshake; versions two phases apart would not, which is why the phases exist."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pico_harness.java.tools import start_servers, tls_handshake_batch
from pico_harness.support.resources import (
    condition,
    fingerprints,
    generations,
    get,
    managed_versions,
    member,
    platform,
    platform_server,
    secret_data,
    tls_secret,
    wait_ready,
)
from pico_harness.support.secretwatch import SecretVersions
from pico_harness.support.stores import decoded, store_file
from pico_tls.pki.certs import cert_to_pem, certs_from_pem, create_ca, sha256_fingerprint
from pico_tls.pki.keys import KeyAlgorithm, generate_key, key_to_pem

pytestmark = pytest.mark.e2e

WATCHED = ("mz-rcp-tls", "ec1-rcp-tls", "alice-desktop-key")


def test_operator_ca_rotation_keeps_every_neighbouring_version_talking(
    kube_cluster: Any, operator: Any, namespace: str, java_probe: Path, tmp_path: Path
) -> None:
    ns = namespace
    kube_cluster.apply(
        [
            platform(ns),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
            member(ns, "DesktopClient", "alice", user="Alice"),
        ]
    )
    before = wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    old_ca = before["status"]["caFingerprint"]
    workloads_before = generations(kube_cluster, ns)

    versions = SecretVersions(kube_cluster, ns, WATCHED)
    try:
        kube_cluster.wait_until(
            "watch sees the current Secrets",
            lambda: all(versions.versions[n] for n in WATCHED),
            timeout=30,
        )
        kube_cluster.kubectl("annotate", "platform", "mz", "-n", ns, "picotls.dev/rotate-ca=1")

        def rotated() -> dict[str, Any] | None:
            obj = get(kube_cluster, "platform", "mz", ns)
            status = obj.get("status") or {}
            done = (
                status.get("caFingerprint") not in (None, old_ca)
                and not status.get("caRotation")
                and condition(obj, "Ready") == "True"
            )
            return obj if done else None

        after = kube_cluster.wait_until("CA rotation done", rotated, timeout=180)
        wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
        kube_cluster.wait_until(
            "watch sees the last versions",
            lambda: (
                len(versions.versions["mz-rcp-tls"]) >= 4
                and len(versions.versions["ec1-rcp-tls"]) >= 4
            ),
            timeout=30,
        )
    finally:
        versions.stop()
    new_ca = after["status"]["caFingerprint"]

    # Four versions each: before, TrustBoth, Reissue, DropOld.
    platform_v, container_v = versions.versions["mz-rcp-tls"], versions.versions["ec1-rcp-tls"]
    assert len(platform_v) == 4 and len(container_v) == 4, (len(platform_v), len(container_v))
    for v in (platform_v, container_v):
        assert [fingerprints(d, "ca.crt") for d in v] == [
            [old_ca],
            [new_ca, old_ca],
            [new_ca, old_ca],
            [new_ca],
        ]
        certs = [d["tls.crt"] for d in v]
        assert certs[0] == certs[1] != certs[2] == certs[3]  # reissued once, in Reissue

    # Each workload rolled exactly once per phase.
    assert {k: g - workloads_before[k] for k, g in generations(kube_cluster, ns).items()} == {
        "mz": 3,
        "ec1": 3,
    }
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    rotation_events = [e["message"] for e in events if e["reason"] == "CARotation"]
    assert len(rotation_events) == 4, rotation_events  # start, 2 phase moves, complete
    assert not any("PRIVATE KEY" in e["message"] for e in events)
    ca_secret = secret_data(kube_cluster, "mz-ca", ns)
    assert fingerprints({"c": base64.b64encode(ca_secret["previous.crt"]).decode()}, "c") == [
        old_ca
    ]

    # JVM handshakes, platform version i serving container version j with client auth.
    servers = [
        platform_server(java_probe, store_file(decoded(d), tmp_path / f"mz-{i}"), "platform")
        for i, d in enumerate(platform_v)
    ]
    clients = [store_file(decoded(d), tmp_path / f"ec1-{j}") for j, d in enumerate(container_v)]
    pairs = [(i, j) for i in range(4) for j in range(4) if abs(i - j) <= 1] + [(0, 3), (3, 0)]
    desktops = versions.versions["alice-desktop-key"]
    desktop_last = store_file(decoded(desktops[-1]), tmp_path / "alice-last")
    with start_servers(servers) as started:
        results = tls_handshake_batch(
            [(started[i], clients[j]) for i, j in pairs] + [(started[3], desktop_last)]
        )
    outcome = {pair: r.ok for pair, r in zip(pairs, results, strict=False)}
    assert all(outcome[p] for p in pairs if abs(p[0] - p[1]) <= 1), [
        (p, r.detail) for p, r in zip(pairs, results, strict=False) if not r.ok
    ]
    assert not outcome[(0, 3)] and not outcome[(3, 0)]  # no overlap, no handshake
    assert results[-1].ok, results[-1].detail  # the desktop's current key works after rotation


def test_replacing_a_users_ca_rotates_with_overlap(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace

    def user_ca(name: str) -> tuple[str, dict[str, Any]]:
        ca = create_ca(name, generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=365))
        secret = tls_secret(
            ns, "corp-ca", {"tls.crt": cert_to_pem(ca.certificate), "tls.key": key_to_pem(ca.key)}
        )
        return sha256_fingerprint(ca.certificate), secret

    first, secret = user_ca("Example Corp CA 1")
    kube_cluster.apply(
        [
            secret,
            platform(
                ns, trust={"mode": "CertificateAuthority", "caSecretRef": {"name": "corp-ca"}}
            ),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
        ]
    )
    assert wait_ready(kube_cluster, "platform", "mz", ns)["status"]["caFingerprint"] == first
    second, secret = user_ca("Example Corp CA 2")
    kube_cluster.apply(secret)

    def phases_seen() -> set[str]:
        events = kube_cluster.get_json("events", "-n", ns)["items"]
        return {e["message"] for e in events if e["reason"] == "CARotation"}

    def rotated() -> bool:
        status = get(kube_cluster, "platform", "mz", ns).get("status") or {}
        return status.get("caFingerprint") == second and not status.get("caRotation")

    kube_cluster.wait_until("user CA rotation done", rotated, timeout=180)
    data = secret_data(kube_cluster, "ec1-rcp-tls", ns)
    assert [sha256_fingerprint(c) for c in certs_from_pem(data["ca.crt"])] == [second]
    messages = phases_seen()
    assert any(m.startswith("CA rotation started") and first in m for m in messages), messages
    assert any("complete" in m for m in messages), messages


def test_a_deleted_ca_secret_is_replaced_by_a_rotation_not_an_outage(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply(
        [platform(ns), member(ns, "ExecutionContainer", "ec1", image="pico/ec:test")]
    )
    old_ca = wait_ready(kube_cluster, "platform", "mz", ns)["status"]["caFingerprint"]
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    versions = SecretVersions(kube_cluster, ns, ("ec1-rcp-tls",))
    try:
        kube_cluster.wait_until(
            "watch sees ec1's Secret", lambda: versions.versions["ec1-rcp-tls"], timeout=30
        )
        kube_cluster.kubectl("delete", "secret", "mz-ca", "-n", ns)

        def rotated() -> bool:
            status = get(kube_cluster, "platform", "mz", ns).get("status") or {}
            return status.get("caFingerprint") not in (None, old_ca) and not status.get(
                "caRotation"
            )

        kube_cluster.wait_until("new CA rotated in", rotated, timeout=180)
        kube_cluster.wait_until(
            "watch sees the last version",
            lambda: len(versions.versions["ec1-rcp-tls"]) >= 4,
            timeout=30,
        )
    finally:
        versions.stop()
    new_ca = get(kube_cluster, "platform", "mz", ns)["status"]["caFingerprint"]
    # The old CA's key is gone, but its certificates stayed trusted until reissued.
    assert [fingerprints(d, "ca.crt") for d in versions.versions["ec1-rcp-tls"]] == [
        [old_ca],
        [new_ca, old_ca],
        [new_ca, old_ca],
        [new_ca],
    ]


def test_a_users_ca_near_expiry_is_reported_until_replaced(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace

    def corp_ca(days: int) -> dict[str, Any]:
        ca = create_ca("Corp CA", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=days))
        return tls_secret(
            ns, "corp-ca", {"tls.crt": cert_to_pem(ca.certificate), "tls.key": key_to_pem(ca.key)}
        )

    kube_cluster.apply(
        [
            corp_ca(20),
            platform(
                ns, trust={"mode": "CertificateAuthority", "caSecretRef": {"name": "corp-ca"}}
            ),
        ]
    )
    obj = wait_ready(kube_cluster, "platform", "mz", ns)
    keystore = next(c for c in obj["status"]["conditions"] if c["type"] == "KeystoreReady")
    assert keystore["status"] == "True" and keystore["reason"] == "CAExpiringSoon"
    assert "corp-ca" in keystore["message"]
    warnings = [
        e
        for e in kube_cluster.get_json("events", "-n", ns)["items"]
        if e["reason"] == "CAExpiringSoon"
    ]
    assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
    assert warnings[0].get("count", 1) == 1  # not repeated on every pass
    # Certificates capped by the CA's expiry are not renewed again and again.
    versions = managed_versions(kube_cluster, ns)
    time.sleep(4)  # several settle periods
    assert managed_versions(kube_cluster, ns) == versions

    kube_cluster.apply(corp_ca(3650))

    def renewed() -> bool:
        status = get(kube_cluster, "platform", "mz", ns).get("status") or {}
        keystore = next(c for c in status["conditions"] if c["type"] == "KeystoreReady")
        return keystore["reason"] == "KeystoreWritten" and not status.get("caRotation")

    kube_cluster.wait_until("warning gone after the rotation", renewed, timeout=120)
