"""End-to-end on real pods: a real node in the local cluster, the operator installed with
`kubectl apply -k manifests/` from its locally built image, the examples run by the pico
stand-in (harness/pico_harness/images/standin), live mutual-TLS traffic from every Execution
Container to the Platform's Service through every transition.

The tests share one cluster (module scope) and run in order: install, traffic, transitions,
operator killed mid-switch. Figures per transition go to the terminal summary (and
bench/bench_real_pods.py prints the same table).
"""

from __future__ import annotations

import base64
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from pico_harness.cluster import nodenet
from pico_harness.support import realpods_env as rp
from pico_harness.support import realpods_steps as steps
from pico_harness.support.leaks import LeakCheck, SecretRecorder, find_leaks
from pico_harness.support.prometheus import running_prometheus
from pico_harness.support.traffic import EC_COMPONENT, TrafficMonitor, Window

pytestmark = pytest.mark.e2e

NS = "realpods"
_rows: list[dict[str, Any]] = []
_NAMESPACES: list[str] = []  # more namespaces the leak check covers


class _TrafficSummary:
    """A plugin registered while the module runs: the traffic per transition in the summary."""

    @staticmethod
    def pytest_terminal_summary(terminalreporter: Any) -> None:
        for row in _rows:
            terminalreporter.write_line(f"real pods: {row}")


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[rp.RealPods]:
    reason = rp.fallback_reason()
    if reason:  # never skipped: these run in CI, where .ci/run installs what they need
        pytest.fail(f"real pods cannot run here: {reason}")
    plugins = request.config.pluginmanager
    if not plugins.has_plugin("real-pods-summary"):
        plugins.register(_TrafficSummary(), "real-pods-summary")
    with rp.real_pods(tmp_path_factory.mktemp("realnode")) as env:
        yield env


@pytest.fixture(scope="module")
def operator_pod(env: rp.RealPods) -> dict[str, Any]:
    return rp.install_operator(env)


@pytest.fixture(scope="module")
def recorder(env: rp.RealPods, operator_pod: dict[str, Any]) -> Iterator[SecretRecorder]:
    """Every Secret version of the run (passwords, private keys), for the leak check."""
    recorder = SecretRecorder(env.cluster.access).start()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="module")
def run(env: rp.RealPods, recorder: SecretRecorder) -> Iterator[steps.Run]:
    with TrafficMonitor(env.cluster.kubeconfig, NS) as monitor:
        yield steps.deploy_examples(env, NS, monitor)
    if monitor.errors:
        print("traffic scrape errors:", monitor.errors[-5:])


def record(window: Window) -> Window:
    _rows.append(window.row())
    return window


def assert_clean(window: Window) -> None:
    assert window.ec.get("ok", 0) > 0, window.row()
    assert window.tls_failures == 0, (window.row(), window.ec)
    assert window.platform_tls_failures == 0, (window.row(), window.platform)


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
    # and the operator pod's connections to the apiserver go that way (kube-proxy's DNAT)
    pod_ip = operator_pod["status"]["podIP"]
    port = env.cluster.server.rsplit(":", 1)[1]
    flows = env.wait(
        "the operator's connections through the kubernetes Service",
        lambda: [
            line
            for line in conntrack_lines("10.96.0.1", "443")
            if f"src={pod_ip} " in line
            and f"src={nodenet.NODE_IP} dst={pod_ip} sport={port} " in line
        ],
        timeout=60,
    )
    assert flows


def conntrack_lines(dst: str, dport: str) -> list[str]:
    """The machine's connection tracking entries towards dst:dport (original direction)."""
    out = subprocess.run(
        ["conntrack", "-L", "-p", "tcp", "--orig-dst", dst, "--dport", dport],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return out.splitlines()


def test_operator_pod_reconciles_the_examples_into_real_pods(
    env: rp.RealPods, run: steps.Run
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
    assert run.phase() == "Enforced"
    # the operator wrote this: its log is the pod's (it ran as a pod, not as a test process)
    log = env.kubectl("logs", "-n", rp.OPERATOR_NS, "deploy/pico-tls-operator", check=False)
    assert "PRIVATE KEY" not in log


def test_execution_containers_reach_the_platform_service_with_mutual_tls(
    run: steps.Run,
) -> None:
    t0 = run.monitor.wait_scrape()
    time.sleep(5)
    window = record(
        run.monitor.window("steady (client auth required)", t0, run.monitor.wait_scrape())
    )
    assert_clean(window)
    assert window.unreachable_attempts == 0, window.row()
    for track in run.monitor.tracks(EC_COMPONENT):
        if track.times[-1] >= window.t1 - 1:
            assert track.last["target"] == f"mz.{NS}.svc:6790"
            assert track.last["state"] == "ok"
    # the Platform required and saw each container's own certificate (mutual TLS)
    seen = {k.split("|")[0] for k, n in window.platform_peers.items() if k.endswith("|ok") and n}
    assert any("CN=ec1" in s for s in seen) and any("CN=ec2" in s for s in seen), seen
    assert "NONE" not in seen, seen


def test_the_traffic_check_sees_a_stranger_refused_by_the_live_platform(
    env: rp.RealPods, run: steps.Run, tmp_path: Path
) -> None:
    """The control: an Execution Container stand-in whose key nobody trusts (made by hand,
    trusting the operator's CA) is refused by the Platform, and the same window check that
    the transitions must pass counts it as TLS failures on both sides."""
    assert run.phase() == "Enforced"
    ca = base64.b64decode(env.get("secret", "mz-rcp-tls", "-n", NS)["data"]["ca.crt"])
    docs = stranger(NS, env.standin, tmp_path, ca)
    t0 = run.monitor.wait_scrape()
    env.apply(docs, "-n", NS, "--server-side")  # no last-applied copy of the Secret
    try:
        env.wait(
            "the stranger refused",
            lambda: any(
                t.instance == "stranger" and t.last.get("state") == "tls_rejected_by_peer"
                for t in run.monitor.tracks(EC_COMPONENT)
            ),
            timeout=120,
        )
        window = record(run.monitor.window("control: a stranger", t0, run.monitor.wait_scrape()))
    finally:
        env.kubectl("delete", "deployment,secret", "-l", "picotls.dev/test=stranger", "-n", NS)
    run.settle()
    with pytest.raises(AssertionError):
        assert_clean(window)
    assert window.tls_failures_of("stranger") == window.tls_failures > 0, window.ec_by_instance
    assert window.platform_tls_failures > 0, window.platform


def stranger(ns: str, image: str, folder: Path, ca: bytes) -> list[dict[str, Any]]:
    """A self-signed key made with keytool, trusting the operator's CA, run like an EC."""
    store, password = folder / "stranger.p12", "stranger-test-pw"
    (folder / "ca.crt").write_bytes(ca)
    common = ["-storetype", "PKCS12", "-storepass", password, "-keystore", str(store)]
    for args in (
        ["-genkeypair", "-alias", "stranger", "-keyalg", "RSA", "-keysize", "2048",
         "-dname", "CN=stranger", "-validity", "2", "-keypass", password],
        ["-importcert", "-noprompt", "-alias", "ca", "-file", str(folder / "ca.crt")],
    ):  # fmt: skip
        subprocess.run(["keytool", *args, *common], check=True, capture_output=True)
    props = (
        "pico.rcp.tls.keystore=/etc/pico/tls/keystore.p12\n"
        f"pico.rcp.tls.keystore.password={password}\npico.rcp.tls.keystore.alias=stranger\n"
        f"pico.rcp.platform.host=mz.{ns}.svc\npico.rcp.platform.port=6790\n"
    )
    labels = {
        "picotls.dev/test": "stranger",
        "app.kubernetes.io/name": "pico",
        "app.kubernetes.io/instance": "stranger",
        "app.kubernetes.io/component": EC_COMPONENT,
    }
    b64 = base64.b64encode
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "stranger-tls", "labels": {"picotls.dev/test": "stranger"}},
        "data": {
            "keystore.p12": b64(store.read_bytes()).decode(),
            "pico.properties": b64(props.encode()).decode(),
        },
    }
    pod_spec = {
        "nodeSelector": dict(rp.REAL_NODE_SELECTOR),
        "securityContext": {"fsGroup": 10001},
        "containers": [
            {
                "name": "ec",
                "image": image,
                "imagePullPolicy": "Never",
                "env": [
                    {"name": "PICO_PROPERTIES_FILES", "value": "/etc/pico/tls/pico.properties"}
                ],
                "volumeMounts": [{"name": "tls", "mountPath": "/etc/pico/tls", "readOnly": True}],
            }
        ],
        "volumes": [
            {"name": "tls", "secret": {"secretName": "stranger-tls", "defaultMode": 0o440}}
        ],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "stranger", "labels": {"picotls.dev/test": "stranger"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    return [secret, deployment]


def test_transitions_keep_traffic_between_live_pods_clean(run: steps.Run) -> None:
    assert run.phase() == "Enforced"
    assert_clean(record(steps.client_auth(run, False)))
    assert_clean(record(steps.client_auth(run, True)))
    assert_clean(record(steps.ca_rotation(run)))
    assert_clean(record(steps.renewal(run)))
    assert_clean(record(steps.add_container(run, "ec3")))
    assert_clean(record(steps.remove_container(run, "ec2")))
    assert run.phase() == "Enforced"  # a desktop's certificate is only checked when required
    window, codes = steps.revoke_desktop(run)
    assert_clean(record(window))  # alice's refused attempt comes after this window
    assert codes == {"alice before": 0, "bob before": 0, "alice after": 10, "bob after": 0}
    assert_clean(record(steps.client_auth(run, False, "client auth on -> off (again)")))


def test_operator_killed_mid_switch_resumes_and_traffic_stays_clean(run: steps.Run) -> None:
    run.settle()
    window, facts = steps.operator_killed_mid_switch(run)
    record(window)
    assert facts["new_pod"] != facts["killed_pod"], facts
    assert facts["phase_at_kill"] not in steps.FINAL_PHASES, facts
    assert_clean(window)


FORM_EXAMPLES = ("entrypoint-env.yaml", "startup-args.yaml")  # examples/delivery/


@pytest.mark.parametrize("example", FORM_EXAMPLES)
def test_delivery_forms_reach_the_stand_in_through_its_public_style_entrypoint(
    env: rp.RealPods, operator_pod: dict[str, Any], example: str
) -> None:
    """examples/delivery/: the EntrypointEnv form (TLS_* variables, the rest as -e arguments)
    and the StartupArgs form ($(VAR) password references expanded by the kubelet) started by
    the stand-in's imitation of the public entrypoint: the ECs reach their Platform with mutual
    TLS, nothing refused."""
    ns = f"form-{example.removesuffix('.yaml')}"
    path = rp.ROOT / "examples" / "delivery" / example
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for doc in docs:
        rp.set_standin(doc, env.standin)
        if doc["kind"] == "Platform":  # the stand-in serves its stats on the web port
            doc["spec"].setdefault("properties", {})["standin.http.port"] = "9000"
    env.kubectl("create", "namespace", ns)
    env.apply(docs, "-n", ns)
    for doc in docs:
        kind, name = doc["kind"].lower(), doc["metadata"]["name"]
        env.wait(
            f"{kind} {name} Ready", lambda k=kind, n=name: rp.resource_ready(env, k, n, ns), 300
        )
    _NAMESPACES.append(ns)
    with TrafficMonitor(env.cluster.kubeconfig, ns) as monitor:
        steps.Run(env, ns, monitor).settle()
        t0 = monitor.wait_scrape()
        time.sleep(3)
        window = monitor.window(f"delivery form {example}", t0, monitor.wait_scrape())
    assert_clean(record(window))


def test_a_real_prometheus_scrapes_the_operator_pod_and_sees_a_renewal(
    env: rp.RealPods, run: steps.Run, recorder: SecretRecorder, tmp_path: Path
) -> None:
    """Prometheus (Debian's package, on loopback) finds the operator pod through the API server,
    scrapes its `metrics` port on the pod's bridge IP, and its HTTP API shows the example
    Platform's expiry, then the later one after a `picotls.dev/renew`. The scrape holds no
    password or private key of any Secret the run saw."""
    expiry = (
        "picotls_certificate_expiration_timestamp_seconds"
        f'{{namespace="{NS}",name="mz",kind="Platform"}}'
    )
    rp.wait_operator_pod(env)

    def both() -> list[dict[str, Any]] | None:  # one leads (the Lease), one stands by
        found = rp.operator_pods(env)
        return found if len(found) == 2 and all(q["status"].get("podIP") for q in found) else None

    pods = env.wait("both operator replicas have an address", both)
    with running_prometheus(tmp_path / "prometheus") as p:
        p.set_targets(pods)

        def value() -> float | None:
            found = p.query(f"max({expiry})")  # only the leader reconciles and exports it
            return float(found[0]["value"][1]) if found else None

        before = env.wait("Prometheus has the Platform's expiry", value, timeout=180)
        assert before == stamp(run.platform()["status"]["notAfter"])
        replicas = sorted(q["metadata"]["name"] for q in pods)

        def both_up() -> list[dict[str, Any]] | None:  # the standby's first scrape may lag
            up = [t for t in p.targets() if t["health"] == "up"]
            return up if sorted(t["labels"]["pod"] for t in up) == replicas else None

        targets = env.wait("Prometheus scraped both replicas", both_up, timeout=60)
        for target in targets:
            [pod] = [q for q in pods if q["metadata"]["name"] == target["labels"]["pod"]]
            assert target["scrapeUrl"] == f"http://{pod['status']['podIP']}:9402/metrics", target
        holder = env.kubectl(
            "get", "lease", "pico-tls-operator", "-n", rp.OPERATOR_NS,
            "-o", "jsonpath={.spec.holderIdentity}",
        ).strip()  # fmt: skip

        def leaders() -> list[str] | None:
            found = [r["metric"]["pod"] for r in p.query("picotls_leader_status == 1")]
            return found if len(found) == 1 else None

        assert env.wait("one leader scraped", leaders, timeout=60) == [holder]
        window = record(steps.renewal(run, "metrics"))
        assert_clean(window)
        renewed = stamp(run.platform()["status"]["notAfter"])
        assert renewed > before
        env.wait("Prometheus sees the renewed expiry", lambda: value() == renewed, timeout=60)
        names = {r["metric"]["__name__"] for r in p.query('{__name__=~"picotls_.+"}')}
        assert {
            "picotls_certificate_renewal_timestamp_seconds",
            "picotls_certificate_ready_status",
            "picotls_client_auth_phase",
            "picotls_ca_rotation_phase",
            "picotls_reconcile_total",
            "picotls_reconcile_duration_seconds_bucket",
            "picotls_api_requests_total",
            "picotls_leader_status",
        } <= names, names
    scrape = "\n".join(
        urllib.request.urlopen(t["scrapeUrl"], timeout=10).read().decode() for t in targets
    )
    recorder.catch_up()
    assert not find_leaks(recorder.snapshot(), {"metrics scrape": scrape})
    print("scrape sample:", *[ln for ln in scrape.splitlines() if 'name="mz"' in ln], sep="\n")


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_no_password_or_private_key_in_the_operator_pod_log_or_public_objects(
    env: rp.RealPods, run: steps.Run, recorder: SecretRecorder
) -> None:
    log = env.kubectl("logs", "-n", rp.OPERATOR_NS, "deploy/pico-tls-operator")
    assert "reconcil" in log.lower() or "pico" in log.lower(), log[-2000:]
    leaks = LeakCheck(recorder).check(env.cluster.access, [NS, rp.OPERATOR_NS, *_NAMESPACES], log)
    assert "PRIVATE KEY" not in log
    assert not leaks, leaks
