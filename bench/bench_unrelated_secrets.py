"""Benchmark: what unrelated Secrets cost the operator (issue 18, item 1).

One local control plane, one Platform (with a password Secret of the user's), the operator as a
process under its ServiceAccount. Measured twice in the same run, with the operator restarted:
first with no unrelated Secrets (the baseline), then after creating `--small` Secrets of 2 KB and
`--large` of 100 KB in other namespaces and in the Platform's own:

- operator CPU seconds (user + system, /proc) from start until the Platform is Ready and the
  log has been quiet for 5 s (startup), then over `--steady` seconds of idle (steady state);
- peak and final resident memory (VmHWM, VmRSS) against the limit in manifests/operator.yaml;
- operator log lines naming an unrelated Secret;
- seconds from a patch of the user's password Secret until the new password is in the
  Platform's keystore Secret (median of 5; the operator's settle delay included).

Run from the repository root:

    .venv/bin/python -m bench.bench_unrelated_secrets --small 50000 --large 500
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pico_harness.cluster.localcluster import ClusterAccess, LocalCluster
from pico_harness.support.install import install_operator_prerequisites
from pico_harness.support.operator_process import OperatorProcess

NS = "bench-secrets"
CLK_TCK = 100
PLATFORM = {
    "apiVersion": "picotls.dev/v1alpha1",
    "kind": "Platform",
    "metadata": {"name": "mz", "namespace": NS},
    "spec": {"image": "pico/platform:bench", "tls": {"passwordSecretRef": {"name": "pico-pw"}}},
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def memory_mib(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024
    return out


def secret_data(access: ClusterAccess, name: str) -> dict[str, str]:
    found = json.loads(access.kubectl("get", "secret", name, "-n", NS, "-o", "json").stdout)
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in found["data"].items()}


def wait_quiet(operator: OperatorProcess, quiet: float = 5.0, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(operator.log_text())
        if now != size:
            size, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.25)
    raise TimeoutError("operator never went quiet")


def wait_for(what: str, check: Any, timeout: float = 300, step: float = 0.05) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if check():
                return time.monotonic() - began
        except Exception:  # not there yet
            pass
        time.sleep(step)
    raise TimeoutError(what)


def create_unrelated(cluster: LocalCluster, small: int, large: int) -> float:
    """Creates the Secrets with 8 client threads; returns the seconds it took."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    namespaces = [NS, *(f"bystanders-{i}" for i in range(4))]
    for ns in namespaces[1:]:
        api.create_namespace({"metadata": {"name": ns}})

    def make(i: int) -> None:
        size = 100 * 1024 if i < large else 2048
        body = {
            "metadata": {"name": f"bystander-{i}", "labels": {"app": "someone-else"}},
            "data": {"payload": base64.b64encode(b"x" * size).decode()},
        }
        api.create_namespaced_secret(namespaces[i % len(namespaces)], body)

    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(make, range(small + large)))
    return time.monotonic() - began


def measure(access: ClusterAccess, operator: OperatorProcess, steady: float) -> dict[str, Any]:
    start_offset = len(operator.log_text())
    operator.start()
    began = time.monotonic()
    wait_for("Platform Ready", lambda: ready(access), timeout=600, step=0.25)
    wait_quiet(operator)
    startup_cpu, startup_wall = cpu_seconds(operator.pid), time.monotonic() - began
    time.sleep(steady)
    steady_cpu = cpu_seconds(operator.pid) - startup_cpu
    latencies = [password_round_trip(access, n) for n in range(5)]
    result = {
        "startup_cpu_seconds": startup_cpu,
        "startup_wall_seconds": round(startup_wall - 5.0, 2),  # without the quiet period
        "steady_cpu_seconds": steady_cpu,
        "steady_seconds": steady,
        **{f"{k}_mib": round(v, 1) for k, v in memory_mib(operator.pid).items()},
        "log_lines_naming_unrelated": sum(
            "bystander-" in line for line in operator.log_text()[start_offset:].splitlines()
        ),
        "password_change_to_keystore_seconds": round(statistics.median(latencies), 3),
    }
    operator.stop()
    return result


def ready(access: ClusterAccess) -> bool:
    found = json.loads(access.kubectl("get", "platform", "mz", "-n", NS, "-o", "json").stdout)
    conditions = (found.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def password_round_trip(access: ClusterAccess, n: int) -> float:
    password = f"bench-Passw0rd-{n}-{time.time_ns()}"
    patch = json.dumps({"stringData": {"keystore.password": password}})
    access.kubectl("patch", "secret", "pico-pw", "-n", NS, "--type=merge", "-p", patch)
    seconds = wait_for(
        "new password", lambda: secret_data(access, "mz-rcp-tls")["keystore.password"] == password
    )
    time.sleep(3)  # let the pass's rollout bookkeeping settle before the next change
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=50000, help="unrelated 2 KB Secrets")
    parser.add_argument("--large", type=int, default=500, help="unrelated 100 KB Secrets")
    parser.add_argument("--steady", type=float, default=30.0, help="idle seconds measured")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pico-tls-bench-secrets-"))
    with LocalCluster(nodes=1, build=False) as cluster:
        access = cluster.access
        kubeconfig = install_operator_prerequisites(access, work)
        access.kubectl("create", "namespace", NS)
        access.kubectl(
            "create", "secret", "generic", "pico-pw", "-n", NS,
            "--from-literal=keystore.password=first-Passw0rd",
        )  # fmt: skip
        access.apply(PLATFORM)
        operator = OperatorProcess(kubeconfig, work / "operator.log")
        baseline = measure(access, operator, args.steady)
        print(f"baseline (no unrelated Secrets): {baseline}", file=sys.stderr)
        created = create_unrelated(cluster, args.small, args.large)
        print(f"created {args.small + args.large} Secrets in {created:.0f}s", file=sys.stderr)
        loaded = measure(access, operator, args.steady)
        print(f"with unrelated Secrets: {loaded}", file=sys.stderr)
    report = {"small": args.small, "large": args.large, "baseline": baseline, "loaded": loaded}
    report["ratios"] = {
        k: round(loaded[k] / baseline[k], 2) if baseline[k] else None
        for k in ("startup_cpu_seconds", "steady_cpu_seconds", "VmHWM_mib", "VmRSS_mib")
    }
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
