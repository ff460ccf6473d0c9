"""End-to-end on the real apiserver (kwok pods): bring your own workloads (spec.workloadRef).
A StatefulSet the user applies with their own field manager, offered with the label
picotls.dev/attach, gets the operator's additions and nothing else; the user's server-side
apply of their own manifest shows no drift; deleting the Platform takes the additions back.
A workload nobody offered is left alone (condition, Event); a controller that keeps putting
back its own pod template is reported as Stalled, naming it, not fought."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import yaml

from pico_harness.support.resources import condition, get, member, platform, wait_ready

pytestmark = pytest.mark.e2e
ATTACH = "picotls.dev/attach"
MANAGER = "pico-tls-attach"


def user_workload(ns: str, kind: str, name: str, *, offered_to: str | None) -> dict[str, Any]:
    labels = {ATTACH: offered_to} if offered_to else {}
    app = {"app": name}
    spec: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": app},
        "template": {
            "metadata": {"labels": app},
            "spec": {
                "containers": [
                    {"name": "log-shipper", "image": "busybox:user"},
                    {
                        "name": "pico",
                        "image": "vendor/pico:user",
                        "env": [{"name": "USER_SETTING", "value": "kept"}],
                    },
                ]
            },
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": spec,
    }


def server_side(cluster: Any, manifest: dict[str, Any], manager: str, *extra: str) -> Any:
    return cluster.kubectl(
        *extra[:1] or ("apply",),
        "--server-side",
        f"--field-manager={manager}",
        "-f",
        "-",
        *extra[1:],
        input_text=yaml.safe_dump(manifest),
        check=False,
    )


def pico_container(obj: dict[str, Any]) -> dict[str, Any]:
    containers = obj["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "pico")


def managers(cluster: Any, kind: str, name: str, ns: str) -> set[str]:
    obj = cluster.get_json(kind, name, "-n", ns, "--show-managed-fields")
    return {m["manager"] for m in obj["metadata"].get("managedFields") or ()}


def attached(obj: dict[str, Any]) -> bool:
    volumes = {v["name"] for v in obj["spec"]["template"]["spec"].get("volumes") or ()}
    return "pico-tls" in volumes


def test_attach_adds_only_its_fields_and_detaches_on_delete(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    mine = user_workload(ns, "StatefulSet", "mz-app", offered_to="mz")
    assert server_side(kube_cluster, mine, "team-chart").returncode == 0
    before = get(kube_cluster, "statefulset", "mz-app", ns)
    ref = {"kind": "StatefulSet", "name": "mz-app", "containerName": "pico"}
    body = platform(ns)
    body["spec"] = {"workloadRef": ref, "tls": {"requireClientAuth": True}}
    kube_cluster.apply(body)
    status = wait_ready(kube_cluster, "platform", "mz", ns, timeout=180)
    assert status["status"]["clientAuth"]["effective"] is True

    live = get(kube_cluster, "statefulset", "mz-app", ns)
    assert attached(live) and MANAGER in managers(kube_cluster, "statefulset", "mz-app", ns)
    pico = pico_container(live)
    env = {e["name"]: e for e in pico["env"]}
    assert env["USER_SETTING"]["value"] == "kept"
    assert "secretKeyRef" in env["PICO_RCP_TLS_KEYSTORE_PASSWORD"]["valueFrom"]
    assert "picotls.dev/mounted-content" in live["spec"]["template"]["metadata"]["annotations"]
    # Never scaled, images and the other container untouched.
    assert live["spec"]["replicas"] == 2
    assert [c["image"] for c in live["spec"]["template"]["spec"]["containers"]] == [
        "busybox:user",
        "vendor/pico:user",
    ]
    assert (
        live["spec"]["template"]["spec"]["containers"][0]
        == (before["spec"]["template"]["spec"]["containers"][0])
    )
    # The Platform's Services select the user's pods.
    service = get(kube_cluster, "service", "mz", ns)
    assert service["spec"]["selector"] == {"app": "mz-app"}

    # The user's own server-side apply: no conflict, and kubectl diff sees no drift.
    diff = server_side(kube_cluster, mine, "team-chart", "diff")
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert server_side(kube_cluster, mine, "team-chart", "apply").returncode == 0
    assert attached(get(kube_cluster, "statefulset", "mz-app", ns))

    kube_cluster.kubectl("delete", "platform", "mz", "-n", ns)
    kube_cluster.wait_until(
        "additions taken back",
        lambda: not attached(get(kube_cluster, "statefulset", "mz-app", ns)),
        timeout=60,
    )
    after = get(kube_cluster, "statefulset", "mz-app", ns)
    assert MANAGER not in managers(kube_cluster, "statefulset", "mz-app", ns)
    assert {e["name"] for e in pico_container(after)["env"]} == {"USER_SETTING"}
    assert "picotls.dev/mounted-content" not in (
        after["spec"]["template"]["metadata"].get("annotations") or {}
    )
    assert after["spec"]["replicas"] == 2


def reason(cluster: Any, kind: str, name: str, ns: str) -> str | None:
    obj = get(cluster, kind, name, ns)
    found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
    return str(found[0]["reason"]) if found else None


def test_unoffered_workloads_are_left_alone_and_a_reverting_controller_is_reported(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    theirs = user_workload(ns, "Deployment", "ec-app", offered_to=None)
    assert server_side(kube_cluster, theirs, "fake-controller").returncode == 0
    kube_cluster.apply(
        [
            platform(ns, requireClientAuth=False),
            member(
                ns,
                "ExecutionContainer",
                "ec1",
                workloadRef={"kind": "Deployment", "name": "ec-app"},
            ),
        ]
    )
    kube_cluster.wait_until(
        "ec1 refused",
        lambda: reason(kube_cluster, "executioncontainer", "ec1", ns) == "AttachNotConsented",
    )
    assert MANAGER not in managers(kube_cluster, "deployment", "ec-app", ns)

    # Offered: attached. Then a controller that keeps replacing its whole pod template.
    theirs["metadata"]["labels"] = {ATTACH: "mz"}
    assert server_side(kube_cluster, theirs, "fake-controller").returncode == 0
    kube_cluster.wait_until(
        "ec-app attached",
        lambda: attached(get(kube_cluster, "deployment", "ec-app", ns)),
        timeout=60,
    )
    stop = threading.Event()

    def controller() -> None:
        while not stop.wait(1.0):
            live = get(kube_cluster, "deployment", "ec-app", ns)
            if attached(live):
                kube_cluster.kubectl(
                    "replace",
                    "--field-manager=fake-controller",
                    "-f",
                    "-",
                    input_text=yaml.safe_dump(theirs),
                    check=False,
                )

    thread = threading.Thread(target=controller, daemon=True)
    thread.start()
    try:
        kube_cluster.wait_until(
            "ec1 stalled",
            lambda: reason(kube_cluster, "executioncontainer", "ec1", ns) == "AttachReverted",
            timeout=120,
        )
        stop.wait(3)  # the controller keeps going a little: the operator no longer answers
    finally:
        stop.set()
        thread.join()
    ec1 = get(kube_cluster, "executioncontainer", "ec1", ns)
    assert condition(ec1, "Stalled") == "True"
    ready = next(c for c in ec1["status"]["conditions"] if c["type"] == "Ready")
    assert "fake-controller" in ready["message"], ready
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    warned = [e for e in events if e["reason"] == "AttachReverted"]
    assert len(warned) == 1 and warned[0]["type"] == "Warning", warned
    restored = [e["message"] for e in events if e["reason"] == "AttachmentRestored"]
    assert len(restored) >= 3 and all("fake-controller" in m for m in restored), restored
    # Not fought: once stalled, nothing is put back (the controller's template stays).
    assert not attached(get(kube_cluster, "deployment", "ec-app", ns))


def test_a_field_the_user_owns_is_never_taken(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    """The user's container already mounts its own volume at the keystore's path: the
    operator's (unforced) apply conflicts, and the Platform says so, naming the user's manager."""
    ns = namespace
    mine = user_workload(ns, "StatefulSet", "mz-app", offered_to="mz")
    pod = mine["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "own-certs", "emptyDir": {}}]
    pod["containers"][1]["volumeMounts"] = [{"name": "own-certs", "mountPath": "/etc/pico/tls"}]
    assert server_side(kube_cluster, mine, "team-chart").returncode == 0
    body = platform(ns)
    body["spec"] = {
        "workloadRef": {"kind": "StatefulSet", "name": "mz-app", "containerName": "pico"}
    }
    kube_cluster.apply(body)
    kube_cluster.wait_until(
        "Platform refused",
        lambda: reason(kube_cluster, "platform", "mz", ns) == "WriteFailed",
        timeout=60,
    )
    ready = next(
        c
        for c in get(kube_cluster, "platform", "mz", ns)["status"]["conditions"]
        if c["type"] == "Ready"
    )
    assert "409" in ready["message"] and "team-chart" in ready["message"], ready
    live = get(kube_cluster, "statefulset", "mz-app", ns)
    assert pico_container(live)["volumeMounts"] == [
        {"name": "own-certs", "mountPath": "/etc/pico/tls"}
    ]
    assert MANAGER not in managers(kube_cluster, "statefulset", "mz-app", ns)
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert any(e["type"] == "Warning" and e["reason"] == "WriteFailed" for e in events), events
