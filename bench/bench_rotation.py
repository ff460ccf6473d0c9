"""Benchmark: CA rotation with trust overlap for a Platform with N ExecutionContainers.

On the local control plane, with the operator running under its ServiceAccount, for each N:

- **rotation**: a Platform (client auth required, CA trust) and N ExecutionContainers are applied
  and become Ready; then the Platform gets a new `picotls.dev/rotate-ca` value. Measured: seconds
  until the rotation is complete (status.caRotation gone, a new caFingerprint, everything Ready),
  pod template changes per workload (3 expected: TrustBoth, Reissue, DropOld), the operator's API
  requests and CPU seconds meanwhile.
- **baseline**: the least any overlapping rotation costs: N+1 plain Deployments rolled three
  times in a row (`kubectl rollout restart`, waiting for all to be available each time).

Run from the repository root:

    .venv/bin/python -m bench.bench_rotation --sizes 10,50 --out bench/results/rotation.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.bench_operator import (
    Operator,
    RssSampler,
    apply_all,
    container_manifests,
    cpu_seconds,
    create_namespace,
    delete_namespace,
    deployment_available,
    deployment_manifests,
    diff,
    fmt,
    is_ready,
    local_cluster,
    parse_sizes,
    platform_manifest,
    poll_until,
    remove_not_ready_taints,
    wait_quiet,
)

from pico_harness.cluster.localcluster import ClusterAccess
from pico_harness.support.install import install_operator_prerequisites
from pico_harness.support.resources import generations

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RotationRun:
    size: int
    seconds: float | None
    baseline_seconds: float | None
    rolls_per_workload: dict[str, int]
    requests: dict[str, int]
    requests_per_object: float
    cpu_seconds: float
    ca_changed: bool

    @property
    def ratio(self) -> float | None:
        if self.seconds is None or not self.baseline_seconds:
            return None
        return round(self.seconds / self.baseline_seconds, 2)


def run_baseline(access: ClusterAccess, size: int, timeout: float) -> float | None:
    """Three sequential restarts of N+1 plain Deployments, after their first rollout."""
    namespace = f"bench-restart-{size}"
    create_namespace(access, namespace)
    try:
        manifests = deployment_manifests(namespace, size + 1)
        names = [f"deployment/{m['metadata']['name']}" for m in manifests]

        def all_available() -> bool:
            seconds, _, _ = poll_until(
                access,
                "deployments",
                namespace,
                size + 1,
                deployment_available,
                timeout,
                time.monotonic(),
            )
            return seconds is not None

        apply_all(access, manifests)
        if not all_available():
            return None
        started = time.monotonic()
        for _ in range(3):
            access.kubectl("rollout", "restart", *names, "-n", namespace)
            if not all_available():
                return None
        return time.monotonic() - started
    finally:
        delete_namespace(access, namespace)


def rotation_done(access: ClusterAccess, namespace: str, old_ca: str) -> bool:
    items = access.get_json("platforms,executioncontainers", "-n", namespace)["items"]
    platform = next(i for i in items if i["kind"] == "Platform")
    status = platform.get("status") or {}
    return (
        status.get("caFingerprint") not in (None, old_ca)
        and not status.get("caRotation")
        and all(is_ready(i) for i in items)
    )


def run_rotation(
    access: ClusterAccess, operator: Operator, size: int, timeout: float
) -> RotationRun:
    namespace = f"bench-rotate-{size}"
    create_namespace(access, namespace)
    try:
        apply_all(access, [platform_manifest(namespace), *container_manifests(namespace, size)])
        seconds, _, _ = poll_until(
            access,
            "platforms,executioncontainers",
            namespace,
            size + 1,
            is_ready,
            timeout,
            time.monotonic(),
        )
        if seconds is None:
            raise TimeoutError(f"N={size}: not Ready within {timeout}s")
        old_ca = access.get_json("platform", "bench", "-n", namespace)["status"]["caFingerprint"]
        before_generations = generations(access, namespace)
        before = wait_quiet(operator, quiet=2.0, limit=60)
        cpu_before = cpu_seconds(operator.pid)
        started = time.monotonic()
        access.kubectl("annotate", "platform", "bench", "-n", namespace, "picotls.dev/rotate-ca=b")
        elapsed: float | None = None
        while time.monotonic() - started < timeout:
            if rotation_done(access, namespace, old_ca):
                elapsed = time.monotonic() - started
                break
            time.sleep(0.5)
        after = wait_quiet(operator, quiet=3.0, limit=60)
        after_generations = generations(access, namespace)
        rolls: dict[str, int] = {}
        for name, generation in after_generations.items():
            count = generation - before_generations.get(name, generation)
            rolls[str(count)] = rolls.get(str(count), 0) + 1
        requests = diff(after, before)
        return RotationRun(
            size=size,
            seconds=elapsed,
            baseline_seconds=None,
            rolls_per_workload=rolls,
            requests=requests,
            requests_per_object=round(sum(requests.values()) / (size + 1), 2),
            cpu_seconds=round(cpu_seconds(operator.pid) - cpu_before, 1),
            ca_changed=elapsed is not None,
        )
    finally:
        delete_namespace(access, namespace)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[10, 50])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rotation.json")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="pico-tls-bench-rotation-"))
    runs: list[RotationRun] = []
    notes: list[str] = []
    began = time.monotonic()
    with local_cluster(2) as cluster:
        access = cluster.access
        if tainted := remove_not_ready_taints(access):
            notes.append(f"removed node.kubernetes.io/not-ready taint from {tainted}")
        operator = Operator(install_operator_prerequisites(access, work), work, None)
        operator.start()
        sampler = RssSampler(operator.pid)
        try:
            for size in args.sizes:
                baseline = None if args.no_baseline else run_baseline(access, size, args.timeout)
                run = run_rotation(access, operator, size, args.timeout)
                run.baseline_seconds = baseline
                runs.append(run)
                print(
                    f"N={size}: rotation {fmt(run.seconds)}s, 3 restarts {fmt(baseline)}s, "
                    f"rolls per workload {run.rolls_per_workload}",
                    file=sys.stderr,
                )
        finally:
            sampler.stop()
            operator.stop()
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "nodes": 2},
        "total_seconds": round(time.monotonic() - began, 1),
        "notes": notes,
        "runs": [{**asdict(r), "ratio": r.ratio} for r in runs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        "| N | rotation s | 3 restarts s | ratio | rolls/workload | requests | req/object | CPU s |"
    )
    print("|--:|--:|--:|--:|--|--:|--:|--:|")
    for r in runs:
        print(
            f"| {r.size} | {fmt(r.seconds)} | {fmt(r.baseline_seconds)} | {fmt(r.ratio, 2)} | "
            f"{r.rolls_per_workload} | {sum(r.requests.values())} | {r.requests_per_object} | "
            f"{r.cpu_seconds} |"
        )
    return 0 if runs and all(r.ca_changed for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
