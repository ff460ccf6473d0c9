"""The main job, end to end on this machine: a local cluster, the operator, the examples.

Where the machine can run real pods (root, containerd, runc, the CNI plugins, buildah,
debootstrap, a JDK: scripts/demo installs them), scripts/demo_real.py runs everything on a real
node: the operator as a pod from manifests/, the examples on the pico stand-in image, live
mutual-TLS traffic between the pods. Otherwise (or with --simulated) it says why and falls
back to simulated pods (kwok): the local control plane, crds/ and manifests/rbac.yaml, the
operator as a process under its own ServiceAccount, examples/, what the operator produced, and
the keystores checked with real JVM handshakes.

    scripts/demo [--keep] [--simulated]   # --keep leaves it running and prints KUBECONFIG
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from scripts import demo_real

from pico_harness.cluster.localcluster import ClusterAccess, LocalCluster
from pico_harness.java.tools import (
    TlsServer,
    compile_probe,
    keytool_list,
    start_servers,
    tls_handshake_batch,
)
from pico_harness.support.install import install_operator_prerequisites
from pico_harness.support.operator_process import OperatorProcess
from pico_harness.support.realpods_env import fallback_reason
from pico_harness.support.stores import rejected_by_server, secret_store, stranger_for

ROOT = Path(__file__).resolve().parent.parent

NAMESPACE = "pico-demo"
STORES = ("mz-rcp-tls", "ec1-rcp-tls", "ec2-rcp-tls", "alice-desktop-key", "bob-desktop-key")


def heading(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def all_ready(access: ClusterAccess) -> bool:
    items = access.get_json("platforms,executioncontainers,desktopclients", "-n", NAMESPACE)[
        "items"
    ]
    return len(items) == 5 and all(
        any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (i.get("status") or {}).get("conditions") or []
        )
        for i in items
    )


def show(access: ClusterAccess, work: Path) -> bool:
    heading("custom resources (kubectl get pico)")
    print(access.kubectl("get", "pico", "-n", NAMESPACE).stdout)
    heading("objects the operator wrote")
    print(
        access.kubectl(
            "get",
            "secrets,configmaps,services,statefulsets,deployments,pods",
            "-n",
            NAMESPACE,
            "-l",
            "app.kubernetes.io/managed-by=pico-tls-operator",
        ).stdout
    )
    print(access.kubectl("get", "pods", "-n", NAMESPACE).stdout)
    for cm in ("mz-rcp-tls", "ec1-rcp-tls"):
        heading(f"ConfigMap {cm}: rcp-tls.properties (passwords live only in Secrets)")
        print(access.get_json("configmap", cm, "-n", NAMESPACE)["data"]["rcp-tls.properties"])
    status = access.get_json("platform", "mz", "-n", NAMESPACE)["status"]
    heading("Platform status")
    print(json.dumps({k: v for k, v in status.items() if k != "conditions"}, indent=2))

    stores = {name: secret_store(access, name, NAMESPACE, work) for name in STORES}
    platform = stores["mz-rcp-tls"]
    heading("keytool -list of the platform keystore (Secret mz-rcp-tls)")
    for entry in keytool_list(platform.path, platform.store_password, platform.store_type):
        print(f"  {entry.alias:24} {entry.entry_type}")

    heading("JVM TLS handshakes against the platform keystore, client auth required")
    stranger = stranger_for(access, NAMESPACE, work, "mz-rcp-tls")
    probe = compile_probe(work / "probe")
    server = TlsServer(
        probe,
        platform.path,
        platform.store_type,
        platform.store_password,
        platform.key_password,
        "platform",
        require_client_auth=True,
    )
    clients = [(n, s) for n, s in stores.items() if n != "mz-rcp-tls"] + [("stranger", stranger)]
    with start_servers([server]) as (running,):
        results = tls_handshake_batch([(running, s) for _, s in clients])
    ok = True
    for (name, _), result in zip(clients, results, strict=True):
        expected = name != "stranger"
        ok &= result.ok if expected else rejected_by_server(result)
        verdict = "accepted" if result.ok else "rejected"
        print(f"  {name:20} {verdict:9} {'(as expected)' if result.ok == expected else 'WRONG'}")
    heading("Events")
    print(
        access.kubectl(
            "get",
            "events",
            "-n",
            NAMESPACE,
            "--field-selector",
            "source=pico-tls-operator",
            "--sort-by=.lastTimestamp",
        ).stdout
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep", action="store_true", help="leave the cluster and the operator running"
    )
    parser.add_argument(
        "--simulated", action="store_true", help="kwok's simulated pods, even where real ones run"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pico-tls-demo-"))
    reason = "asked for with --simulated" if args.simulated else fallback_reason()
    if reason is None:
        return demo_real.run(work, args.keep)
    heading(f"simulated pods (kwok): real pods cannot run here: {reason}")
    cluster = LocalCluster(nodes=2, keep_work_dir=args.keep, die_with_parent=not args.keep)
    heading("starting the local control plane")
    cluster.start()
    access = cluster.access
    print(f"up in {cluster.startup_seconds:.1f}s; KUBECONFIG={cluster.kubeconfig}")
    operator = None
    try:
        kubeconfig = install_operator_prerequisites(access, work, duration="24h")
        log = work / "operator.log"
        operator = OperatorProcess(kubeconfig, log).start()
        heading(f"operator running as pico-tls-system/pico-tls-operator (log {log})")
        access.kubectl("create", "namespace", NAMESPACE)
        began = time.monotonic()
        print(access.kubectl("apply", "-n", NAMESPACE, "-f", str(ROOT / "examples")).stdout)
        access.wait_until("examples Ready", lambda: all_ready(access), timeout=180)
        print(f"everything Ready {time.monotonic() - began:.1f}s after kubectl apply")
        ok = show(access, work)
        if args.keep:
            print(
                f"\nkept running: export KUBECONFIG={cluster.kubeconfig}; operator pid "
                f"{operator.pid}; stop with: kill {operator.pid}; "
                "harness/pico_harness/cluster/dev-cluster down is not needed "
                f"(pids in {cluster.work_dir})"
            )
            return 0 if ok else 1
        return 0 if ok else 1
    finally:
        if not args.keep:
            if operator is not None:
                operator.stop()
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
