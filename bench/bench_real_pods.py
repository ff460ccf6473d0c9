"""Real pods: from `kubectl apply` to the first mutual-TLS handshake from every Execution
Container, with the operator (examples/) against a baseline measured in the same run (the same
stand-in pods as bare Deployments with keystores made by hand with keytool, no operator); then
the Platform's unreachable seconds and failed handshakes per transition.

    .venv/bin/python -m bench.bench_real_pods [--rounds N]

Needs root, the real node's tools (harness/pico_harness/cluster/install-node-deps.sh) and the
image tools (harness/pico_harness/images/install-deps.sh); waits while another real node runs on
the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import baseline_pods

from pico_harness.support import realpods_env as rp
from pico_harness.support import realpods_steps as steps
from pico_harness.support.traffic import EC_COMPONENT, PLATFORM_COMPONENT, TrafficMonitor

CONTAINERS = {"ec1": 1, "ec2": 2}  # examples/execution-containers.yaml


def first_mutual_handshake(monitor: TrafficMonitor, containers: dict[str, int]) -> float | None:
    """Epoch seconds when every Execution Container had a handshake that the Platform counted
    with that container's own certificate (mutual TLS): the later of (a) for each container
    resource, its n-th pod's first ok (n = replicas; exact, from the pods' counters) and
    (b) the first scrape at which the Platform had counted an ok from each one's subject."""
    ec_times = []
    for name, replicas in containers.items():
        firsts = sorted(
            t.first_ok() or float("inf") for t in monitor.tracks(EC_COMPONENT) if t.instance == name
        )
        if len(firsts) < replicas or firsts[replicas - 1] == float("inf"):
            return None
        ec_times.append(firsts[replicas - 1])
    platform_times = []
    for name in containers:
        seen = [
            at
            for t in monitor.tracks(PLATFORM_COMPONENT)
            for at, peers in zip(t.times, t.peers, strict=True)
            if any(k.startswith(f"CN={name}") and k.endswith("|ok") for k in peers)
        ]
        if not seen:
            return None
        platform_times.append(min(seen))
    return max(ec_times + platform_times)


def time_to_mtls(monitor: TrafficMonitor, t0: float, containers: dict[str, int]) -> float:
    def reached() -> float | None:
        at = first_mutual_handshake(monitor, containers)
        return at - t0 if at is not None else None

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        value = reached()
        if value is not None:
            return value
        time.sleep(0.5)
    raise TimeoutError("no mutual-TLS handshake from every Execution Container in 600 s")


def baseline_round(env: rp.RealPods, ns: str) -> dict[str, float]:
    started = time.monotonic()
    docs = baseline_pods.manifests(ns, env.standin, CONTAINERS)
    keytool_s = time.monotonic() - started
    env.kubectl("create", "namespace", ns)
    with TrafficMonitor(env.cluster.kubeconfig, ns) as monitor:
        t0 = time.time()
        env.apply(docs, "-n", ns, "--server-side")
        seconds = time_to_mtls(monitor, t0, CONTAINERS)
    env.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)
    return {"apply_to_mtls_s": seconds, "keytool_s": keytool_s}


def operator_round(env: rp.RealPods, ns: str, transitions: bool) -> dict[str, Any]:
    env.kubectl("create", "namespace", ns)
    with TrafficMonitor(env.cluster.kubeconfig, ns) as monitor:
        t0 = time.time()
        env.apply(rp.example_docs(env.standin), "-n", ns)
        seconds = time_to_mtls(monitor, t0, CONTAINERS)
        out: dict[str, Any] = {"apply_to_mtls_s": seconds}
        if transitions:
            out["windows"] = run_transitions(env, ns, monitor)
    env.kubectl("delete", "namespace", ns, "--wait=true", timeout=300)
    return out


def run_transitions(env: rp.RealPods, ns: str, monitor: TrafficMonitor) -> list[dict[str, Any]]:
    run = steps.Run(env, ns, monitor)
    run.settle()
    steps.client_auth(run, False)
    steps.client_auth(run, True)
    steps.ca_rotation(run)
    steps.renewal(run)
    steps.add_container(run, "ec3")
    steps.remove_container(run, "ec2")
    _, codes = steps.revoke_desktop(run)
    steps.client_auth(run, False, "client auth on -> off (again)")
    _, facts = steps.operator_killed_mid_switch(run)
    rows = [w.row() for w in run.windows]
    rows.append({"desktop_exit_codes": codes, "operator_kill": facts})
    return rows


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="apply-to-mTLS rounds per side")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"rounds": args.rounds}
    with rp.real_pods() as env:
        started = time.monotonic()
        rp.install_operator(env)
        figures["operator_pod_ready_s"] = round(time.monotonic() - started, 1)
        base, oper = [], []
        for i in range(args.rounds):  # alternate, so that load drifts hit both sides alike
            base.append(baseline_round(env, f"baseline{i}"))
            last = i == args.rounds - 1
            oper.append(operator_round(env, f"operator{i}", transitions=last))
        figures["node_rss_mib"] = {k: round(v / 2**20) for k, v in env.cluster.rss_bytes().items()}
    b = [r["apply_to_mtls_s"] for r in base]
    o = [r["apply_to_mtls_s"] for r in oper]
    figures.update(
        baseline_s=[round(x, 1) for x in b],
        operator_s=[round(x, 1) for x in o],
        keytool_s=round(statistics.median(r["keytool_s"] for r in base), 1),
        ratio_median=round(statistics.median(o) / statistics.median(b), 2),
        windows=oper[-1]["windows"],
    )
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def report(f: dict[str, Any]) -> str:
    rows = [r for r in f["windows"] if "transition" in r]
    extra = [r for r in f["windows"] if "transition" not in r]
    head = table(
        [
            {
                "": "apply -> first mTLS handshake from every EC (s)",
                "baseline (bare pods, keytool stores)": " / ".join(map(str, f["baseline_s"])),
                "operator (examples/)": " / ".join(map(str, f["operator_s"])),
                "ratio (medians)": f["ratio_median"],
            }
        ],
        ["", "baseline (bare pods, keytool stores)", "operator (examples/)", "ratio (medians)"],
    )
    columns = [
        "transition", "seconds", "ok", "tls_failures", "platform_tls_failures",
        "unreachable_attempts", "unreachable_s", "unreachable_max_pod_s", "other",
        "ec_pods", "platform_pods",
    ]  # fmt: skip
    return "\n\n".join(
        [
            head,
            f"keytool for the baseline's stores (not in its time): {f['keytool_s']} s; "
            f"operator pod Ready after apply -k: {f['operator_pod_ready_s']} s; "
            f"node RSS (MiB): {f['node_rss_mib']}",
            table(rows, columns),
            json.dumps(extra),
        ]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
