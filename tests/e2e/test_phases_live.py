"""End-to-end: a CA rotation whose Platform status is wiped again and again (anyone with
`platforms/status`, a backup restore) still goes through every phase in order: the phases
are recorded in the Platform's state Secret, status only reports them."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests.support.resources import (
    condition,
    fingerprints,
    generations,
    get,
    member,
    platform,
    wait_ready,
)
from tests.support.secretwatch import SecretVersions

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
