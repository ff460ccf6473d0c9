"""The real node of the local cluster (LocalCluster(real_node=True)): real containers whose
traffic stays on the machine, and start/stop cycles that leave nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pico_harness.cluster import nodenet
from pico_harness.cluster.localcluster import LocalCluster, pid_alive, port_in_use
from pico_harness.cluster.ociimage import probe_image
from pico_harness.cluster.realnode import NODE_LABEL
from pico_harness.support.node_traces import Traces, node_rules, processes_using, sysctls

pytestmark = pytest.mark.e2e
ON_REAL_NODE = {NODE_LABEL[0]: NODE_LABEL[1]}


def _start(work: Path) -> tuple[LocalCluster, str]:
    cluster = LocalCluster(work_dir=work, keep_work_dir=True, real_node=True)
    cluster.start()
    names = cluster.import_image(probe_image(cluster.bin_dir).path)
    image = probe_image(cluster.bin_dir).name
    assert image in names or image in cluster.node.images()  # type: ignore[union-attr]
    return cluster, image


def _pod(name: str, image: str, *args: str, labels: dict[str, str] | None = None) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "nodeSelector": ON_REAL_NODE,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "probe", "image": image, "imagePullPolicy": "Never", "args": list(args)}
            ],
        },
    }


def _finished(cluster: LocalCluster, ns: str, name: str, timeout: float = 90) -> tuple[str, str]:
    """(phase, log) once the pod has Succeeded or Failed."""

    def phase() -> str | None:
        pod = cluster.access.get_json("pod", name, "-n", ns)
        value = pod["status"].get("phase")
        return value if value in ("Succeeded", "Failed") else None

    result = cluster.access.wait_until(f"pod {ns}/{name} finished", phase, timeout=timeout)
    log = cluster.kubectl("logs", name, "-n", ns).stdout
    return str(result), log


def _namespace(cluster: LocalCluster) -> str:
    ns = f"rn-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    cluster.access.wait_until(
        "default ServiceAccount",
        lambda: cluster.kubectl("get", "sa", "default", "-n", ns, check=False).returncode == 0,
    )
    return ns


@pytest.fixture(scope="class")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, str]]:
    """A cluster with a real node for the tests of one class (stopped before the cycle test,
    since one machine has one real node at a time)."""
    cluster, image = _start(tmp_path_factory.mktemp("realnode"))
    try:
        yield cluster, image
    finally:
        cluster.stop()


class TestPodsOnTheRealNode:
    def test_pod_resolves_a_service_by_name_and_connects_to_another_pod_through_it(
        self, real: tuple[LocalCluster, str]
    ) -> None:
        cluster, image = real
        ns = _namespace(cluster)
        server = _pod("echo-server", image, "serve", "8080", labels={"app": "echo"})
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo"},
            "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
        cluster.access.apply([server, service], "-n", ns)
        cluster.kubectl(
            "wait", "--for=condition=Ready", "pod/echo-server", "-n", ns, "--timeout=90s"
        )
        cluster_ip = cluster.access.get_json("service", "echo", "-n", ns)["spec"]["clusterIP"]
        # A Ready pod is not yet an endpoint kube-proxy has programmed (until then the
        # Service's rule rejects: "connection refused"); wait for its DNAT rule.
        server = cluster.access.get_json("pod", "echo-server", "-n", ns)["status"]["podIP"]
        cluster.access.wait_until(
            "kube-proxy's rule for the echo endpoint",
            lambda: any(f"--to-destination {server}:8080" in r for r in nodenet.rules_text()),
        )
        cluster.access.apply(_pod("client", image, "dial", "echo:80", "5s"), "-n", ns)
        phase, log = _finished(cluster, ns, "client")
        assert phase == "Succeeded", log
        assert f"resolved echo {cluster_ip}" in log  # CoreDNS answered with the Service's IP
        assert "ok hello from echo-server" in log  # and the connection reached the other pod
        server_ip = cluster.access.get_json("pod", "echo-server", "-n", ns)["status"]["podIP"]
        client_ip = cluster.access.get_json("pod", "client", "-n", ns)["status"]["podIP"]
        for ip in (server_ip, client_ip):
            assert ip.startswith("10.244.0."), ip  # on the real node's bridge
        server_log = cluster.kubectl("logs", "echo-server", "-n", ns).stdout
        assert f"connection from {client_ip}:" in server_log  # not masqueraded

    def test_pods_reach_the_apiserver_through_the_kubernetes_service(
        self, real: tuple[LocalCluster, str]
    ) -> None:
        cluster, image = real
        ns = _namespace(cluster)
        cluster.access.apply(
            _pod("api", image, "connect", "kubernetes.default.svc.cluster.local:443"), "-n", ns
        )
        phase, log = _finished(cluster, ns, "api")
        assert phase == "Succeeded", log
        assert "resolved kubernetes.default.svc.cluster.local 10.96.0.1" in log

    def test_cluster_dns_answers_cluster_names_only(self, real: tuple[LocalCluster, str]) -> None:
        cluster, image = real
        ns = _namespace(cluster)
        # a name outside the cluster zone: CoreDNS has no upstream, so the lookup fails
        cluster.access.apply(_pod("outside", image, "resolve", "www.example.com"), "-n", ns)
        phase, log = _finished(cluster, ns, "outside")
        assert phase == "Failed", log
        assert "resolve failed: www.example.com" in log

    def test_pods_cannot_reach_the_machines_network(self, real: tuple[LocalCluster, str]) -> None:
        """The eth0 network (192.0.2.0/24 here; the default gateway): the node's DROP rule
        stops the SYN before it leaves, as its packet counter shows."""
        cluster, image = real
        ns = _namespace(cluster)
        gateway = _default_gateway()
        dropped = nodenet.drop_counter()
        cluster.access.apply(_pod("outbound", image, "connect", f"{gateway}:80", "3s"), "-n", ns)
        phase, log = _finished(cluster, ns, "outbound")
        assert phase == "Failed", log
        assert "failed:" in log
        assert nodenet.drop_counter() > dropped  # dropped here, not refused somewhere else
        # the machine's own eth0 address is refused to pods as well (the node's input rule)
        own = _eth_address()
        refused = nodenet.drop_counter(nodenet.INPUT_CHAIN)
        cluster.access.apply(_pod("to-host", image, "connect", f"{own}:22", "3s"), "-n", ns)
        phase, log = _finished(cluster, ns, "to-host")
        assert phase == "Failed", log
        assert nodenet.drop_counter(nodenet.INPUT_CHAIN) > refused


def _default_gateway() -> str:
    out = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True)
    return out.stdout.split()[2]


def _eth_address() -> str:
    device = subprocess.run(
        ["ip", "-4", "route", "show", "default"], capture_output=True, text=True
    ).stdout.split()[4]
    out = subprocess.run(
        ["ip", "-4", "-j", "addr", "show", "dev", device], capture_output=True, text=True
    )
    return str(json.loads(out.stdout)[0]["addr_info"][0]["local"])


# --------------------------------------------------------------------------------------------
# start/stop cycles


def _running_traces(cluster: LocalCluster) -> dict[str, list[str]]:
    """What the running node has made, to look for after it stopped."""
    traces = Traces.of(cluster.work_dir)
    return {
        "netns": traces.netns,
        "veths": traces.veths,
        "mounts": traces.mounts,
        "pids": [str(p) for p in cluster.pids.values()],
        "ports": [str(p) for p in cluster.ports],
    }


def test_three_up_down_cycles_leave_nothing_behind(tmp_path: Path) -> None:
    with nodenet.node_lock():  # no other run's real node between our cycles
        _three_cycles(tmp_path)


def _three_cycles(tmp_path: Path) -> None:
    rules_before = node_rules()
    sysctls_before = sysctls()
    for cycle in range(3):
        work = tmp_path / f"cycle{cycle}"
        cluster, image = _start(work)
        try:
            ns = _namespace(cluster)
            cluster.access.apply(_pod("sleeper", image, "serve", "8080"), "-n", ns)
            cluster.kubectl(
                "wait", "--for=condition=Ready", "pod/sleeper", "-n", ns, "--timeout=90s"
            )
            traces = _running_traces(cluster)
            assert traces["netns"] and traces["veths"] and traces["mounts"], traces
            assert node_rules() - rules_before  # kube-proxy and the drop rules are in place
        finally:
            cluster.stop()
        assert not processes_using(work), processes_using(work)
        assert not [p for p in traces["pids"] if pid_alive(int(p))]
        assert not [p for p in traces["ports"] if port_in_use(int(p))]
        assert not nodenet.mounts_under([work]), nodenet.mounts_under([work])
        assert not set(traces["netns"]) & set(nodenet.netns_names())
        assert not Path(f"/sys/class/net/{nodenet.BRIDGE}").exists()
        assert not set(traces["veths"]) & set(nodenet.veth_links())
        assert node_rules() == rules_before, node_rules() ^ rules_before
        assert not nodenet.listening_on(nodenet.NODE_IP)
        assert not list(Path("/sys/fs/cgroup/memory").glob("kubepods*"))
        assert sysctls() == sysctls_before


CHILD = """
import sys, time
from pathlib import Path
from pico_harness.cluster.localcluster import LocalCluster
from pico_harness.cluster.ociimage import probe_image
cluster = LocalCluster(work_dir=Path(sys.argv[1]), keep_work_dir=True, real_node=True).start()
image = probe_image(cluster.bin_dir)
cluster.import_image(image.path)
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "namespace": "default"},
       "spec": {"nodeSelector": {"picotls.dev/node": "real"}, "containers": [{"name": "p",
       "image": image.name, "imagePullPolicy": "Never", "args": ["serve", "8080"]}]}}
cluster.access.apply(pod)
cluster.kubectl("wait", "--for=condition=Ready", "pod/orphan", "--timeout=90s")
print("READY", flush=True)
time.sleep(3600)
"""


def test_the_next_run_cleans_up_after_a_killed_one(tmp_path: Path) -> None:
    """SIGKILL of the Python process: its components get SIGTERM (PR_SET_PDEATHSIG), but the
    shims and containers live on; the next real node ends them and removes their netns."""
    first = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(first)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        assert child.stdout is not None
        assert "READY" in child.stdout.readline()
        netns_before_kill = [n for n in nodenet.netns_names() if n.startswith("cni-")]
    finally:
        child.kill()
        child.wait(30)
    time.sleep(3)  # components end on their SIGTERM
    assert processes_using(first)  # the orphaned shim and container
    orphan_netns = set(netns_before_kill) & set(nodenet.netns_names())
    assert orphan_netns
    with nodenet.node_lock():  # no other run's node between ours and the checks
        cluster, _ = _start(tmp_path / "next")
        cluster.stop()
        assert not processes_using(first), processes_using(first)
        assert not nodenet.mounts_under([first])
        assert not orphan_netns & set(nodenet.netns_names())
        assert not Path(f"/sys/class/net/{nodenet.BRIDGE}").exists()
