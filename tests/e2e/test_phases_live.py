"""End-to-end: a CA rotation whose Platform status is wiped again and again (anyone with
`platforms/status`, a backup restore) still goes through every phase in order: the phases
are recorded in the Platform's state Secret, status only reports them."""

from __future__ import annotations

import base64
import subprocess
import threading
from typing import Any

import pytest

from pico_harness.support.leaks import json_objects
from pico_harness.support.resources import (
    condition,
    fingerprints,
    generations,
    get,
    member,
    platform,
    secret_data,
    wait_ready,
)
from pico_harness.support.secretwatch import SecretVersions
from pico_tls.keystore import StoreOptions, decode_keystore, detect_format

pytestmark = pytest.mark.e2e

WATCHED = ("mz-rcp-tls", "ec1-rcp-tls")


class StatusWiper:
    """Removes the Platform's whole status each time it shows a CA rotation, until stopped."""

    def __init__(self, cluster: Any, ns: str) -> None:
        self.cluster, self.ns = cluster, ns
        self.wiped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            status = get(self.cluster, "platform", "mz", self.ns).get("status") or {}
            if status.get("caRotation"):
                done = self.cluster.kubectl(
                    "patch",
                    "platform",
                    "mz",
                    "-n",
                    self.ns,
                    "--subresource=status",
                    "--type=json",
                    "-p",
                    '[{"op": "remove", "path": "/status"}]',
                    check=False,
                )
                self.wiped += done.returncode == 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def test_a_rotation_whose_status_is_wiped_goes_through_every_phase(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply(
        [platform(ns), member(ns, "ExecutionContainer", "ec1", image="pico/ec:test")]
    )
    old_ca = wait_ready(kube_cluster, "platform", "mz", ns)["status"]["caFingerprint"]
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    before = generations(kube_cluster, ns)
    versions = SecretVersions(kube_cluster, ns, WATCHED)
    wiper = None
    try:
        kube_cluster.wait_until(
            "watch sees the current Secrets",
            lambda: all(versions.versions[n] for n in WATCHED),
            timeout=30,
        )
        wiper = StatusWiper(kube_cluster, ns)
        kube_cluster.kubectl("annotate", "platform", "mz", "-n", ns, "picotls.dev/rotate-ca=1")

        def only_new_ca() -> bool:
            last = [versions.versions[n][-1] for n in WATCHED]
            return all(
                fingerprints(d, "ca.crt") != [old_ca] and len(fingerprints(d, "ca.crt")) == 1
                for d in last
            )

        kube_cluster.wait_until("the old CA dropped", only_new_ca, timeout=240)
        wiper.stop()

        def done() -> dict[str, Any] | None:
            obj = get(kube_cluster, "platform", "mz", ns)
            status = obj.get("status") or {}
            finished = (
                status.get("caFingerprint") not in (None, old_ca)
                and not status.get("caRotation")
                and condition(obj, "Ready") == "True"
            )
            return obj if finished else None

        new_ca = kube_cluster.wait_until("rotation reported done", done, timeout=120)["status"][
            "caFingerprint"
        ]
        wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    finally:
        if wiper is not None:
            wiper.stop()
        versions.stop()
    assert wiper.wiped >= 1  # the status was lost during the rotation
    for name in WATCHED:
        seen = versions.versions[name]
        # The same versions as a rotation nobody disturbs: before, TrustBoth, Reissue, DropOld.
        assert [fingerprints(d, "ca.crt") for d in seen] == [
            [old_ca],
            [new_ca, old_ca],
            [new_ca, old_ca],
            [new_ca],
        ], name
        certs = [d["tls.crt"] for d in seen]
        assert certs[0] == certs[1] != certs[2] == certs[3], name  # reissued in Reissue only
    assert {k: g - before[k] for k, g in generations(kube_cluster, ns).items()} == {
        "mz": 3,
        "ec1": 3,
    }


def pinned(cluster: Any, ns: str) -> set[str]:
    """Aliases of the trusted entries in the Platform's stored keystore."""
    data = secret_data(cluster, "mz-rcp-tls", ns)
    blob = data.get("keystore.p12") or data["keystore.jks"]
    options = StoreOptions(
        detect_format(blob), data["keystore.password"].decode(), data["key.password"].decode()
    )
    return {alias for alias, _ in decode_keystore(blob, options).trusted}


def test_a_desktop_deleted_while_the_ca_key_is_corrupt_is_revoked(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply(
        [
            platform(ns),
            member(ns, "DesktopClient", "alice", user="Alice"),
            member(ns, "DesktopClient", "bob", user="Bob"),
        ]
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "desktopclient", "alice", ns)
    assert {"desktop-alice", "desktop-bob"} <= pinned(kube_cluster, ns)
    garbage = base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nbroken\n").decode()
    kube_cluster.kubectl(
        "patch", "secret", "mz-ca", "-n", ns, "-p", f'{{"data": {{"tls.key": "{garbage}"}}}}'
    )
    kube_cluster.wait_until(
        "the group blocked by the CA key",
        lambda: condition(get(kube_cluster, "platform", "mz", ns), "Ready") == "False",
        timeout=60,
    )
    kube_cluster.kubectl("delete", "desktopclient", "alice", "-n", ns)
    kube_cluster.wait_until(
        "alice's pin gone from the Platform's keystore",
        lambda: "desktop-alice" not in pinned(kube_cluster, ns),
        timeout=60,
    )
    assert "desktop-bob" in pinned(kube_cluster, ns)
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert any(e["reason"] == "Revoked" and "Alice" in e["message"] for e in events)
    assert condition(get(kube_cluster, "platform", "mz", ns), "Ready") == "False"


class ResourceVersions:
    """Every resourceVersion one Secret goes through, from a `kubectl get -w` stream."""

    def __init__(self, cluster: Any, ns: str, name: str) -> None:
        self.seen: list[str] = []
        self._process = subprocess.Popen(
            [
                cluster.kubectl_bin,
                f"--kubeconfig={cluster.kubeconfig}",
                "get",
                "secret",
                name,
                "-n",
                ns,
                "--watch",
                "--output-watch-events=false",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for obj in json_objects(self._process.stdout):
            version = obj["metadata"]["resourceVersion"]
            if version not in self.seen:
                self.seen.append(version)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)
        self._thread.join(10)


def test_a_data_key_another_manager_adds_costs_at_most_one_write(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply(
        [platform(ns), member(ns, "ExecutionContainer", "ec1", image="pico/ec:test")]
    )
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    versions = ResourceVersions(kube_cluster, ns, "ec1-rcp-tls")
    try:
        kube_cluster.wait_until("the watch started", lambda: versions.seen, timeout=30)
        note = base64.b64encode(b"backed up").decode()
        kube_cluster.kubectl(
            "patch",
            "secret",
            "ec1-rcp-tls",
            "-n",
            ns,
            "--field-manager=backup-tool",
            "-p",
            f'{{"data": {{"backup.note": "{note}"}}}}',
        )
        kube_cluster.wait_until("the patch seen", lambda: len(versions.seen) >= 2, timeout=30)
        # More passes of the group: a new member, through to Ready.
        kube_cluster.apply([member(ns, "DesktopClient", "carol", user="Carol")])
        wait_ready(kube_cluster, "desktopclient", "carol", ns)
        wait_ready(kube_cluster, "platform", "mz", ns)
        wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    finally:
        versions.stop()
    # The version before, the patch, and at most one write of the operator.
    assert len(versions.seen) <= 3, versions.seen
    assert secret_data(kube_cluster, "ec1-rcp-tls", ns)["backup.note"] == b"backed up"
