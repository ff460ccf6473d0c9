"""End-to-end on real pods: a real node in the local cluster, the operator installed with
`kubectl apply -k manifests/` from its locally built image, the examples run by the pico
stand-in (tests/images/standin), live mutual-TLS traffic from every Execution Container to the
Platform's Service through every transition.

The tests share one cluster (module scope) and run in order: install, traffic, transitions,
operator killed mid-switch. Figures per transition go to the terminal summary (and
bench/bench_real_pods.py prints the same table).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.cluster import nodenet
from tests.e2e import realpods_env as rp
from tests.e2e.traffic import EC_COMPONENT, TrafficMonitor, Window

pytestmark = pytest.mark.e2e

NS = "realpods"
FINAL_PHASES = ("Enforced", "Disabled")
_rows: list[dict[str, Any]] = []


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[rp.RealPods]:
    with rp.real_pods(tmp_path_factory.mktemp("realnode")) as env:
        yield env
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    for row in _rows:  # the traffic per transition, in the terminal summary's place
        if reporter is not None:
            reporter.write_line(f"real pods: {row}")


@pytest.fixture(scope="module")
def operator_pod(env: rp.RealPods) -> dict[str, Any]:
    return rp.install_operator(env)


@pytest.fixture(scope="module")
def traffic(env: rp.RealPods, operator_pod: dict[str, Any]) -> Iterator[TrafficMonitor]:
    env.kubectl("create", "namespace", NS)
    with TrafficMonitor(env.cluster.kubeconfig, NS) as monitor:
        env.apply(rp.example_docs(env.standin), "-n", NS)
        for kind, name in (
            ("platform", "mz"),
            ("executioncontainer", "ec1"),
            ("executioncontainer", "ec2"),
        ):
            env.wait(
                f"{kind} {name} Ready",
                lambda k=kind, n=name: rp.resource_ready(env, k, n, NS),
                300,
            )
        settle(env, monitor)
        yield monitor
    if monitor.errors:
        print("traffic scrape errors:", monitor.errors[-5:])


def settle(env: rp.RealPods, monitor: TrafficMonitor, timeout: float = 300) -> None:
    """Every workload runs its current template and every EC pod's last attempt was ok."""

    def settled() -> bool:
        if not rp.workloads_settled(env, NS):
            return False
        since = monitor.wait_scrape()
        pods = env.get("pods", "-n", NS, "-l", f"app.kubernetes.io/component={EC_COMPONENT}")
        names = {p["metadata"]["name"] for p in pods["items"]}
        states = monitor.current_ec_states(since)
        return bool(names) and all(states.get(n) == "ok" for n in names)

    env.wait("workloads settled, every EC connected", settled, timeout=timeout, interval=1)


def platform(env: rp.RealPods) -> dict[str, Any]:
    obj: dict[str, Any] = env.get("platform", "mz", "-n", NS)
    return obj


def client_auth_phase(env: rp.RealPods) -> str:
    return str(platform(env)["status"]["clientAuth"]["phase"])


def set_client_auth(env: rp.RealPods, on: bool) -> None:
    value = "true" if on else "false"
    env.kubectl(
        "patch", "platform", "mz", "-n", NS, "--type=merge",
        "-p", f'{{"spec":{{"tls":{{"requireClientAuth":{value}}}}}}}',
    )  # fmt: skip


def record(monitor: TrafficMonitor, name: str, t0: float) -> Window:
    window = monitor.window(name, t0, monitor.wait_scrape())
    _rows.append(window.row())
    print(window.row())
    return window


def assert_clean(window: Window, revoked_subjects: tuple[str, ...] = ()) -> None:
    assert window.ec.get("ok", 0) > 0, window.row()
    assert window.tls_failures == 0, (window.row(), window.ec)
    assert window.platform_tls_failures(revoked_subjects) == {}, window.platform_peers


# ----------------------------------------------------------------------------------------


def test_operator_pod_ready_on_the_real_node_under_its_service_account(
    env: rp.RealPods, operator_pod: dict[str, Any]
) -> None:
    spec = operator_pod["spec"]
    assert spec["nodeName"] == rp.NODE_NAME
    assert spec["serviceAccountName"] == "pico-tls-operator"
    container = spec["containers"][0]
    assert container["image"] == env.images["operator"].ref
    assert container["imagePullPolicy"] == "Never"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # in-cluster config: the kubernetes Service leads to the apiserver on the bridge address
    service = env.get("service", "kubernetes", "-n", "default")
    slices = env.get(
        "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes"
    )["items"]
    addresses = {a for s in slices for e in s["endpoints"] for a in e["addresses"]}
    assert service["spec"]["clusterIP"] == "10.96.0.1" and addresses == {nodenet.NODE_IP}


def test_operator_pod_reconciles_the_examples_into_real_pods(
    env: rp.RealPods, traffic: TrafficMonitor
) -> None:
    pods = env.get("pods", "-n", NS, "-l", "app.kubernetes.io/name=pico")["items"]
    assert {p["spec"]["nodeName"] for p in pods} == {rp.NODE_NAME}
    assert {c["image"] for p in pods for c in p["spec"]["containers"]} == {env.standin}
    assert sorted(p["metadata"]["labels"]["app.kubernetes.io/instance"] for p in pods) == [
        "ec1",
        "ec2",
        "ec2",
        "mz",
    ]
    status = platform(env)["status"]
    assert status["clientAuth"]["phase"] == "Enforced"
    # the operator wrote this: its log is the pod's (it ran as a pod, not as a test process)
    log = env.kubectl("logs", "-n", rp.OPERATOR_NS, "deploy/pico-tls-operator", check=False)
    assert "PRIVATE KEY" not in log


def test_execution_containers_reach_the_platform_service_with_mutual_tls(
    env: rp.RealPods, traffic: TrafficMonitor
) -> None:
    t0 = traffic.wait_scrape()
    time.sleep(5)
    window = record(traffic, "steady (client auth required)", t0)
    assert_clean(window)
    assert window.unreachable_attempts == 0, window.row()
    ec_tracks = [t for t in traffic.tracks(EC_COMPONENT) if t.times[-1] >= window.t1 - 1]
    for track in ec_tracks:
        assert track.last["target"] == f"mz.{NS}.svc:6790"
        assert track.last["state"] == "ok"
    # the Platform required and saw each container's own certificate (mutual TLS)
    seen = {k.split("|")[0] for k, n in window.platform_peers.items() if k.endswith("|ok") and n}
    assert any("CN=ec1" in s for s in seen) and any("CN=ec2" in s for s in seen), seen
    assert "NONE" not in seen, seen


def test_transitions_keep_traffic_between_live_pods_clean(
    env: rp.RealPods, traffic: TrafficMonitor
) -> None:
    def step(name: str, action: Any, done: Any, revoked: tuple[str, ...] = ()) -> Window:
        t0 = traffic.wait_scrape()
        action()
        env.wait(name, done, timeout=400, interval=0.5)
        settle(env, traffic)
        window = record(traffic, name, t0)
        assert_clean(window, revoked)
        return window

    step(
        "client auth on -> off",
        lambda: set_client_auth(env, False),
        lambda: client_auth_phase(env) == "Disabled",
    )
    step(
        "client auth off -> on",
        lambda: set_client_auth(env, True),
        lambda: client_auth_phase(env) == "Enforced",
    )

    old_ca = platform(env)["status"]["caFingerprint"]

    def rotated() -> bool:
        status = platform(env)["status"]
        return status["caFingerprint"] != old_ca and not status.get("caRotation")

    step(
        "CA rotation",
        lambda: env.kubectl("annotate", "platform", "mz", "-n", NS, "picotls.dev/rotate-ca=r1"),
        rotated,
    )
    step(
        "renewal (platform)",
        lambda: env.kubectl("annotate", "platform", "mz", "-n", NS, "picotls.dev/renew=r1"),
        lambda: platform(env)["status"].get("renewRequest") == "r1",
    )
    step(
        "container ec3 added",
        lambda: env.apply(rp.container("ec3", 1, env.standin), "-n", NS),
        lambda: rp.resource_ready(env, "executioncontainer", "ec3", NS),
    )
    step(
        "container ec2 removed",
        lambda: env.kubectl("delete", "executioncontainer", "ec2", "-n", NS),
        lambda: not env.get("deployments", "-n", NS, "--field-selector=metadata.name=ec2")["items"],
    )
    revoke_desktop(env, traffic, step)
    step(
        "client auth on -> off (again)",
        lambda: set_client_auth(env, False),
        lambda: client_auth_phase(env) == "Disabled",
    )


def revoke_desktop(env: rp.RealPods, traffic: TrafficMonitor, step: Any) -> None:
    """alice and bob are accepted; alice's DesktopClient deleted: her kept key is refused by
    the live Platform, bob's still accepted."""
    assert client_auth_phase(env) == "Enforced"  # a desktop is only checked when required
    env.wait(
        "desktop keys",
        lambda: all(
            env.kubectl("get", "secret", f"{d}-desktop-key", "-n", NS, check=False)
            for d in ("alice", "bob")
        ),
    )
    rp.copy_secret(env, NS, "alice-desktop-key", "alice-kept-key")
    assert rp.run_desktop(env, NS, "alice-kept-key", "alice-before") == 0
    assert rp.run_desktop(env, NS, "bob-desktop-key", "bob-before") == 0
    trusted_before = platform(env)["status"].get("trustedClients")
    step(
        "desktop alice revoked",
        lambda: env.kubectl("delete", "desktopclient", "alice", "-n", NS),
        lambda: platform(env)["status"].get("trustedClients") != trusted_before,
        revoked=("CN=Alice Andersson",),
    )
    assert rp.run_desktop(env, NS, "alice-kept-key", "alice-after") == 10  # refused by TLS
    assert rp.run_desktop(env, NS, "bob-desktop-key", "bob-after") == 0


def test_operator_killed_mid_switch_resumes_and_traffic_stays_clean(
    env: rp.RealPods, traffic: TrafficMonitor
) -> None:
    settle(env, traffic)
    before = rp.wait_operator_pod(env)
    t0 = traffic.wait_scrape()
    target = client_auth_phase(env) != "Enforced"
    set_client_auth(env, target)
    final = "Enforced" if target else "Disabled"
    phase = env.wait(
        "an intermediate client-auth phase",
        lambda: (p := client_auth_phase(env)) not in FINAL_PHASES and p,
        timeout=120,
        interval=0.1,
    )
    kill_operator_pod(env, before)
    after = rp.wait_operator_pod(env, not_named=before["metadata"]["name"])
    env.wait(f"client auth {final} after the restart", lambda: client_auth_phase(env) == final, 400)
    settle(env, traffic)
    window = record(traffic, f"operator killed in {phase} (-> {final})", t0)
    assert after["metadata"]["name"] != before["metadata"]["name"]
    assert_clean(window)


def kill_operator_pod(env: rp.RealPods, pod: dict[str, Any]) -> None:
    """SIGKILL of the operator's process through the node's containerd (no shutdown of any
    kind), then the pod object force-deleted so the Deployment makes a new pod."""
    assert env.cluster.node is not None
    container_id = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    env.cluster.node.ctr("tasks", "kill", "--signal", "SIGKILL", container_id)
    env.kubectl(
        "delete", "pod", pod["metadata"]["name"], "-n", rp.OPERATOR_NS,
        "--grace-period=0", "--force",
    )  # fmt: skip
