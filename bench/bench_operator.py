"""Benchmark: one Platform with N ExecutionContainers, from `kubectl apply` to all Ready.

Starts the local control plane (pico_harness.cluster.localcluster), applies the CRDs and RBAC,
runs the operator as a subprocess under its ServiceAccount, and for each N measures:

- seconds from one `kubectl apply` (Platform + N ExecutionContainers) until the Platform and
  every ExecutionContainer report Ready=True for their current generation;
- API requests the operator made meanwhile (its `PICO_TLS_STATS_FILE`), per reconciled object;
- the operator's resident memory (VmRSS: peak during the run and at the end);
- StatefulSet template changes of the platform (its metadata.generation; 1 = never rolled);
- reconcile passes and writes from the operator log;
- a baseline: the bare control plane rolling out N plain Deployments from one `kubectl apply`.

Run from the repository root:

    .venv/bin/python -m bench.bench_operator --sizes 10,50,200 --out bench/results/operator.json
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from pico_harness.cluster.localcluster import (
    ClusterAccess,
    LocalCluster,
)
from pico_harness.support.install import install_operator_prerequisites
from pico_harness.support.operator_process import OperatorProcess

ROOT = Path(__file__).resolve().parent.parent

GROUP_VERSION = "picotls.dev/v1alpha1"
POLL_SECONDS = 0.5
RSS_SAMPLE_SECONDS = 0.2
PASS_LINE = re.compile(
    r"^\[(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\].*"
    r"reconciled platform (?P<ns>[^/\s]+)/(?P<name>\S+): (?P<writes>\d+) writes"
)


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class Baseline:
    deployments: int
    seconds: float | None
    timed_out: bool


@dataclass
class OperatorRun:
    size: int
    namespace: str
    seconds: float | None
    timed_out: bool
    ready_objects: int
    objects: int
    first_ready_seconds: float | None
    requests_at_ready: dict[str, int]
    requests_total: dict[str, int]
    requests_per_object: float | None
    rss_peak_mib: float
    rss_end_mib: float
    rss_before_mib: float
    cpu_seconds: float
    first_pass_seconds: float | None
    statefulset_generation: int | None
    reconcile_passes: int
    reconcile_writes: int
    longest_pass_gap_seconds: float | None
    pass_gaps_seconds: list[float] = field(default_factory=list)
    baseline: Baseline | None = None

    @property
    def ratio(self) -> float | None:
        if self.seconds is None or self.baseline is None or not self.baseline.seconds:
            return None
        return self.seconds / self.baseline.seconds


# ---------------------------------------------------------------------------------------------
# the operator process


def rss_bytes(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples a process's VmRSS in a thread; `peak` since the last reset()."""

    def __init__(self, pid: int, interval: float = RSS_SAMPLE_SECONDS) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            value = rss_bytes(self.pid)
            with self._lock:
                self.peak = max(self.peak, value)

    def reset(self) -> None:
        with self._lock:
            self.peak = rss_bytes(self.pid)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


class Operator(OperatorProcess):
    """The operator as deployed (pico_harness.support.operator_process), cluster-wide, with request
    counts in a stats file and an optional settle delay."""

    def __init__(
        self,
        kubeconfig: Path,
        work: Path,
        settle_seconds: float | None,
        module: str = "pico_tls",
        extra_path: Sequence[str] = (),
    ) -> None:
        self.stats_file = work / "operator-stats.json"
        env = {"PICO_TLS_STATS_FILE": str(self.stats_file)}
        if settle_seconds is not None:
            env["PICO_TLS_SETTLE_SECONDS"] = str(settle_seconds)
        super().__init__(
            kubeconfig, work / "operator.log", module=module, env=env, extra_path=extra_path
        )

    def requests(self) -> dict[str, int]:
        try:
            data = json.loads(self.stats_file.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): int(v) for k, v in (data.get("requests") or {}).items()}

    def passes(self, namespace: str) -> list[tuple[datetime, int]]:
        out = []
        for line in self.log_text().splitlines():
            match = PASS_LINE.match(line)
            if match and match.group("ns") == namespace:
                when = datetime.strptime(match.group("ts"), "%Y-%m-%d %H:%M:%S,%f")
                out.append((when, int(match.group("writes"))))
        return out


def diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    out = {verb: after.get(verb, 0) - before.get(verb, 0) for verb in set(after) | set(before)}
    return {verb: n for verb, n in sorted(out.items()) if n}


# ---------------------------------------------------------------------------------------------
# cluster set-up


def remove_not_ready_taints(access: ClusterAccess) -> list[str]:
    """Fake nodes must schedule pods; drop a leftover node.kubernetes.io/not-ready taint."""
    tainted = [
        node["metadata"]["name"]
        for node in access.get_json("nodes")["items"]
        if any(
            t.get("key") == "node.kubernetes.io/not-ready"
            for t in (node.get("spec") or {}).get("taints") or []
        )
    ]
    if tainted:
        access.kubectl("taint", "nodes", "--all", "node.kubernetes.io/not-ready-")
    return tainted


def create_namespace(access: ClusterAccess, name: str) -> None:
    access.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"picotls.dev/bench": "true"}},
        }
    )
    access.wait_until(
        f"default ServiceAccount in {name}",
        lambda: (
            access.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode
            == 0
        ),
        timeout=60,
    )


def delete_namespace(access: ClusterAccess, name: str, timeout: float = 300) -> bool:
    proc = access.kubectl(
        "delete",
        "namespace",
        name,
        f"--timeout={int(timeout)}s",
        "--ignore-not-found",
        check=False,
        timeout=timeout + 30,
    )
    return proc.returncode == 0


# ---------------------------------------------------------------------------------------------
# manifests


def platform_manifest(namespace: str, name: str = "bench") -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Platform",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "image": "registry.example.com/pico/platform:9.3",
            "tls": {
                "requireClientAuth": True,
                "keystoreMode": "PerContainer",
                "trust": {"mode": "CertificateAuthority"},
            },
        },
    }


def container_manifests(
    namespace: str, count: int, platform: str = "bench"
) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": GROUP_VERSION,
            "kind": "ExecutionContainer",
            "metadata": {"name": f"ec{i:03d}", "namespace": namespace},
            "spec": {
                "platformRef": {"name": platform},
                "image": "registry.example.com/pico/ec:9.3",
                "replicas": 1,
            },
        }
        for i in range(count)
    ]


def deployment_manifests(namespace: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"plain{i:03d}", "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": f"plain{i:03d}"}},
                "template": {
                    "metadata": {"labels": {"app": f"plain{i:03d}"}},
                    "spec": {
                        "containers": [{"name": "main", "image": "registry.example.com/plain:1"}]
                    },
                },
            },
        }
        for i in range(count)
    ]


def apply_all(access: ClusterAccess, manifests: Sequence[Mapping[str, Any]]) -> None:
    access.kubectl(
        "apply", "-f", "-", input_text=yaml.safe_dump_all([dict(m) for m in manifests]), timeout=300
    )


# ---------------------------------------------------------------------------------------------
# readiness


def is_ready(obj: Mapping[str, Any]) -> bool:
    generation = obj["metadata"].get("generation")
    status = obj.get("status") or {}
    if status.get("observedGeneration") != generation:
        return False
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(
                condition.get("status") == "True"
                and condition.get("observedGeneration", generation) == generation
            )
    return False


def deployment_available(obj: Mapping[str, Any]) -> bool:
    status = obj.get("status") or {}
    wanted = (obj.get("spec") or {}).get("replicas", 1)
    return bool(
        status.get("observedGeneration") == obj["metadata"].get("generation")
        and status.get("updatedReplicas", 0) == wanted
        and status.get("availableReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
    )


def poll_until(
    access: ClusterAccess,
    resource: str,
    namespace: str,
    expected: int,
    done: Any,
    timeout: float,
    started: float,
) -> tuple[float | None, int, float | None]:
    """Polls `kubectl get <resource> -o json` every POLL_SECONDS until `expected` items are done.

    Returns (seconds until all done or None, items done at the end, seconds until the first).
    """
    first: float | None = None
    count = 0
    while True:
        tick = time.monotonic()
        proc = access.kubectl("get", resource, "-n", namespace, "-o", "json", check=False)
        if proc.returncode == 0:
            items = json.loads(proc.stdout).get("items") or []
            count = sum(1 for item in items if done(item))
            if count and first is None:
                first = time.monotonic() - started
            if len(items) == expected and count == expected:
                return time.monotonic() - started, count, first
        if time.monotonic() - started > timeout:
            return None, count, first
        time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - tick)))


def wait_quiet(operator: Operator, quiet: float, limit: float) -> dict[str, int]:
    """Waits until the operator's request counters stop moving for `quiet` seconds."""
    deadline = time.monotonic() + limit
    last = operator.requests()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = operator.requests()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


# ---------------------------------------------------------------------------------------------
# runs


def run_baseline(access: ClusterAccess, size: int, timeout: float) -> Baseline:
    namespace = f"bench-plain-{size}"
    create_namespace(access, namespace)
    try:
        started = time.monotonic()
        apply_all(access, deployment_manifests(namespace, size))
        seconds, _, _ = poll_until(
            access, "deployments", namespace, size, deployment_available, timeout, started
        )
        return Baseline(deployments=size, seconds=seconds, timed_out=seconds is None)
    finally:
        delete_namespace(access, namespace)


def run_operator(
    access: ClusterAccess,
    operator: Operator,
    sampler: RssSampler,
    size: int,
    timeout: float,
    namespace: str | None = None,
) -> OperatorRun:
    namespace = namespace or f"bench-op-{size}"
    create_namespace(access, namespace)
    before = wait_quiet(operator, quiet=2.0, limit=30)
    rss_before = rss_bytes(operator.pid)
    cpu_before = cpu_seconds(operator.pid)
    sampler.reset()
    started = time.monotonic()
    started_wall = datetime.now()
    apply_all(access, [platform_manifest(namespace), *container_manifests(namespace, size)])
    seconds, ready, first = poll_until(
        access, "platforms,executioncontainers", namespace, size + 1, is_ready, timeout, started
    )
    at_ready = operator.requests()
    rss_end = rss_bytes(operator.pid)
    cpu = cpu_seconds(operator.pid) - cpu_before
    total = wait_quiet(operator, quiet=3.0, limit=60)
    peak = max(sampler.peak, rss_end)
    sts = access.kubectl(
        "get",
        "statefulset",
        "bench",
        "-n",
        namespace,
        "-o",
        "jsonpath={.metadata.generation}",
        check=False,
    )
    generation = int(sts.stdout) if sts.returncode == 0 and sts.stdout.strip() else None
    passes = operator.passes(namespace)
    gaps = [round((b[0] - a[0]).total_seconds(), 2) for a, b in itertools.pairwise(passes)]
    requests_total = diff(total, before)
    return OperatorRun(
        size=size,
        namespace=namespace,
        seconds=seconds,
        timed_out=seconds is None,
        ready_objects=ready,
        objects=size + 1,
        first_ready_seconds=first,
        requests_at_ready=diff(at_ready, before),
        requests_total=requests_total,
        requests_per_object=round(sum(requests_total.values()) / (size + 1), 2),
        rss_peak_mib=round(peak / 2**20, 1),
        rss_end_mib=round(rss_end / 2**20, 1),
        rss_before_mib=round(rss_before / 2**20, 1),
        cpu_seconds=round(cpu, 1),
        first_pass_seconds=(
            round((passes[0][0] - started_wall).total_seconds(), 2) if passes else None
        ),
        statefulset_generation=generation,
        reconcile_passes=len(passes),
        reconcile_writes=sum(w for _, w in passes),
        longest_pass_gap_seconds=max(gaps) if gaps else None,
        pass_gaps_seconds=gaps,
    )


# ---------------------------------------------------------------------------------------------
# output


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(runs: Sequence[OperatorRun]) -> str:
    header = (
        "N",
        "all Ready s",
        "baseline s",
        "ratio",
        "1st pass done s",
        "requests",
        "req/object",
        "RSS peak MiB",
        "RSS end MiB",
        "CPU s",
        "sts gen",
        "passes",
        "writes",
    )
    rows = [header]
    for r in runs:
        rows.append(
            (
                str(r.size),
                fmt(r.seconds)
                if not r.timed_out
                else f">{fmt(r.first_ready_seconds)} ({r.ready_objects}/{r.objects})",
                fmt(r.baseline.seconds if r.baseline else None),
                fmt(r.ratio),
                fmt(r.first_pass_seconds),
                str(sum(r.requests_total.values())),
                fmt(r.requests_per_object, 2),
                fmt(r.rss_peak_mib),
                fmt(r.rss_end_mib),
                fmt(r.cpu_seconds),
                "-" if r.statefulset_generation is None else str(r.statefulset_generation),
                str(r.reconcile_passes),
                str(r.reconcile_writes),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def verbs(runs: Sequence[OperatorRun]) -> str:
    return "\n".join(
        f"N={r.size}: "
        + ", ".join(f"{v} {n}" for v, n in r.requests_total.items())
        + f"; pass gaps (s): {r.pass_gaps_seconds[:30]}"
        for r in runs
    )


# ---------------------------------------------------------------------------------------------
# main


def parse_sizes(text: str) -> list[int]:
    sizes = [int(s) for s in text.split(",") if s.strip()]
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("sizes: comma-separated positive integers")
    return sizes


@contextlib.contextmanager
def local_cluster(nodes: int) -> Iterator[LocalCluster]:
    cluster = LocalCluster(nodes=nodes, build=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[10, 50, 200],
        help="numbers of ExecutionContainers (default 10,50,200)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "operator.json")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds to wait for all Ready, per size (default 900)",
    )
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=None,
        help="PICO_TLS_SETTLE_SECONDS for the operator (default: its own)",
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--operator-module",
        default="pico_tls",
        help="module for `kopf run -m` (experiments: a wrapper of pico_tls)",
    )
    parser.add_argument(
        "--operator-path",
        action="append",
        default=[],
        help="extra PYTHONPATH entry for the operator (repeatable)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the work dir (operator log, kubeconfig)"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="pico-tls-bench-"))
    runs: list[OperatorRun] = []
    notes: list[str] = []
    began = time.monotonic()
    with local_cluster(args.nodes) as cluster:
        access = cluster.access
        print(
            f"control plane up in {cluster.startup_seconds:.1f}s; work dir {work}", file=sys.stderr
        )
        tainted = remove_not_ready_taints(access)
        if tainted:
            notes.append(f"removed node.kubernetes.io/not-ready taint from {tainted}")
        kubeconfig = install_operator_prerequisites(access, work)
        operator = Operator(
            kubeconfig, work, args.settle_seconds, args.operator_module, args.operator_path
        )
        operator.start()
        sampler = RssSampler(operator.pid)
        try:
            warm = run_operator(access, operator, sampler, 1, 120, namespace="bench-warmup")
            print(f"warm-up (1 container): {fmt(warm.seconds)}s", file=sys.stderr)
            delete_namespace(access, "bench-warmup")
            for size in args.sizes:
                baseline = None
                if not args.no_baseline:
                    baseline = run_baseline(access, size, args.timeout)
                    print(f"N={size} baseline: {fmt(baseline.seconds)}s", file=sys.stderr)
                run = run_operator(access, operator, sampler, size, args.timeout)
                run.baseline = baseline
                runs.append(run)
                print(
                    f"N={size} operator: {fmt(run.seconds)}s "
                    f"({run.ready_objects}/{run.objects} Ready)",
                    file=sys.stderr,
                )
                if not operator.running:
                    notes.append("operator exited during the run")
                    break
                if not delete_namespace(access, run.namespace):
                    notes.append(f"namespace {run.namespace} not gone within 300s")
        finally:
            sampler.stop()
            operator.stop()
            errors = [
                line
                for line in operator.log_text().splitlines()
                if "[ERROR" in line or "[WARNING" in line
            ]
            if errors:
                notes.append(
                    f"{len(errors)} operator log warnings/errors; first: {errors[0][:300]}"
                )
            if args.keep_logs:
                notes.append(f"operator log: {operator.log_path}")

    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "nodes": args.nodes},
        "total_seconds": round(time.monotonic() - began, 1),
        "notes": notes,
        "runs": [{**asdict(r), "ratio": r.ratio} for r in runs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(runs))
    print(verbs(runs))
    for note in notes:
        print(f"note: {note}")
    if not args.keep_logs:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if runs and not any(r.timed_out for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
