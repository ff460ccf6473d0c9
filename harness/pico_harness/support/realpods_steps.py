"""The transitions run against live pods (tests/e2e/test_real_pods.py and
bench/bench_real_pods.py): each one acts, waits until the operator reports it done and every
workload is settled with every Execution Container connected, and returns the traffic Window
of that span."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pico_harness.support import realpods_env as rp
from pico_harness.support.realpods_desktops import copy_secret, run_desktop
from pico_harness.support.traffic import EC_COMPONENT, TrafficMonitor, Window

FINAL_PHASES = ("Enforced", "Disabled")


@dataclass
class Run:
    """One namespace with the examples, its traffic monitor, and the windows recorded."""

    env: rp.RealPods
    ns: str
    monitor: TrafficMonitor
    windows: list[Window] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def platform(self) -> dict[str, Any]:
        obj: dict[str, Any] = self.env.get("platform", "mz", "-n", self.ns)
        return obj

    def phase(self) -> str:
        return str(self.platform()["status"]["clientAuth"]["phase"])

    def set_client_auth(self, on: bool) -> None:
        value = "true" if on else "false"
        self.env.kubectl(
            "patch", "platform", "mz", "-n", self.ns, "--type=merge",
            "-p", f'{{"spec":{{"tls":{{"requireClientAuth":{value}}}}}}}',
        )  # fmt: skip

    def settle(self, timeout: float = 300) -> None:
        """Every workload runs its current template and every EC pod's last attempt was ok."""

        def settled() -> bool:
            if not rp.workloads_settled(self.env, self.ns):
                return False
            since = self.monitor.wait_scrape()
            selector = f"app.kubernetes.io/component={EC_COMPONENT}"
            pods = self.env.get("pods", "-n", self.ns, "-l", selector)["items"]
            names = {p["metadata"]["name"] for p in pods}
            states = self.monitor.current_ec_states(since)
            return bool(names) and all(states.get(n) == "ok" for n in names)

        self.env.wait("workloads settled, every EC connected", settled, timeout, interval=1)

    def step(self, name: str, action: Callable[[], Any], done: Callable[[], Any]) -> Window:
        t0 = self.monitor.wait_scrape()
        action()
        self.env.wait(name, done, timeout=400, interval=0.5)
        self.settle()
        window = self.monitor.window(name, t0, self.monitor.wait_scrape())
        self.windows.append(window)
        print(window.row(), flush=True)
        return window


def deploy_examples(env: rp.RealPods, ns: str, monitor: TrafficMonitor) -> Run:
    env.kubectl("create", "namespace", ns)
    env.apply(rp.example_docs(env.standin), "-n", ns)
    run = Run(env, ns, monitor)
    for kind, name in (
        ("platform", "mz"),
        ("executioncontainer", "ec1"),
        ("executioncontainer", "ec2"),
    ):
        env.wait(
            f"{kind} {name} Ready",
            lambda k=kind, n=name: rp.resource_ready(env, k, n, ns),
            300,
        )
    run.settle()
    return run


# ---------------------------------------------------------------------------- transitions


def client_auth(run: Run, on: bool, label: str = "") -> Window:
    final = "Enforced" if on else "Disabled"
    name = label or f"client auth {'off -> on' if on else 'on -> off'}"
    return run.step(name, lambda: run.set_client_auth(on), lambda: run.phase() == final)


def ca_rotation(run: Run, value: str = "r1") -> Window:
    old = run.platform()["status"]["caFingerprint"]

    def rotated() -> bool:
        status = run.platform()["status"]
        return bool(status["caFingerprint"] != old and not status.get("caRotation"))

    annotate = _annotate_mz(run, f"picotls.dev/rotate-ca={value}")
    return run.step("CA rotation", lambda: run.env.kubectl(*annotate), rotated)


def _annotate_mz(run: Run, annotation: str) -> tuple[str, ...]:
    """kubectl arguments that set `annotation` on the example Platform (over an earlier value)."""
    return ("annotate", "--overwrite", "platform", "mz", "-n", run.ns, annotation)


def renewal(run: Run, value: str = "r1") -> Window:
    annotate = _annotate_mz(run, f"picotls.dev/renew={value}")
    return run.step(
        "renewal (platform)",
        lambda: run.env.kubectl(*annotate),
        lambda: run.platform()["status"].get("renewRequest") == value,
    )


def add_container(run: Run, name: str = "ec3") -> Window:
    return run.step(
        f"container {name} added",
        lambda: run.env.apply(rp.container(name, 1, run.env.standin), "-n", run.ns),
        lambda: rp.resource_ready(run.env, "executioncontainer", name, run.ns),
    )


def remove_container(run: Run, name: str = "ec2") -> Window:
    def gone() -> bool:
        selector = f"--field-selector=metadata.name={name}"
        return not run.env.get("deployments", "-n", run.ns, selector)["items"]

    return run.step(
        f"container {name} removed",
        lambda: run.env.kubectl("delete", "executioncontainer", name, "-n", run.ns),
        gone,
    )


def revoke_desktop(run: Run) -> tuple[Window, dict[str, int]]:
    """alice's key (a copy kept, as a user keeps an imported key) and bob's before and after
    alice's DesktopClient is deleted; returns the window and each desktop Job's exit code."""
    env, ns = run.env, run.ns
    env.wait(
        "desktop keys",
        lambda: all(
            env.kubectl("get", "secret", f"{d}-desktop-key", "-n", ns, check=False)
            for d in ("alice", "bob")
        ),
    )
    copy_secret(env, ns, "alice-desktop-key", "alice-kept-key")
    codes = {
        "alice before": run_desktop(env, ns, "alice-kept-key", "alice-before"),
        "bob before": run_desktop(env, ns, "bob-desktop-key", "bob-before"),
    }
    window = run.step(
        "desktop alice revoked",
        lambda: env.kubectl("delete", "desktopclient", "alice", "-n", ns),
        lambda: run.platform()["status"].get("desktopTrust", {}).get("alice") == "Revoked",
    )
    codes["alice after"] = run_desktop(env, ns, "alice-kept-key", "alice-after")
    codes["bob after"] = run_desktop(env, ns, "bob-desktop-key", "bob-after")
    return window, codes


def operator_killed_mid_switch(run: Run) -> tuple[Window, dict[str, Any]]:
    """Switches client authentication, SIGKILLs the operator while the phase is intermediate,
    and waits for the new operator pod to finish the switch."""
    env = run.env
    before = rp.wait_operator_pod(env)
    t0 = run.monitor.wait_scrape()
    on = run.phase() != "Enforced"
    final = "Enforced" if on else "Disabled"
    run.set_client_auth(on)
    phase = env.wait(
        "an intermediate client-auth phase",
        lambda: (p := run.phase()) not in FINAL_PHASES and p,
        timeout=120,
        interval=0.1,
    )
    kill_operator_pod(env, before)
    after = rp.wait_operator_pod(env, not_named=before["metadata"]["name"])
    env.wait(f"client auth {final} after the restart", lambda: run.phase() == final, 400)
    run.settle()
    window = run.monitor.window(
        f"operator killed in {phase} (-> {final})", t0, run.monitor.wait_scrape()
    )
    run.windows.append(window)
    print(window.row(), flush=True)
    facts = {
        "killed_pod": before["metadata"]["name"],
        "new_pod": after["metadata"]["name"],
        "phase_at_kill": phase,
        "final_phase": run.phase(),
    }
    return window, facts


def kill_operator_pod(env: rp.RealPods, pod: dict[str, Any]) -> None:
    """SIGKILL of the operator's process through the node's containerd (no shutdown of any
    kind), then the pod object force-deleted so that the Deployment makes a new pod."""
    assert env.cluster.node is not None
    container_id = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    env.cluster.node.ctr("tasks", "kill", "--signal", "SIGKILL", container_id)
    env.kubectl(
        "delete", "pod", pod["metadata"]["name"], "-n", rp.OPERATOR_NS,
        "--grace-period=0", "--force",
    )  # fmt: skip
