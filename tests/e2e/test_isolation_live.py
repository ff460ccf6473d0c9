"""End-to-end: a member whose Deployment the real API refuses (a toleration the CRD lets
through, preserved as unknown fields, that apps/v1 validation rejects with 422) is reported on
itself and left out, while the Platform and the other members keep converging."""

from __future__ import annotations

from typing import Any

import pytest

from pico_harness.support.resources import condition, exists, get, member, platform, wait_ready

pytestmark = pytest.mark.e2e

BOGUS_TOLERATION = {"key": "k", "operator": "Bogus", "effect": "NoSchedule"}


def warnings_on(cluster: Any, ns: str, name: str) -> list[dict[str, Any]]:
    events = cluster.get_json("events", "-n", ns)["items"]
    return [e for e in events if e["involvedObject"]["name"] == name and e["type"] == "Warning"]


def test_a_refused_member_is_left_out_and_the_group_goes_on(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    body = platform(ns, requireClientAuth=False)
    good = member(ns, "ExecutionContainer", "good", image="pico/ec:test")
    bad = member(
        ns,
        "ExecutionContainer",
        "bad",
        image="pico/ec:test",
        podTemplate={"tolerations": [BOGUS_TOLERATION]},
    )
    kube_cluster.apply([body, good, bad])
    wait_ready(kube_cluster, "executioncontainer", "good", ns)
    wait_ready(kube_cluster, "platform", "mz", ns)

    def refused() -> dict[str, Any] | None:
        obj = get(kube_cluster, "executioncontainer", "bad", ns)
        ready: dict[str, Any] = next(
            (c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {}
        )
        return ready if ready.get("reason") == "WriteFailed" else None

    ready = kube_cluster.wait_until("bad reported", refused, timeout=60)
    assert ready["status"] == "False"
    assert "Deployment bad (422 Invalid)" in ready["message"], ready["message"]
    assert "Unsupported value" in ready["message"]
    assert not exists(kube_cluster, "deployment", "bad", ns)
    status = get(kube_cluster, "platform", "mz", ns)["status"]
    [entry] = status["excludedMembers"]
    assert (entry["kind"], entry["name"], entry["reason"]) == (
        "ExecutionContainer",
        "bad",
        "WriteFailed",
    )
    assert condition(get(kube_cluster, "platform", "mz", ns), "MembersReady") == "False"

    # The group goes on without it: client auth is switched on, a new container rolls out.
    body["spec"]["tls"]["requireClientAuth"] = True
    late = member(ns, "ExecutionContainer", "late", image="pico/ec:test")
    kube_cluster.apply([body, late])
    wait_ready(kube_cluster, "executioncontainer", "late", ns)

    def enforced() -> bool:
        obj = get(kube_cluster, "platform", "mz", ns)
        return bool(obj["status"].get("clientAuth", {}).get("phase") == "Enforced")

    kube_cluster.wait_until("client auth enforced", enforced, timeout=120)
    assert len(warnings_on(kube_cluster, ns, "bad")) == 1  # one Event, not one per pass

    # Fixed, it is retried at once (its generation changed) and joins the group.
    bad["spec"]["podTemplate"] = {}
    kube_cluster.apply(bad)
    wait_ready(kube_cluster, "executioncontainer", "bad", ns)
    assert exists(kube_cluster, "deployment", "bad", ns)

    def included() -> bool:
        obj = get(kube_cluster, "platform", "mz", ns)
        return not obj["status"].get("excludedMembers")

    kube_cluster.wait_until("no member left out", included, timeout=60)


def test_a_platform_named_like_a_container_never_takes_its_key(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    ec1 = member(ns, "ExecutionContainer", "ec1", image="pico/ec:test")
    kube_cluster.apply([platform(ns), ec1])
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)
    before = get(kube_cluster, "secret", "ec1-rcp-tls-state", ns)
    newcomer = platform(ns)
    newcomer["metadata"]["name"] = "ec1"
    kube_cluster.apply(newcomer)

    def refused() -> str | None:
        obj = get(kube_cluster, "platform", "ec1", ns)
        ready: dict[str, Any] = next(
            (c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {}
        )
        return str(ready["message"]) if ready.get("reason") == "NameClash" else None

    message = kube_cluster.wait_until("clash reported", refused, timeout=60)
    assert "Platform ec1" in message and "ExecutionContainer ec1" in message
    after = get(kube_cluster, "secret", "ec1-rcp-tls-state", ns)
    assert after["data"] == before["data"]
    assert after["metadata"]["ownerReferences"] == before["metadata"]["ownerReferences"]
    assert not exists(kube_cluster, "statefulset", "ec1", ns)
    assert not exists(kube_cluster, "secret", "ec1-ca", ns)
    assert len(warnings_on(kube_cluster, ns, "ec1")) == 1
    wait_ready(kube_cluster, "executioncontainer", "ec1", ns)


def test_a_configmap_over_1mib_is_reported_on_its_container(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    huge = {f"mz.filler{i:03}": "x" * 4096 for i in range(256)}  # the schema's maxima
    big = member(ns, "ExecutionContainer", "big", image="pico/ec:test", properties=huge)
    small = member(ns, "ExecutionContainer", "small", image="pico/ec:test")
    kube_cluster.apply([platform(ns), small])
    kube_cluster.apply(big, "--server-side")  # too big for kubectl's last-applied annotation
    wait_ready(kube_cluster, "executioncontainer", "small", ns)

    def refused() -> str | None:
        obj = get(kube_cluster, "executioncontainer", "big", ns)
        ready: dict[str, Any] = next(
            (c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {}
        )
        return str(ready["message"]) if ready.get("reason") == "WriteFailed" else None

    message = kube_cluster.wait_until("big reported", refused, timeout=60)
    # measured before sending (reconcile/sizes.py), so the API never sees the write
    assert "ConfigMap big-rcp-tls (413 RequestEntityTooLarge)" in message, message
    assert "over the API's 1024 KiB limit" in message, message
    wait_ready(kube_cluster, "platform", "mz", ns)
    assert not exists(kube_cluster, "deployment", "big", ns)


def test_an_object_the_user_made_is_never_overwritten(
    kube_cluster: Any, operator: Any, operator_kubeconfig: Any, namespace: str
) -> None:
    """The check by owner references, on what the real API lists (metadata only)."""
    from kubernetes import config

    from pico_tls.kube import SECRET, Kube

    ns = namespace
    kube_cluster.kubectl(
        "create", "secret", "generic", "dana-desktop-key", "-n", ns, "--from-literal=mine=1"
    )
    dana = member(ns, "DesktopClient", "dana", user="Dana")
    kube_cluster.apply([platform(ns), dana])
    wait_ready(kube_cluster, "platform", "mz", ns)

    def refused() -> str | None:
        obj = get(kube_cluster, "desktopclient", "dana", ns)
        ready: dict[str, Any] = next(
            (c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {}
        )
        return str(ready["message"]) if ready.get("reason") == "NameClash" else None

    message = kube_cluster.wait_until("clash reported", refused, timeout=60)
    assert "Secret dana-desktop-key, which exists and was not made by the operator" in message
    secret = get(kube_cluster, "secret", "dana-desktop-key", ns)
    assert set(secret["data"]) == {"mine"} and not secret["metadata"].get("ownerReferences")
    assert not exists(kube_cluster, "secret", "dana-desktop-key-state", ns)

    listed = Kube(config.new_client_from_config(str(operator_kubeconfig))).list_metadata(SECRET, ns)
    names = {item["metadata"]["name"] for item in listed}
    assert {"dana-desktop-key", "mz-ca", "mz-rcp-tls"} <= names
    assert not any("data" in item for item in listed)  # metadata only, never Secret data
