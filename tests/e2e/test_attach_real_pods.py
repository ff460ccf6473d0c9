"""End-to-end on real pods: the user's own stand-in workloads (a StatefulSet for the Platform,
a Deployment for an Execution Container, applied with kubectl under the user's field manager
and offered with the label picotls.dev/attach), attached by a Platform and an
ExecutionContainer with spec.workloadRef; live mutual TLS, client authentication switched on
and a CA rotation with zero TLS failures, then both detached (the additions leave the user's
workloads, which keep running). The traffic per transition goes to the terminal summary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from pico_harness.support import realpods_env as rp
from pico_harness.support import realpods_steps as steps
from pico_harness.support.traffic import EC_COMPONENT, PLATFORM_COMPONENT, TrafficMonitor, Window

pytestmark = pytest.mark.e2e

NS = "attach-rp"
_rows: list[dict[str, Any]] = []


class _Summary:
    @staticmethod
    def pytest_terminal_summary(terminalreporter: Any) -> None:
        for row in _rows:
            terminalreporter.write_line(f"attached real pods: {row}")


def users_workload(kind: str, name: str, component: str, image: str) -> dict[str, Any]:
    """A stand-in workload as a user's chart would deploy it (no TLS of its own)."""
    labels = {
        "app.kubernetes.io/name": "pico",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
    }
    port = 6790 if component == PLATFORM_COMPONENT else 9090
    spec: dict[str, Any] = {
        "replicas": 1 if component == PLATFORM_COMPONENT else 2,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "nodeSelector": dict(rp.REAL_NODE_SELECTOR),
                "containers": [
                    {
                        "name": "pico",
                        "image": image,
                        "imagePullPolicy": "Never",
                        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 2},
                    }
                ],
            },
        },
    }
    if kind == "StatefulSet":
        # Parallel: before the attach the stand-in has no keystore and is not ready, and an
        # OrderedReady StatefulSet never replaces a pod that is not ready (a pico without TLS
        # would be ready; the stand-in always wants its keystore).
        spec.update(serviceName=name, podManagementPolicy="Parallel")
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "labels": {"picotls.dev/attach": "mz"}},
        "spec": spec,
    }


def attaching() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "Platform",
            "metadata": {"name": "mz", "namespace": NS},
            "spec": {
                "workloadRef": {"kind": "StatefulSet", "name": "mz-app"},
                "properties": {"standin.http.port": "9000"},  # the stand-in's stats
                "tls": {"requireClientAuth": False},
            },
        },
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "ExecutionContainer",
            "metadata": {"name": "ec1", "namespace": NS},
            "spec": {
                "platformRef": {"name": "mz"},
                "workloadRef": {"kind": "Deployment", "name": "ec-app"},
            },
        },
    ]


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[rp.RealPods]:
    reason = rp.fallback_reason()
    if reason:  # never skipped: these run in CI, where .ci/run installs what they need
        pytest.fail(f"real pods cannot run here: {reason}")
    plugins = request.config.pluginmanager
    if not plugins.has_plugin("attach-real-pods-summary"):
        plugins.register(_Summary(), "attach-real-pods-summary")
    with rp.real_pods(tmp_path_factory.mktemp("realnode")) as env:
        rp.install_operator(env)
        yield env


@pytest.fixture(scope="module")
def run(env: rp.RealPods) -> Iterator[steps.Run]:
    env.kubectl("create", "namespace", NS)
    for kind, name, component in (
        ("StatefulSet", "mz-app", PLATFORM_COMPONENT),
        ("Deployment", "ec-app", EC_COMPONENT),
    ):
        env.cluster.kubectl(
            "apply", "--server-side", "--field-manager=team-chart", "-f", "-",
            input_text=yaml.safe_dump(users_workload(kind, name, component, env.standin)),
        )  # fmt: skip
    with TrafficMonitor(env.cluster.kubeconfig, NS) as monitor:
        env.apply(attaching())
        try:
            for kind, name in (("platform", "mz"), ("executioncontainer", "ec1")):
                env.wait(
                    f"{kind} {name} Ready",
                    lambda k=kind, n=name: rp.resource_ready(env, k, n, NS),
                    300,
                )
        except TimeoutError:
            print(env.kubectl("get", "pico,statefulsets,deployments,pods", "-n", NS, "-o", "yaml"))
            print(env.kubectl("get", "events", "-n", NS))
            raise
        run = steps.Run(env, NS, monitor)
        run.settle()
        yield run


def record(window: Window) -> Window:
    _rows.append(window.row())
    assert window.ec.get("ok", 0) > 0, window.row()
    assert window.tls_failures == 0, (window.row(), window.ec)
    assert window.platform_tls_failures == 0, (window.row(), window.platform)
    return window


def containers(env: rp.RealPods, kind: str, name: str) -> list[dict[str, Any]]:
    obj = env.get(kind, name, "-n", NS)
    found: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return found


def test_attached_stand_ins_talk_mutual_tls(run: steps.Run) -> None:
    (pico,) = containers(run.env, "deployment", "ec-app")
    assert {"PICO_PROPERTIES_FILES", "PICO_RCP_TLS_KEYSTORE_PASSWORD"} <= {
        e["name"] for e in pico["env"]
    }
    window = record(
        run.monitor.window("steady", run.monitor.wait_scrape(), run.monitor.wait_scrape())
    )
    assert window.ec_pods == 2 and window.platform_pods == 1, window.row()


def test_client_auth_on_with_attached_workloads(run: steps.Run) -> None:
    record(steps.client_auth(run, True))
    assert run.platform()["status"]["clientAuth"]["effective"] is True


def test_ca_rotation_of_attached_workloads_has_no_tls_failure(run: steps.Run) -> None:
    record(steps.ca_rotation(run))


def test_detach_takes_the_additions_back(run: steps.Run) -> None:
    env = run.env
    env.kubectl("delete", "executioncontainer", "ec1", "-n", NS)
    env.kubectl("delete", "platform", "mz", "-n", NS)

    def plain(kind: str, name: str) -> bool:
        (pico,) = containers(env, kind, name)
        return "env" not in pico and "volumeMounts" not in pico

    env.wait(
        "additions taken back",
        lambda: plain("deployment", "ec-app") and plain("statefulset", "mz-app"),
        120,
    )

    def rolling_without_additions() -> bool:
        """The user's pods follow their template without the additions: the StatefulSet's pod
        is replaced, the Deployment starts new pods (the stand-in then stops, as it needs its
        keystore, so the Deployment's rollout stops at its surge; a pico without TLS runs)."""
        pods = env.get("pods", "-n", NS, "-l", "app.kubernetes.io/name=pico")["items"]
        without = {
            p["metadata"]["name"]: "pico-tls"
            not in {v["name"] for v in p["spec"].get("volumes") or ()}
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
        }
        platform = [ok for name, ok in without.items() if name.startswith("mz-app-")]
        ec = [ok for name, ok in without.items() if name.startswith("ec-app-")]
        return bool(platform) and all(platform) and any(ec)

    env.wait("the user's pods without the additions", rolling_without_additions, 300)
    assert env.get("deployment", "ec-app", "-n", NS)["spec"]["replicas"] == 2
