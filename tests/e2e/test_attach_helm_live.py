"""End-to-end (kwok pods): a user's own Helm chart (tests/fixtures/pico-app-chart) installed
with helm, its StatefulSet attached by a Platform; `helm upgrade` with new values changes the
user's fields and keeps the operator's additions, and the operator does not fight helm."""

from __future__ import annotations

from typing import Any

import pytest

from pico_harness import REPO_ROOT
from pico_harness.support.helm import helm_bin, run
from pico_harness.support.resources import get, platform, wait_ready

pytestmark = pytest.mark.e2e
CHART = REPO_ROOT / "tests" / "fixtures" / "pico-app-chart"


def pico(obj: dict[str, Any]) -> dict[str, Any]:
    (found,) = obj["spec"]["template"]["spec"]["containers"]
    return dict(found)


def env_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in pico(obj).get("env") or ()}


def test_helm_upgrade_keeps_the_additions(kube_cluster: Any, operator: Any, namespace: str) -> None:
    ns = namespace
    helm = [helm_bin(), f"--kubeconfig={kube_cluster.kubeconfig}", "--namespace", ns]
    run(*helm, "install", "app", str(CHART), "--wait=false")
    body = platform(ns)
    body["spec"] = {"workloadRef": {"kind": "StatefulSet", "name": "app"}}
    kube_cluster.apply(body)
    wait_ready(kube_cluster, "platform", "mz", ns, timeout=180)
    attached = get(kube_cluster, "statefulset", "app", ns)
    assert "PICO_PROPERTIES_FILES" in env_of(attached)
    digest = attached["spec"]["template"]["metadata"]["annotations"]["picotls.dev/mounted-content"]

    out = run(
        *helm, "upgrade", "app", str(CHART), "--set", "image=vendor/pico:2",
        "--set", "logLevel=debug", "--set", "replicas=3",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    upgraded = get(kube_cluster, "statefulset", "app", ns)
    env = env_of(upgraded)
    assert pico(upgraded)["image"] == "vendor/pico:2" and upgraded["spec"]["replicas"] == 3
    assert env["LOG_LEVEL"]["value"] == "debug"
    assert "PICO_PROPERTIES_FILES" in env and "PICO_RCP_TLS_KEYSTORE_PASSWORD" in env
    annotations = upgraded["spec"]["template"]["metadata"]["annotations"]
    assert annotations["picotls.dev/mounted-content"] == digest
    # The operator settles on the upgraded workload without writing it back.
    wait_ready(kube_cluster, "platform", "mz", ns, timeout=180)
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert not [e for e in events if e["reason"] == "AttachmentRestored"], events
    assert get(kube_cluster, "statefulset", "app", ns)["spec"]["replicas"] == 3
    live = kube_cluster.get_json("statefulset", "app", "-n", ns, "--show-managed-fields")
    managers = {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]}
    print("field managers after helm upgrade:", sorted(managers))
    assert ("pico-tls-attach", "Apply") in managers
