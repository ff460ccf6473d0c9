"""End-to-end on real pods (issue 15): state that survives, under live mutual-TLS traffic of
the stand-in pods. The operator runs as the manifests install it (two replicas, one Lease);
the examples run on the real node. One cluster for the module: a fault-free CA rotation as
the reference, then the same rotation with the Platform's status wiped as soon as it records
TrustBoth, then with the Lease holder SIGKILLed mid-rotation. Each must keep every handshake
between Execution Containers and the Platform clean and end with one CA for the group.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pico_harness.support import realpods_env as rp
from pico_harness.support import realpods_steps as steps
from pico_harness.support.replicas import holder
from pico_harness.support.resources import condition, fingerprints, generations
from pico_harness.support.traffic import TrafficMonitor, Window

pytestmark = pytest.mark.e2e

NS = "state"
MOUNTED = ("mz-rcp-tls", "ec1-rcp-tls", "ec2-rcp-tls", "alice-desktop-key", "bob-desktop-key")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[steps.Run]:
    reason = rp.fallback_reason()
    if reason:  # never skipped: these run in CI, where .ci/run installs what they need
        pytest.fail(f"real pods cannot run here: {reason}")
    with rp.real_pods(tmp_path_factory.mktemp("realnode")) as env:
        rp.install_operator(env)
        with TrafficMonitor(env.cluster.kubeconfig, NS) as monitor:
            yield steps.deploy_examples(env, NS, monitor)


@dataclass(frozen=True)
class Outcome:
    window: Window
    rolls: Counter[str]  # workload generations added by the rotation
    events: Counter[tuple[str, str]]  # the operator's Events: (object, reason)


@pytest.fixture(scope="module")
def reference(run: steps.Run) -> Outcome:
    """A fault-free CA rotation: what the faulty ones are compared with."""
    both_replicas(run.env)
    outcome = rotate(run, "reference")
    assert_clean(outcome.window)
    return outcome


def assert_clean(window: Window) -> None:
    assert window.ec.get("ok", 0) > 0, window.row()
    assert window.tls_failures == 0, (window.row(), window.ec)
    assert window.platform_tls_failures == 0, (window.row(), window.platform)


def rotate(run: steps.Run, request: str, mid: Callable[[str], None] | None = None) -> Outcome:
    """Asks for a CA rotation, calls `mid(phase)` once status shows it under way, waits until
    it is done (a new CA, no rotation, Ready) with every pod settled and connected."""
    env, ns = run.env, run.ns
    old = platform_status(run)["caFingerprint"]
    rolls, seen = generations(env.cluster.access, ns), set(operator_events(run))
    t0 = run.monitor.wait_scrape()
    env.kubectl(
        "annotate", "--overwrite", "platform", "mz", "-n", ns, f"picotls.dev/rotate-ca={request}"
    )
    if mid is not None:
        phase = env.wait(
            "rotation under way",
            lambda: (platform_status(run).get("caRotation") or {}).get("phase"),
            timeout=120,
            interval=0.1,
        )
        mid(phase)

    def done() -> bool:
        obj = run.platform()
        status = obj.get("status") or {}
        new = status.get("caFingerprint") not in (None, old) and not status.get("caRotation")
        return new and condition(obj, "Ready") == "True"

    env.wait(f"CA rotation {request} done", done, timeout=600, interval=0.5)
    run.settle()
    window = run.monitor.window(f"CA rotation {request}", t0, run.monitor.wait_scrape())
    print(window.row(), flush=True)
    after = generations(env.cluster.access, ns)
    fresh = [e for uid, e in operator_events(run).items() if uid not in seen]
    return Outcome(
        window,
        Counter(after) - Counter(rolls),
        Counter((e["involvedObject"]["name"], e["reason"]) for e in fresh),
    )


def platform_status(run: steps.Run) -> dict[str, Any]:
    return dict(run.platform().get("status") or {})


def operator_events(run: steps.Run) -> dict[str, dict[str, Any]]:
    """The operator's Events (not the controllers'), by uid."""
    items = run.env.get("events", "-n", run.ns)["items"]
    return {
        e["metadata"]["uid"]: e for e in items if e.get("reportingComponent") == "pico-tls-operator"
    }


def assert_one_ca(run: steps.Run) -> None:
    """One CA for the group: the CA Secret's, in status, alone in every mounted `ca.crt`."""
    secrets = run.env.get("secrets", "-n", run.ns, "-l", "picotls.dev/platform=mz")["items"]
    by_name = {s["metadata"]["name"]: s for s in secrets}
    assert [n for n in by_name if n.endswith("-ca")] == ["mz-ca"], sorted(by_name)
    (ca,) = fingerprints(by_name["mz-ca"]["data"], "tls.crt")
    assert platform_status(run)["caFingerprint"] == ca
    for name in MOUNTED:
        assert fingerprints(by_name[name]["data"], "ca.crt") == [ca], name


def both_replicas(env: rp.RealPods) -> list[dict[str, Any]]:
    """The manifests' two operator replicas Ready, one of them holding the Lease."""

    def ready() -> list[dict[str, Any]] | None:
        pods = [
            p
            for p in rp.operator_pods(env)
            if not p["metadata"].get("deletionTimestamp") and condition(p, "Ready") == "True"
        ]
        names = {p["metadata"]["name"] for p in pods}
        return pods if len(pods) == 2 and holder(env.cluster) in names else None

    pods: list[dict[str, Any]] = env.wait("two operator replicas, one leads", ready, timeout=240)
    return pods


# ----------------------------------------------------------------------------------------


class StatusWiper:
    """Removes the Platform's whole status (the status subresource, as anyone with
    `platforms/status` or a backup restore can) each time it shows TrustBoth."""

    def __init__(self, run: steps.Run) -> None:
        self.run = run
        self.wiped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            status = platform_status(self.run)
            if (status.get("caRotation") or {}).get("phase") != "TrustBoth":
                continue
            done = self.run.env.cluster.kubectl(
                "patch", "platform", "mz", "-n", self.run.ns, "--subresource=status",
                "--type=json", "-p", '[{"op": "remove", "path": "/status"}]', check=False,
            )  # fmt: skip
            self.wiped += done.returncode == 0

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(30)
        return self.wiped


def test_a_rotation_whose_status_is_wiped_at_trust_both_keeps_traffic_clean(
    run: steps.Run, reference: Outcome
) -> None:
    wipers: list[StatusWiper] = []
    outcome = rotate(run, "status-wiped", lambda _phase: wipers.append(StatusWiper(run)))
    wiped = wipers[0].stop()
    print(f"status wiped {wiped} times during TrustBoth", flush=True)
    assert wiped > 0
    assert_clean(outcome.window)
    assert_one_ca(run)
    assert outcome.rolls == reference.rolls  # no phase skipped, none repeated


def test_the_lease_holder_sigkilled_mid_rotation_keeps_traffic_clean(
    run: steps.Run, reference: Outcome
) -> None:
    env = run.env
    pods = both_replicas(env)
    leader = holder(env.cluster)
    (killed,) = [p for p in pods if p["metadata"]["name"] == leader]
    facts: dict[str, Any] = {"killed": leader}

    def kill(phase: str) -> None:
        facts["phase"] = phase
        steps.kill_operator_pod(env, killed)  # SIGKILL through containerd, pod force-deleted
        facts["killed_at"] = time.monotonic()
        facts["new_leader"] = env.wait(
            "another replica holds the Lease",
            lambda: (h := holder(env.cluster)) not in ("", leader) and h,
            timeout=120,
            interval=0.2,
        )
        facts["failover_s"] = round(time.monotonic() - facts["killed_at"], 1)

    outcome = rotate(run, "leader-killed", kill)
    print("lease holder killed:", facts, flush=True)
    assert facts["new_leader"] != leader
    assert_clean(outcome.window)
    assert_one_ca(run)
    assert outcome.rolls == reference.rolls
    assert not outcome.events - reference.events, (outcome.events, reference.events)  # none twice
    both_replicas(env)  # the Deployment replaced the killed pod; it stands by
