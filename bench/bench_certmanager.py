"""Benchmark: the operator and cert-manager side by side, same run, same control plane (issue 18).

One local control plane (2 kwok nodes for the operator's workloads) with an audit log of the two
controllers' requests. cert-manager's controller (built by bench/certmanager/build.sh from its Go
module, CRDs from the module's deploy/crds) runs as a local process, cluster-wide, no leader
election, no webhook, under a ServiceAccount; the operator runs as deployed
(pico_harness.support.operator_process) under its own. For each N, in fresh namespaces, each
controller issues the same set from one `kubectl apply --server-side`:

- cert-manager: a self-signed Issuer, a CA Certificate, a CA Issuer, the platform's Certificate
  and N containers' Certificates, each with `keystores: {pkcs12, jks}` (RSA 2048, server + client
  auth, 8760h);
- the operator: a Platform (CA trust, PerContainer, client auth required) and N
  ExecutionContainers (bench_operator's manifests; RSA 2048, PKCS12).

Measured per controller: seconds from the apply until every keystore Secret (and the CA's) is
present with its keystores (Secrets polled by name every 0.25 s, then read once), every keystore
then decoded by one JVM (loads with its password, one key entry recovered with the key password,
whose certificate is the Secret's tls.crt); the controller's API requests from the audit log
(until its Secrets were present, and until it had made none for 5 s), per certificate (N+1);
its CPU (process tree, /proc) and peak resident memory.

Run from the repository root:

    .venv/bin/python -m bench.bench_certmanager --sizes 10,100,500
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from bench.bench_operator import (
    container_manifests,
    create_namespace,
    delete_namespace,
    parse_sizes,
    platform_manifest,
    remove_not_ready_taints,
)
from bench.certmanager import peer
from bench.certmanager.measure import (
    AuditLog,
    PeakRss,
    audit_flags,
    summary,
    tree_cpu_seconds,
    tree_rss_bytes,
    wait_for_secrets,
)
from bench.certmanager.validation import Keystore, validate

from pico_harness.cluster.localcluster import ClusterAccess, LocalCluster
from pico_harness.support.install import (
    OPERATOR_NAMESPACE,
    OPERATOR_SERVICE_ACCOUNT,
    install_operator_prerequisites,
)
from pico_harness.support.operator_process import OperatorProcess

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}"
Data = Mapping[str, Mapping[str, bytes]]


def has(*keys: str) -> Callable[[Mapping[str, bytes]], bool]:
    return lambda data: all(data.get(k) for k in keys)


@dataclass
class Side:
    """One controller and the set it issues for a Platform group of N containers."""

    label: str
    user: str
    pid: int
    manifests: Callable[[str, int], list[dict[str, Any]]]
    complete: Callable[[int], dict[str, Callable[[Mapping[str, bytes]], bool]]]
    keystores: Callable[[Data, int], list[Keystore]]


def cert_manager_side(pid: int) -> Side:
    password = secrets.token_urlsafe(18)

    def complete(n: int) -> dict[str, Callable[[Mapping[str, bytes]], bool]]:
        out = {s: has("tls.crt", "keystore.p12", "keystore.jks") for s in peer.leaf_secrets(n)}
        return out | {peer.CA_SECRET: has("tls.crt", "tls.key")}

    def keystores(data: Data, n: int) -> list[Keystore]:
        return [
            Keystore(s, file, kind, password, password)
            for s in peer.leaf_secrets(n)
            for file, kind in (("keystore.p12", "PKCS12"), ("keystore.jks", "JKS"))
        ]

    return Side(
        "cert-manager", peer.USER, pid,
        lambda ns, n: peer.platform_group(ns, n, password), complete, keystores,
    )  # fmt: skip


def operator_side(pid: int) -> Side:
    def names(n: int) -> list[str]:
        return [f"{m['metadata']['name']}-rcp-tls" for m in manifests("", n)]

    def manifests(ns: str, n: int) -> list[dict[str, Any]]:
        return [platform_manifest(ns), *container_manifests(ns, n)]

    def complete(n: int) -> dict[str, Callable[[Mapping[str, bytes]], bool]]:
        out = {s: has("tls.crt", "keystore.p12", "keystore.password") for s in names(n)}
        return out | {"bench-ca": has("tls.crt", "tls.key")}

    def keystores(data: Data, n: int) -> list[Keystore]:
        out = []
        for s in names(n):
            store_pw = data[s]["keystore.password"].decode()
            key_pw = data[s].get("key.password", b"").decode() or store_pw
            out.append(Keystore(s, "keystore.p12", "PKCS12", store_pw, key_pw))
        return out

    return Side("pico-tls", OPERATOR_USER, pid, manifests, complete, keystores)


def run_side(
    access: ClusterAccess, api: Any, audit: AuditLog, side: Side, n: int, ns: str, work: Path
) -> dict[str, Any]:
    create_namespace(access, ns)
    audit.wait_quiet(side.user, quiet=3, limit=120)
    rss = PeakRss(side.pid)
    rss_before, cpu_before = tree_rss_bytes(side.pid), tree_cpu_seconds(side.pid)
    since, started = datetime.now(UTC), time.monotonic()
    text = yaml.safe_dump_all(side.manifests(ns, n))
    access.kubectl("apply", "--server-side", "-f", "-", input_text=text, timeout=600)
    seconds, data = wait_for_secrets(api, ns, side.complete(n), started, timeout=1800)
    secrets_at, cpu_at = datetime.now(UTC), tree_cpu_seconds(side.pid)
    audit.wait_quiet(side.user, quiet=5, limit=600)
    quiet_seconds = time.monotonic() - started - 5
    cpu, rss_end = tree_cpu_seconds(side.pid) - cpu_before, tree_rss_bytes(side.pid)
    rss.stop()
    at_secrets = summary(audit.of(side.user, since, secrets_at))
    total = summary(audit.of(side.user, since))
    result = {
        "controller": side.label,
        "size": n,
        "certificates": n + 1,
        "secrets_seconds": None if seconds is None else round(seconds, 2),
        "quiet_seconds": round(quiet_seconds, 1),
        "requests_at_secrets": at_secrets,
        "requests": total,
        "requests_per_certificate": round(total["total"] / (n + 1), 2),
        "cpu_seconds_at_secrets": round(cpu_at - cpu_before, 2),
        "cpu_seconds": round(cpu, 2),
        "rss_before_mib": round(rss_before / 2**20, 1),
        "rss_peak_mib": round(max(rss.peak, rss_end) / 2**20, 1),
        "rss_end_mib": round(rss_end / 2**20, 1),
        "validation": validate(work, data, side.keystores(data, n)) if data else None,
    }
    print(f"{side.label} N={n}: {brief(result)}", file=sys.stderr)
    if not delete_namespace(access, ns, timeout=600):
        result["note"] = f"namespace {ns} not deleted within 600 s"
    audit.wait_quiet(side.user, quiet=3, limit=120)
    return result


def brief(r: Mapping[str, Any]) -> str:
    v = r["validation"] or {}
    return (
        f"secrets {r['secrets_seconds']} s, {r['requests']['total']} requests "
        f"({r['requests_per_certificate']}/cert), CPU {r['cpu_seconds']} s, "
        f"peak RSS {r['rss_peak_mib']} MiB, valid {v.get('valid')}/{v.get('stores')}"
    )


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 2)


def table(runs: Sequence[Mapping[str, Any]]) -> str:
    head = "| N | controller | Secrets s | req/cert | req until Secrets | 429 | CPU s | " \
        "CPU ms/cert | RSS before / peak MiB | valid stores |"  # fmt: skip
    lines = [head, "|--:|--|--:|--:|--:|--:|--:|--:|--|--:|"]
    for r in runs:
        v = r["validation"] or {}
        lines.append(
            f"| {r['size']} | {r['controller']} | {r['secrets_seconds']} | "
            f"{r['requests_per_certificate']} | {r['requests_at_secrets']['total']} | "
            f"{r['requests']['throttled_429']} | {r['cpu_seconds']} | "
            f"{1000 * r['cpu_seconds'] / r['certificates']:.0f} | "
            f"{r['rss_before_mib']} / {r['rss_peak_mib']} | {v.get('valid')}/{v.get('stores')} |"
        )
    return "\n".join(lines)


def ratios(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """ours / cert-manager per N."""
    out = []
    for n in sorted({r["size"] for r in runs}):
        pair = {r["controller"]: r for r in runs if r["size"] == n}
        if len(pair) != 2:
            continue
        ours, theirs = pair["pico-tls"], pair["cert-manager"]
        out.append(
            {"size": n}
            | {
                key: ratio(ours[key], theirs[key])
                for key in ("secrets_seconds", "requests_per_certificate", "cpu_seconds")
            }
            | {"rss_peak_mib": ratio(ours["rss_peak_mib"], theirs["rss_peak_mib"])}
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[10, 100, 500])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "certmanager.json")
    parser.add_argument(
        "--cert-manager-arg", action="append", default=[],
        help="extra controller flag (repeatable), e.g. --cert-manager-arg=--kube-api-qps=100",
    )  # fmt: skip
    parser.add_argument("--keep-logs", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    from kubernetes import config

    folder = peer.build()
    work = Path(tempfile.mkdtemp(prefix="pico-tls-bench-cm-"))
    flags, audit_path = audit_flags(work, [peer.USER, OPERATOR_USER])
    runs: list[dict[str, Any]] = []
    began = time.monotonic()
    with LocalCluster(nodes=2, build=False, apiserver_args=flags) as cluster:
        access = cluster.access
        remove_not_ready_taints(access)
        operator = OperatorProcess(install_operator_prerequisites(access, work), work / "op.log")
        cm_kubeconfig = peer.install(access, folder, work / "cert-manager.kubeconfig")
        controller = peer.Controller(folder, cm_kubeconfig, work / "cm.log", args.cert_manager_arg)
        operator.start()
        controller.start()
        api = config.new_client_from_config(str(cluster.kubeconfig))
        audit = AuditLog(audit_path)
        sides = [cert_manager_side(controller.pid), operator_side(operator.pid)]
        try:
            for side in sides:  # warm-up, not reported
                run_side(access, api, audit, side, 1, f"warm-{side.label}", work)
            for n in args.sizes:
                for side in sides:
                    runs.append(run_side(access, api, audit, side, n, f"{side.label}-{n}", work))
        finally:
            throttled = controller.throttled_lines()
            controller.stop()
            operator.stop()
    result = {
        "command": " ".join(["python -m bench.bench_certmanager", *sys.argv[1:]]),
        "cert_manager_version": peer.version(folder),
        "cert_manager_command": controller.command[1:],
        "cert_manager_throttled_log_lines": throttled,
        "machine": {"cpus": os.cpu_count()},
        "total_seconds": round(time.monotonic() - began, 1),
        "runs": runs,
        "ratios_ours_over_cert_manager": ratios(runs),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(runs))
    print(json.dumps(result["ratios_ours_over_cert_manager"], indent=1))
    print(f"cert-manager {result['cert_manager_version']}; throttled waits logged: {throttled}")
    if args.keep_logs:
        print(f"logs and audit log in {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if runs and all(r["secrets_seconds"] is not None for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
