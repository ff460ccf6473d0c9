"""End-to-end: faults injected at random points of creation, client-auth rollout and CA
rotation (pico_harness.support.faults); after each scenario the platform group converges with no key
lost or replaced, no second CA (a rotation makes exactly one new CA), no extra roll (no more
workload revisions than the same scenario made without faults), and what the competing writer
overwrote put back.

PICO_TLS_FAULTS sets the number of faults (default 100); PICO_TLS_FAULT_SEED the seed.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from pico_harness.support.faults import Faults, History, retry
from pico_harness.support.resources import condition, get

pytestmark = pytest.mark.e2e

FAULTS = int(os.environ.get("PICO_TLS_FAULTS", "100"))
SEED = int(os.environ.get("PICO_TLS_FAULT_SEED", str(int(time.time()))))
GROUPS = 4  # group 0 runs every scenario without faults first: the baseline
CONVERGE_TIMEOUT = 180
REPAIR_TIMEOUT = 60  # a repair is one pass; an operator restart and its resync fit well within


def group(ns: str, i: int, client_auth: bool = False) -> list[dict[str, Any]]:
    name = f"g{i}"

    def doc(kind: str, suffix: str, spec: dict[str, Any]) -> dict[str, Any]:
        meta = {"name": f"{name}{suffix}", "namespace": ns}
        return {"apiVersion": "picotls.dev/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}

    ref = {"platformRef": {"name": name}}
    return [
        doc(
            "Platform",
            "",
            {"image": "pico/platform:test", "tls": {"requireClientAuth": client_auth}},
        ),
        doc("ExecutionContainer", "-ec", {**ref, "image": "pico/ec:test"}),
        doc("DesktopClient", "-dc", {**ref, "user": f"user {i}"}),
    ]


def ready(cluster: Any, ns: str, kind: str, name: str) -> dict[str, Any] | None:
    obj = get(cluster, kind, name, ns)
    status = obj.get("status") or {}
    fresh = status.get("observedGeneration") == obj["metadata"]["generation"]
    return obj if fresh and condition(obj, "Ready") == "True" else None


def group_ready(cluster: Any, ns: str, i: int) -> dict[str, Any] | None:
    members = [("executioncontainer", f"g{i}-ec"), ("desktopclient", f"g{i}-dc")]
    if not all(ready(cluster, ns, kind, name) for kind, name in members):
        return None
    return ready(cluster, ns, "platform", f"g{i}")


def revisions(cluster: Any, ns: str) -> dict[str, int]:
    """Workload -> how many pod templates it has had (StatefulSet: highest ControllerRevision;
    Deployment: its revision annotation)."""
    out: dict[str, int] = {}
    for rev in cluster.get_json("controllerrevisions", "-n", ns)["items"]:
        for owner in rev["metadata"].get("ownerReferences") or []:
            out[owner["name"]] = max(out.get(owner["name"], 0), int(rev["revision"]))
    for dep in cluster.get_json("deployments", "-n", ns)["items"]:
        annotations = dep["metadata"].get("annotations") or {}
        out[dep["metadata"]["name"]] = int(annotations.get("deployment.kubernetes.io/revision", 0))
    return out


class Run:
    """Scenarios on platform groups g0..g3 of one namespace, with their checks."""

    def __init__(self, cluster: Any, operator: Any, ns: str) -> None:
        self.cluster, self.ns = cluster, ns
        self.faults = Faults(cluster, operator, ns, SEED)
        self.history = History(cluster, ns)
        self.rng = random.Random(SEED + 1)
        self.baseline: dict[str, dict[str, int]] = {}
        self.scenarios = 0
        self.survived = 0
        self.per_scenario = 0

    def scenario(
        self, name: str, i: int, trigger: Callable[[], Any], done: Callable[[], Any]
    ) -> None:
        before = retry(lambda: revisions(self.cluster, self.ns))
        _, cas_before = self.history.snapshot()
        retry(trigger)
        injected = 0 if i == 0 else self.per_scenario
        for _ in range(injected):
            time.sleep(self.rng.uniform(0.1, 1.2))
            self.faults.inject()
        self.cluster.wait_until(f"{name} of g{i} converged", done, timeout=CONVERGE_TIMEOUT)
        time.sleep(1.5)  # a pass that was still due would have written by now
        self.check(name, i, before, cas_before)
        self.scenarios += 1
        self.survived += injected

    def check(
        self, name: str, i: int, before: dict[str, int], cas_before: dict[str, list[str]]
    ) -> None:
        # A competing write made just before convergence is repaired by the next pass (after an
        # operator kill, by the restarted one): wait for it, bounded, then count keys and rolls.
        self.cluster.wait_until(f"{name} g{i}: overwrites repaired", lambda: self.repaired(i),
                                timeout=REPAIR_TIMEOUT)  # fmt: skip
        keys, cas = self.history.snapshot()
        replaced = {secret: seen for secret, seen in keys.items() if len(seen) != 1}
        journal = self.faults.journal[-12:]
        assert not replaced, f"{name} g{i}: private keys replaced: {replaced}; faults: {journal}"
        new_cas = len(cas.get(f"g{i}-ca", [])) - len(cas_before.get(f"g{i}-ca", []))
        expected_cas = {"create": 1, "rotate": 1}.get(name, 0)
        assert new_cas == expected_cas, f"{name} g{i}: {new_cas} new CAs"
        after = retry(lambda: revisions(self.cluster, self.ns))
        rolls = {
            w.removeprefix(f"g{i}"): after[w] - before.get(w, 0)
            for w in after
            if w in (f"g{i}", f"g{i}-ec")
        }
        if i == 0:
            self.baseline[name] = rolls
        # No extra roll: never more pod templates than the fault-free group had. (Fewer were
        # seen once for a Platform during a CA rotation; see the stop note of 2026-12-01.)
        extra = {w: n for w, n in rolls.items() if n > self.baseline[name].get(w, 0)}
        assert not extra, f"{name} g{i}: rolls {rolls}, without faults {self.baseline[name]}"

    def repaired(self, i: int) -> bool:
        cm = get(self.cluster, "configmap", f"g{i}-rcp-tls", self.ns)
        secret = get(self.cluster, "secret", f"g{i}-ec-rcp-tls", self.ns)
        return (
            "rival.invalid" not in cm["data"]["rcp-tls.properties"]
            and secret["data"].get("keystore.p12") != "cml2YWw="  # base64 of "rival"
        )

    def create(self, i: int) -> None:
        self.faults.rival_targets += [
            ("configmap", f"g{i}-rcp-tls"),
            ("secret", f"g{i}-ec-rcp-tls"),
        ]
        # not the container's: its mounted keystore is the competing writer's target
        self.faults.state_secrets += [f"g{i}-rcp-tls-state", f"g{i}-dc-desktop-key-state"]
        self.scenario(
            "create",
            i,
            lambda: self.cluster.apply(group(self.ns, i)),
            lambda: group_ready(self.cluster, self.ns, i),
        )

    def client_auth(self, i: int, on: bool) -> None:
        wanted = "Enforced" if on else "Disabled"

        def done() -> bool:
            obj = group_ready(self.cluster, self.ns, i)
            return bool(obj) and obj["status"]["clientAuth"]["phase"] == wanted  # type: ignore[index]

        self.scenario(
            "client-auth-on" if on else "client-auth-off",
            i,
            lambda: self.cluster.apply(group(self.ns, i, client_auth=on)[0]),
            done,
        )

    def rotate(self, i: int, value: str) -> None:
        old = get(self.cluster, "platform", f"g{i}", self.ns)["status"]["caFingerprint"]

        def done() -> bool:
            obj = group_ready(self.cluster, self.ns, i)
            status = (obj or {}).get("status") or {}
            return bool(obj) and status.get("caFingerprint") != old and not status.get("caRotation")

        self.scenario(
            "rotate",
            i,
            lambda: self.cluster.kubectl(
                "annotate",
                "--overwrite",
                "platform",
                f"g{i}",
                "-n",
                self.ns,
                f"picotls.dev/rotate-ca={value}",
            ),
            done,
        )


def test_faults_during_creation_client_auth_and_rotation(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    if kube_cluster.local is None:
        pytest.skip("restarting the apiserver and etcd needs the local control plane")
    run = Run(kube_cluster, operator, namespace)
    faulty_scenarios = (GROUPS - 1) * 4  # create, client auth on and off, rotate
    run.per_scenario = math.ceil(FAULTS / faulty_scenarios)
    try:
        for i in range(GROUPS):
            run.create(i)
        for i in range(GROUPS):
            run.client_auth(i, True)
            run.client_auth(i, False)
        for i in range(GROUPS):
            run.rotate(i, f"fault-{SEED}")
    finally:
        run.history.stop()
        print(
            f"\nfaults (seed {SEED}): {run.faults.summary()}; {run.survived} survived in "
            f"{run.scenarios} converged scenarios; apiserver down {run.faults.outage_seconds:.0f}s "
            f"in all; the Secret history watch got {run.history.gone} 410 Gone and "
            f"reconnected {run.history.reconnects} times"
        )
    assert sum(run.faults.injected.values()) >= FAULTS
    assert run.survived == sum(run.faults.injected.values())
    if FAULTS >= 50:  # every kind came up (8% is the rarest weight)
        assert all(run.faults.injected[k] for k in run.faults.kinds), run.faults.injected


def test_the_checks_see_a_lost_key(kube_cluster: Any, operator: Any, namespace: str) -> None:
    """The harness can fail: with both Secrets that hold a container's key deleted, the key
    is really gone, the operator makes a new one, and the check reports it."""
    if kube_cluster.local is None:
        pytest.skip("the fault harness needs the local control plane")
    run = Run(kube_cluster, operator, namespace)
    try:
        run.create(0)
        before = revisions(kube_cluster, namespace)
        _, cas = run.history.snapshot()
        for name in ("g0-ec-rcp-tls-state", "g0-ec-rcp-tls"):
            kube_cluster.kubectl("delete", "secret", name, "-n", namespace)

        def new_key() -> bool:
            return len(run.history.snapshot()[0].get("g0-ec-rcp-tls-state", [])) > 1

        kube_cluster.wait_until("a new key for g0-ec", new_key, timeout=CONVERGE_TIMEOUT)
        kube_cluster.wait_until("g0 converged", lambda: group_ready(kube_cluster, namespace, 0))
        with pytest.raises(AssertionError, match="private keys replaced"):
            run.check("key-wipe", 0, before, cas)
    finally:
        run.history.stop()
