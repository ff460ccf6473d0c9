"""End-to-end: one active operator among replicas, on the local control plane under the RBAC of
manifests/. The election itself (in-process electors on the real Lease), two operator
processes (one writes, the other stands by; the leader SIGKILLed mid CA rotation), and the
conditional writes of key material and phases against a competing writer."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from pico_harness.support.faults import History
from pico_harness.support.operator_process import OperatorProcess
from pico_harness.support.replicas import (
    BECAME_LEADER,
    RECONCILED,
    STANDS_BY,
    Replicas,
    holder,
    lease,
    sigkill,
)
from pico_harness.support.resources import (
    condition,
    fingerprints,
    generations,
    get,
    member,
    platform,
    wait_ready,
)
from pico_tls.config import OperatorConfig
from pico_tls.election import Elector
from pico_tls.handlers import reconciler_entry
from pico_tls.kube import PLATFORM, Kube, KubeError
from pico_tls.leader import ElectionConfig, Leadership, LeaseTimings
from pico_tls.reconcile.apply import WriteConflict, apply_decision
from pico_tls.reconcile.decision import Decision, StatusPatch
from pico_tls.reconcile.group import GroupReconciler
from pico_tls.reconcile.snapshot import Snapshot

pytestmark = pytest.mark.e2e

TIMINGS = LeaseTimings(duration=4, renew_deadline=3, retry_period=1)


def operator_kube(kubeconfig: Path) -> Kube:
    return Kube(kubernetes.config.new_client_from_config(config_file=str(kubeconfig)))


def elector(kubeconfig: Path, name: str) -> Elector:
    config = ElectionConfig(True, name, "pico-tls-system", timings=TIMINGS)
    ship = Leadership(name, "pico-tls-system/pico-tls-operator")
    return Elector(operator_kube(kubeconfig), config, ship, busy=lambda: False)


def test_the_lease_elects_one_and_fences_it_before_a_take_over(
    kube_cluster: Any, operator_process: OperatorProcess, operator_kubeconfig: Path
) -> None:
    """Two electors under the operator's RBAC on the real Lease: one leads; when it stops
    renewing, its fence closes before the other's take-over was even allowed."""
    operator_process.stop()  # it releases the Lease on SIGTERM
    a, b = elector(operator_kubeconfig, "test-a"), elector(operator_kubeconfig, "test-b")

    def a_leads() -> bool:
        asyncio.run(a.step())
        return a.leadership.leading()

    kube_cluster.wait_until("test-a leads", a_leads, timeout=30)
    asyncio.run(b.step())
    assert a.leadership.leading() and not b.leadership.leading()
    assert holder(kube_cluster) == "test-a"
    for _ in range(3):
        time.sleep(TIMINGS.retry_period)
        asyncio.run(a.step())
        asyncio.run(b.step())
        assert a.leadership.leading() and not b.leadership.leading()
    fence_end = a.leadership._until  # a stops here (as if killed)
    while not b.leadership.leading():
        time.sleep(0.2)
        asyncio.run(b.step())
    taken = time.monotonic()
    assert fence_end < taken  # a had stopped writing before b could start
    spec = (lease(kube_cluster) or {})["spec"]
    assert spec["holderIdentity"] == "test-b" and spec["leaseTransitions"] >= 1
    asyncio.run(b.release())
    assert holder(kube_cluster) == ""


def _events(cluster: Any, ns: str) -> dict[str, dict[str, Any]]:
    """The operator's Events (not the controllers'), by uid."""
    items = cluster.get_json("events", "-n", ns)["items"]
    return {
        e["metadata"]["uid"]: e for e in items if e.get("reportingComponent") == "pico-tls-operator"
    }


def _rotate(cluster: Any, ns: str, request: str, mid_rotation: Any = None) -> dict[str, Any]:
    """Asks for a CA rotation; calls `mid_rotation()` once the rotation is in status; returns
    the Platform once the rotation is done and everything is Ready."""
    old = get(cluster, "platform", "mz", ns)["status"]["caFingerprint"]
    cluster.kubectl(
        "annotate", "--overwrite", "platform", "mz", "-n", ns, f"picotls.dev/rotate-ca={request}"
    )
    if mid_rotation is not None:
        cluster.wait_until(
            "rotation under way",
            lambda: (get(cluster, "platform", "mz", ns).get("status") or {}).get("caRotation"),
            timeout=120,
            interval=0.1,
        )
        mid_rotation()

    def done() -> dict[str, Any] | None:
        obj = get(cluster, "platform", "mz", ns)
        status = obj.get("status") or {}
        finished = status.get("caFingerprint") not in (None, old) and not status.get("caRotation")
        return obj if finished and condition(obj, "Ready") == "True" else None

    after: dict[str, Any] = cluster.wait_until("rotation done", done, timeout=240)
    wait_ready(cluster, "executioncontainer", "ec1", ns)
    return after


def _one_ca(cluster: Any, ns: str, platform_status: dict[str, Any]) -> None:
    """One CA for the group: the CA Secret's, in every keystore's ca.crt, and in status."""
    secrets = cluster.get_json("secrets", "-n", ns, "-l", "picotls.dev/platform=mz")["items"]
    ca_secrets = [s for s in secrets if s["metadata"]["name"].endswith("-ca")]
    assert [s["metadata"]["name"] for s in ca_secrets] == ["mz-ca"]
    (ca,) = fingerprints(ca_secrets[0]["data"], "tls.crt")
    assert platform_status["caFingerprint"] == ca
    for name in ("mz-rcp-tls", "ec1-rcp-tls"):
        secret = next(s for s in secrets if s["metadata"]["name"] == name)
        assert fingerprints(secret["data"], "ca.crt") == [ca], name


def test_two_replicas_one_leads_and_the_standby_completes_a_rotation_after_a_sigkill(
    kube_cluster: Any,
    operator_process: OperatorProcess,
    operator_kubeconfig: Path,
    namespace: str,
    tmp_path: Path,
) -> None:
    ns, cluster = namespace, kube_cluster
    operator_process.stop()  # the two replicas below are the only operators
    replicas = Replicas(operator_kubeconfig, tmp_path).start()
    try:
        leader = replicas.wait_leader(cluster)
        (standby,) = replicas.others(leader)
        cluster.apply(
            [
                platform(ns),
                member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
                member(ns, "DesktopClient", "alice", user="Alice"),
            ]
        )
        wait_ready(cluster, "platform", "mz", ns)
        wait_ready(cluster, "executioncontainer", "ec1", ns)

        # A fault-free rotation: the reference for rolls and Events.
        before, seen = generations(cluster, ns), set(_events(cluster, ns))
        _one_ca(cluster, ns, _rotate(cluster, ns, "1")["status"])
        clean_rolls = Counter(generations(cluster, ns)) - Counter(before)
        fresh = [e for uid, e in _events(cluster, ns).items() if uid not in seen]
        clean_events = Counter((e["involvedObject"]["name"], e["reason"]) for e in fresh)
        assert RECONCILED in leader.log_text(True)
        assert RECONCILED not in standby.log_text(True)  # the standby wrote nothing
        assert BECAME_LEADER not in standby.log_text(True)

        # The same rotation, the leader SIGKILLed once it is under way.
        failover: list[float] = []

        def kill_leader() -> None:
            killed = sigkill(leader)
            cluster.wait_until(
                "standby holds the Lease",
                lambda: holder(cluster) == standby.pod_name,
                timeout=60,
                interval=0.1,
            )
            failover.append(time.monotonic() - killed)

        before, seen = generations(cluster, ns), set(_events(cluster, ns))
        after = _rotate(cluster, ns, "2", mid_rotation=kill_leader)
        print(f"\nfailover: the standby held the Lease {failover[0]:.1f}s after the SIGKILL")
        _one_ca(cluster, ns, after["status"])
        assert Counter(generations(cluster, ns)) - Counter(before) == clean_rolls
        fresh = [e for uid, e in _events(cluster, ns).items() if uid not in seen]
        events = Counter((e["involvedObject"]["name"], e["reason"]) for e in fresh)
        assert not events - clean_events, (events, clean_events)  # no Event twice
        assert BECAME_LEADER in standby.log_text(True)
    finally:
        replicas.stop()


def test_a_second_replica_writes_nothing(
    kube_cluster: Any,
    operator: OperatorProcess,
    operator_kubeconfig: Path,
    namespace: str,
    tmp_path: Path,
) -> None:
    """The session operator leads; a second replica started next to it stays standby (and
    Ready) while a platform group is made, changed and rotated by the leader alone."""
    cluster = kube_cluster
    kube_cluster.wait_until("the operator leads", lambda: holder(cluster) == operator.pod_name)
    second = OperatorProcess(operator_kubeconfig, tmp_path / "second.log", liveness_port=None)
    second.start()
    try:
        second.wait_for_log(STANDS_BY, timeout=60)
        ec1 = member(namespace, "ExecutionContainer", "ec1", image="pico/ec:test")
        cluster.apply([platform(namespace), ec1])
        wait_ready(cluster, "platform", "mz", namespace)
        _rotate(cluster, namespace, "1")
        assert holder(cluster) == operator.pod_name
        log = second.log_text(True)
        assert RECONCILED not in log and BECAME_LEADER not in log, log[-2000:]
    finally:
        second.stop()


class RivalKube(Kube):
    """The operator's Kube, where a competing replica's whole pass lands between this pass's
    read and its first create or replace of `target` (the race two replicas would run)."""

    def __init__(self, kubeconfig: Path, target: str, rival: Callable[[], Any]) -> None:
        super().__init__(kubernetes.config.new_client_from_config(config_file=str(kubeconfig)))
        self.target, self.rival, self.raced = target, rival, 0

    def _race(self, manifest: Mapping[str, Any]) -> None:
        if manifest["metadata"]["name"] == self.target and not self.raced:
            self.raced = 1
            self.rival()

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        self._race(manifest)  # (a CA Secret is never applied; if it were, the race is here)
        return super().apply(manifest)

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        self._race(manifest)
        return super().create(manifest)

    def replace(self, manifest: Mapping[str, Any], resource_version: str) -> dict[str, Any]:
        self._race(manifest)
        return super().replace(manifest, resource_version)


def entry(kube: Kube, name: str) -> Callable[[str, str], float | None]:
    run: Callable[[str, str], float | None] = reconciler_entry(
        GroupReconciler(kube), kube, OperatorConfig(settle_seconds=0), leadership=Leadership(name)
    )
    return run


def ca_of(cluster: Any, ns: str) -> str:
    (found,) = fingerprints(get(cluster, "secret", "mz-ca", ns)["data"], "tls.crt")
    return found


def converge(cluster: Any, run: Callable[[str, str], float | None], ns: str, done: Any) -> Any:
    def again() -> Any:
        run(ns, "mz")
        return done()

    return cluster.wait_until("the group converges", again, timeout=180, interval=1)


def test_key_material_is_never_written_over_a_competing_replica(
    kube_cluster: Any, operator_process: OperatorProcess, operator_kubeconfig: Path, namespace: str
) -> None:
    """A rival replica's pass lands between our read and our write of the CA Secret: our
    create (409) and our update at a stale resourceVersion (409) are read again and decided
    again, so the rival's CA stays the group's only CA (a blind apply would replace it)."""
    cluster, ns = kube_cluster, namespace
    operator_process.stop()
    history = History(cluster, ns)  # every CA the CA Secret ever held
    rival = entry(operator_kube(operator_kubeconfig), "rival")
    cluster.apply([platform(ns), member(ns, "ExecutionContainer", "ec1", image="pico/ec:test")])

    ours = RivalKube(operator_kubeconfig, "mz-ca", lambda: rival(ns, "mz"))
    run = entry(ours, "ours")
    run(ns, "mz")  # the rival creates the CA first; our create answers 409
    assert ours.raced
    first = ca_of(cluster, ns)
    status = converge(
        cluster, run, ns, lambda: get(cluster, "platform", "mz", ns)["status"].get("caFingerprint")
    )
    assert status == first == ca_of(cluster, ns)
    _one_ca(cluster, ns, get(cluster, "platform", "mz", ns)["status"])
    assert len(history.snapshot()[1]["mz-ca"]) == 1  # one CA was ever made

    # A rotation both replicas start from the same read: the rival's new CA lands first.
    cluster.kubectl("annotate", "platform", "mz", "-n", ns, "picotls.dev/rotate-ca=1")
    ours = RivalKube(operator_kubeconfig, "mz-ca", lambda: rival(ns, "mz"))
    run = entry(ours, "ours")
    run(ns, "mz")
    assert ours.raced
    rivals_ca = ca_of(cluster, ns)
    assert rivals_ca != first

    def rotated() -> Any:
        obj = get(cluster, "platform", "mz", ns)
        status = obj.get("status") or {}
        return not status.get("caRotation") and status.get("caFingerprint") != first and obj

    after = converge(cluster, run, ns, rotated)
    assert ca_of(cluster, ns) == rivals_ca
    _one_ca(cluster, ns, after["status"])
    time.sleep(1)  # the watch has seen every write by now
    history.stop()
    assert len(history.snapshot()[1]["mz-ca"]) == 2  # the first CA, the rival's new one


def test_status_writes_fail_the_pass_and_phases_are_conditional(
    kube_cluster: Any, operator_process: OperatorProcess, operator_kubeconfig: Path, namespace: str
) -> None:
    cluster, ns = kube_cluster, namespace
    operator_process.stop()
    cluster.apply(platform(ns))
    read = get(cluster, "platform", "mz", ns)
    kube = operator_kube(operator_kubeconfig)
    snapshot = Snapshot(ns, "mz", platforms=(read,))
    phase = StatusPatch("Platform", ns, "mz", {"caRotation": {"phase": "TrustBoth"}})
    plain = StatusPatch("Platform", ns, "mz", {"caFingerprint": "x"})
    kube.patch_status(PLATFORM, ns, "mz", {"caFingerprint": "by someone else"})  # a new version
    with pytest.raises(WriteConflict):
        apply_decision(kube, Decision([phase]), datetime.now(UTC), snapshot)
    assert "caRotation" not in get(cluster, "platform", "mz", ns)["status"]
    apply_decision(kube, Decision([plain]), datetime.now(UTC), snapshot)  # no phase: merged
    assert get(cluster, "platform", "mz", ns)["status"]["caFingerprint"] == "x"
    cluster.kubectl("delete", "platform", "mz", "-n", ns)
    with pytest.raises(KubeError) as gone:
        apply_decision(kube, Decision([plain]), datetime.now(UTC), snapshot)
    assert gone.value.status == 404
