"""The test harness itself: CRDs on a real apiserver, rollouts on kwok's fake nodes, clean
start/stop of the local control plane, the operator under its own RBAC."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import KubeCluster

from pico_harness.cluster.localcluster import LocalCluster, pid_alive, port_in_use
from pico_harness.support.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e
IMAGE = "registry.example/never-pulled:1.0"


def _labels(app: str) -> dict[str, Any]:
    return {"matchLabels": {"app": app}}


def _pod_template(app: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": IMAGE}]},
    }


def _ready_pods(cluster: KubeCluster, ns: str, app: str) -> list[dict[str, Any]]:
    pods = cluster.get_json("pods", "-n", ns, "-l", f"app={app}")["items"]
    return [
        p
        for p in pods
        if p["status"].get("phase") == "Running"
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    ]


def test_crds_are_established(crds: KubeCluster) -> None:
    names = {
        crd["metadata"]["name"]: crd
        for crd in crds.get_json("crd")["items"]
        if crd["spec"]["group"] == "picotls.dev"
    }
    assert {
        "platforms.picotls.dev",
        "executioncontainers.picotls.dev",
        "desktopclients.picotls.dev",
    } <= set(names)
    for crd in names.values():
        established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
        assert established and established[0]["status"] == "True"


def test_deployment_and_statefulset_roll_out_on_fake_nodes(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    kube_cluster.apply(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {
                    "replicas": 3,
                    "selector": _labels("web"),
                    "template": _pod_template("web"),
                },
            },
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "db", "namespace": namespace},
                "spec": {
                    "replicas": 2,
                    "serviceName": "db",
                    "selector": _labels("db"),
                    "template": _pod_template("db"),
                },
            },
        ]
    )
    kube_cluster.kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s")
    kube_cluster.kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=90s")
    assert len(_ready_pods(kube_cluster, namespace, "web")) == 3
    db = _ready_pods(kube_cluster, namespace, "db")
    assert sorted(p["metadata"]["name"] for p in db) == ["db-0", "db-1"]
    if kube_cluster.local is not None:
        assert {p["spec"]["nodeName"] for p in db} <= set(kube_cluster.local.node_names)

    # a template change rolls the StatefulSet; the garbage collector removes owned pods
    kube_cluster.kubectl(
        "patch",
        "statefulset",
        "db",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}}),
    )
    kube_cluster.kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=90s")
    kube_cluster.kubectl("delete", "deployment", "web", "-n", namespace)
    kube_cluster.wait_until(
        "pods of the deleted Deployment gone",
        lambda: not kube_cluster.get_json("pods", "-n", namespace, "-l", "app=web")["items"],
        timeout=60,
    )


def test_operator_runs_under_its_service_account(
    kube_cluster: KubeCluster, operator_kubeconfig: Path
) -> None:
    from pico_harness.cluster.localcluster import ClusterAccess

    op = ClusterAccess(operator_kubeconfig, kube_cluster.kubectl_bin)
    assert (
        "system:serviceaccount:pico-tls-system:pico-tls-operator"
        in op.kubectl("auth", "whoami").stdout
    )
    can = op.kubectl(
        "auth", "can-i", "patch", "platforms.picotls.dev", "--subresource=status", "-A", check=False
    ).stdout.strip()
    assert can == "yes"
    # Least privilege: not cluster-admin, never deletes or replaces, never edits users' specs.
    for verb, resource in (
        ("create", "clusterroles"),
        ("delete", "secrets"),
        ("update", "deployments.apps"),
        ("patch", "platforms.picotls.dev"),
        ("delete", "platforms.picotls.dev"),
    ):
        answer = op.kubectl("auth", "can-i", verb, resource, "-A", check=False).stdout.strip()
        assert answer == "no", (verb, resource)


def test_operator_records_observed_generation(
    kube_cluster: KubeCluster, operator: OperatorProcess, namespace: str
) -> None:
    kube_cluster.apply(
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "Platform",
            "metadata": {"name": "harness", "namespace": namespace},
            "spec": {"image": IMAGE},
        }
    )

    def observed() -> bool:
        obj = kube_cluster.get_json("platform", "harness", "-n", namespace)
        return bool(
            obj.get("status", {}).get("observedGeneration") == obj["metadata"]["generation"]
        )

    try:
        kube_cluster.wait_until("status.observedGeneration of the Platform", observed, timeout=90)
    except TimeoutError:
        pytest.fail(f"operator log:\n{operator.log_text()[-4000:]}")


@pytest.mark.skipif(
    bool(os.environ.get("PICO_TLS_KUBECONFIG")), reason="needs the local control plane binaries"
)
def test_start_stop_three_times_leaves_nothing_behind(tmp_path: Path) -> None:
    for round_ in range(3):
        cluster = LocalCluster(work_dir=tmp_path / f"round-{round_}", nodes=1)
        with cluster:
            pids = cluster.pids
            ports = cluster.ports
            assert set(pids) == {
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kwok",
            }
            assert all(port_in_use(p) for p in ports)
            out = cluster.kubectl("get", "--raw=/readyz").stdout
            assert out.strip() == "ok"
        assert not [n for n, pid in pids.items() if pid_alive(pid)]
        assert not [p for p in ports if port_in_use(p)]
        assert (tmp_path / f"round-{round_}" / "kube-apiserver.log").exists()


@pytest.mark.skipif(
    bool(os.environ.get("PICO_TLS_KUBECONFIG")), reason="needs the local control plane binaries"
)
def test_apiserver_args_are_passed_to_kube_apiserver(tmp_path: Path) -> None:
    """bench_certmanager counts requests with an audit log set up through apiserver_args."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n"
        "rules:\n- level: Metadata\n  resources: [{group: '', resources: [namespaces]}]\n"
        "- level: None\n"
    )
    log = tmp_path / "audit.log"
    flags = [f"--audit-policy-file={policy}", f"--audit-log-path={log}", "--audit-log-format=json"]
    with LocalCluster(work_dir=tmp_path / "cluster", nodes=1, apiserver_args=flags) as cluster:
        cluster.kubectl("get", "namespace", "kube-system")
        events = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(
        e["verb"] == "get"
        and e["objectRef"].get("name") == "kube-system"
        and e["userAgent"].startswith("kubectl/")
        for e in events
    ), events[-3:]
