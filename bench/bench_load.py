"""Benchmark: many platform groups applied at once, against the bare objects (issue 18, item 2).

One local control plane with kwok nodes, the operator as a process under its ServiceAccount (the
RBAC of manifests/), an apiserver audit log of the operator's requests alone. In one run:

1. **baseline**: the bare Secrets, ConfigMaps, Services, StatefulSets and Deployments the operator
   would make for the layout below (load_manifests.bare_objects), created by the Python client
   (8 threads); the clock stops when every StatefulSet and Deployment is available (kwok).
2. **operator**: `--namespaces` namespaces, a Platform in each, `--containers`
   ExecutionContainers and `--desktops` DesktopClients spread over them, created the same way;
   the clock stops when every custom resource is Ready for its current generation.

Recorded for the operator run: seconds to all Ready and the ratio to the baseline; the
operator's requests as the apiserver counted them (audit log, by verb, resource and code: 429s,
errors), per custom resource, with and without the Lease renewals; reconcile passes
(`picotls_reconcile_total`); operator CPU seconds and peak RSS (VmHWM) from /proc; warnings in
its log; the load average. The operator starts before the baseline (its startup is not counted).

Run from the repository root (small N first):

    .venv/bin/python -m bench.bench_load --containers 100 --desktops 100
    .venv/bin/python -m bench.bench_load --containers 1000 --desktops 1000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import load_audit
from bench.bench_operator import (
    Operator,
    cpu_seconds,
    deployment_available,
    is_ready,
    remove_not_ready_taints,
    wait_quiet,
)
from bench.load_manifests import RUN_LABEL, Layout, bare_objects, custom_resources

from pico_harness.cluster.localcluster import LocalCluster, free_port
from pico_harness.support.install import install_operator_prerequisites

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 1.0
PATHS = {  # kind -> (API path, plural)
    "Secret": ("/api/v1", "secrets"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Service": ("/api/v1", "services"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "Platform": ("/apis/picotls.dev/v1alpha1", "platforms"),
    "ExecutionContainer": ("/apis/picotls.dev/v1alpha1", "executioncontainers"),
    "DesktopClient": ("/apis/picotls.dev/v1alpha1", "desktopclients"),
}


class Client:
    """The admin's JSON access to the API (kubernetes package transport)."""

    def __init__(self, kubeconfig: Path) -> None:
        from kubernetes import config

        self.api = config.new_client_from_config(str(kubeconfig))

    def call(self, method: str, path: str, body: Any = None, query: Sequence[Any] = ()) -> Any:
        _, url, headers, payload, _ = self.api.param_serialize(
            method,
            path,
            query_params=list(query),
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(
            method, url, header_params=headers, body=payload, _request_timeout=60
        )
        raw = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def create(self, obj: Mapping[str, Any]) -> None:
        api, plural = PATHS[obj["kind"]]
        self.call("POST", f"{api}/namespaces/{obj['metadata']['namespace']}/{plural}", obj)

    def create_all(self, objects: Sequence[Mapping[str, Any]], threads: int = 8) -> float:
        began = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(self.create, objects))
        return time.monotonic() - began

    def items(self, kind: str, run: str) -> list[dict[str, Any]]:
        api, plural = PATHS[kind]
        found = self.call("GET", f"{api}/{plural}", query=[("labelSelector", f"{RUN_LABEL}={run}")])
        return list(found.get("items") or [])


def statefulset_available(obj: Mapping[str, Any]) -> bool:
    status, wanted = obj.get("status") or {}, (obj.get("spec") or {}).get("replicas", 1)
    return bool(
        status.get("observedGeneration") == obj["metadata"].get("generation")
        and status.get("readyReplicas", 0) == wanted
        and status.get("currentRevision") == status.get("updateRevision")
    )


def wait_all(
    client: Client,
    run: str,
    checks: Mapping[str, Callable[[Mapping[str, Any]], bool]],
    expected: int,
    started: float,
    timeout: float,
) -> tuple[float | None, int]:
    """Polls until `expected` objects of the kinds in `checks` pass their check."""
    done = 0
    while time.monotonic() - started < timeout:
        tick = time.monotonic()
        done = sum(check(o) for kind, check in checks.items() for o in client.items(kind, run))
        if done >= expected:
            return time.monotonic() - started, done
        time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - tick)))
    return None, done


def create_namespaces(client: Client, names: Sequence[str]) -> None:
    for name in names:
        client.call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    for name in names:  # the ServiceAccount admission wants the default ServiceAccount
        while True:
            try:
                client.call("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")
                break
            except RuntimeError:
                time.sleep(0.2)


def run_baseline(client: Client, layout: Layout, timeout: float) -> dict[str, Any]:
    create_namespaces(client, layout.namespace_names())
    objects = bare_objects(layout, "base")
    started = time.monotonic()
    created = client.create_all(objects)
    workloads = layout.namespaces + layout.containers
    seconds, done = wait_all(
        client,
        "base",
        {"StatefulSet": statefulset_available, "Deployment": deployment_available},
        workloads,
        started,
        timeout,
    )
    return {
        "seconds": seconds,
        "objects": len(objects),
        "create_seconds": round(created, 1),
        "available": done,
        "workloads": workloads,
    }


def scrape_passes(port: int) -> dict[str, float]:
    """Passes by result; raises OSError until the operator serves its metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.findall(r'^picotls_reconcile_total\{result="(\w+)"\} (\S+)$', text, re.M)
    return {result: float(value) for result, value in found}


def wait_metrics(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            scrape_passes(port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def children(pid: int) -> list[int]:
    """The operator's child processes (its keystore workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def vm_hwm_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", text, re.M)
    return round(int(match.group(1)) / 1024, 1) if match else 0.0


def run_operator(
    client: Client, operator: Operator, port: int, layout: Layout, work: Path, timeout: float
) -> dict[str, Any]:
    create_namespaces(client, layout.namespace_names())
    wait_quiet(operator, quiet=2.0, limit=30)
    offset, cpu0, passes0 = load_audit.size(work), cpu_seconds(operator.pid), scrape_passes(port)
    log0 = len(operator.log_text())
    started = time.monotonic()
    created = client.create_all(custom_resources(layout, "op"))
    checks = {k: is_ready for k in ("Platform", "ExecutionContainer", "DesktopClient")}
    seconds, ready = wait_all(client, "op", checks, layout.objects, started, timeout)
    cpu_ready = cpu_seconds(operator.pid) - cpu0
    wait_quiet(operator, quiet=5.0, limit=120)
    requests = load_audit.count(work, offset)
    passes = {k: v - passes0.get(k, 0) for k, v in scrape_passes(port).items()}
    log = operator.log_text()[log0:].splitlines()
    per = layout.objects
    return {
        "seconds": seconds,
        "create_seconds": round(created, 1),
        "ready": ready,
        "objects": per,
        "requests": requests.as_dict(),
        "requests_per_object": round(requests.total / per, 2),
        "requests_per_object_without_leases": round(requests.without("leases") / per, 2),
        "lists_per_object": round(requests.by_verb["list"] / per, 2),
        "throttled_429": requests.by_code[429],
        "errors_5xx": sum(n for code, n in requests.by_code.items() if code >= 500),
        "refused_4xx": sum(n for code, n in requests.by_code.items() if 400 <= code < 500),
        "passes": passes,
        "passes_per_platform": round(sum(passes.values()) / layout.namespaces, 1),
        "cpu_seconds_to_ready": round(cpu_ready, 1),
        "cpu_seconds_to_quiet": round(cpu_seconds(operator.pid) - cpu0, 1),
        "peak_rss_mib": vm_hwm_mib(operator.pid),
        "worker_processes_peak_rss_mib": [vm_hwm_mib(pid) for pid in children(operator.pid)],
        "log_warnings": sum("[WARNING" in line or "[ERROR" in line for line in log),
        "first_warning": next((ln[:300] for ln in log if "[WARNING" in ln or "[ERROR" in ln), ""),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--desktops", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=4, help="kwok nodes")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    parser.add_argument("--keep-logs", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pico-tls-bench-load-"))
    began, load_before = time.monotonic(), os.getloadavg()
    result: dict[str, Any] = {"command": " ".join(["python -m bench.bench_load", *sys.argv[1:]])}
    port = free_port()
    flags = load_audit.audit_flags(work)
    with LocalCluster(nodes=args.nodes, build=False, apiserver_args=flags) as cluster:
        remove_not_ready_taints(cluster.access)
        kubeconfig = install_operator_prerequisites(cluster.access, work)
        client = Client(cluster.kubeconfig)
        operator = Operator(kubeconfig, work, None)
        operator.env["PICO_TLS_METRICS_PORT"] = str(port)
        operator.start()
        try:
            wait_metrics(port)
            if not args.no_baseline:
                plain = Layout(args.namespaces, args.containers, args.desktops, "load-base")
                result["baseline"] = run_baseline(client, plain, args.timeout)
                print(f"baseline: {result['baseline']}", file=sys.stderr)
            layout = Layout(args.namespaces, args.containers, args.desktops, "load-op")
            result["operator"] = run_operator(client, operator, port, layout, work, args.timeout)
        finally:
            operator.stop()
    op, base = result["operator"], result.get("baseline") or {}
    if op["seconds"] and base.get("seconds"):
        result["ratio_to_baseline"] = round(op["seconds"] / base["seconds"], 2)
    result["layout"] = vars(args) | {"out": str(args.out)}
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    result["total_seconds"] = round(time.monotonic() - began, 1)
    result["targets"] = {"ratio": 1.1, "requests_per_object": 5, "peak_rss_mib": 200}
    text = json.dumps(result, indent=2, default=str)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    if not args.keep_logs:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if op["seconds"] else 1


if __name__ == "__main__":
    sys.exit(main())
