"""End-to-end: owned workloads edited by hand (`kubectl scale`, `kubectl set image`) are put
back on the next pass without any edit of the custom resource, with an Event that says so;
the API's defaults on a live workload are not mistaken for edits (a pass writes nothing)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from pico_harness.support.resources import get, member, platform, wait_ready

pytestmark = pytest.mark.e2e


def writes_of_last_pass(log: str, ns: str) -> int:
    found = re.findall(rf"reconciled platform {ns}/mz: (\d+) writes", log)
    return int(found[-1]) if found else -1


def test_hand_edits_of_workloads_are_put_back(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply(
        [platform(ns), member(ns, "ExecutionContainer", "ec1", image="pico/ec:test")]
    )
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    wait_ready(kube_cluster, "platform", "mz", ns)

    # A pass over the settled group on the real API writes nothing (no false drift).
    kube_cluster.kubectl("annotate", "platform", "mz", "-n", ns, "example/poke=1")
    time.sleep(4)
    assert writes_of_last_pass(operator.log_text(), ns) == 0, operator.log_text()[-2000:]

    kube_cluster.kubectl("scale", "deployment", "ec1", "-n", ns, "--replicas=3")
    kube_cluster.wait_until(
        "replicas put back",
        lambda: get(kube_cluster, "deployment", "ec1", ns)["spec"]["replicas"] == 1,
        timeout=60,
    )
    kube_cluster.kubectl("set", "image", "statefulset/mz", "-n", ns, "*=evil/image:1")

    def image() -> str:
        sts = get(kube_cluster, "statefulset", "mz", ns)
        return str(sts["spec"]["template"]["spec"]["containers"][0]["image"])

    kube_cluster.wait_until("image put back", lambda: image() == "pico/platform:test", timeout=60)
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    restored = [e["message"] for e in events if e["reason"] == "WorkloadRestored"]
    assert any("spec.replicas (3, wanted 1)" in m for m in restored), restored
    assert any("images now evil/image:1" in m for m in restored), restored
