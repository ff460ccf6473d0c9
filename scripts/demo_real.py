"""The main job on real pods: a real node in the local cluster, the operator installed from
`manifests/` as a pod (its image built from the Dockerfile), the examples run by the pico
stand-in image, then what they produced: objects, properties, the platform keystore as keytool
lists it, live mutual-TLS traffic counted by every Execution Container, a desktop accepted and
a stranger refused by the live Platform, and the Events.

Used by scripts/demo.py when the machine can run real pods.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from pathlib import Path
from typing import Any

from pico_harness.java.tools import keytool_list
from pico_harness.support import realpods_env as rp
from pico_harness.support import realpods_steps as steps
from pico_harness.support.realpods_desktops import run_desktop
from pico_harness.support.stores import secret_store
from pico_harness.support.traffic import TrafficMonitor

NAMESPACE = "pico-demo"
MANAGED = "app.kubernetes.io/managed-by=pico-tls-operator"


def heading(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def _show_objects(env: rp.RealPods, work: Path) -> None:
    heading("custom resources (kubectl get pico)")
    print(env.kubectl("get", "pico", "-n", NAMESPACE))
    heading("objects the operator wrote, and the pods running on the real node")
    print(env.kubectl("get", "secrets,configmaps,services,statefulsets,deployments", "-n",
                      NAMESPACE, "-l", MANAGED))  # fmt: skip
    print(env.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide"))
    for cm in ("mz-rcp-tls", "ec1-rcp-tls"):
        heading(f"ConfigMap {cm}: rcp-tls.properties (passwords live only in Secrets)")
        print(env.get("configmap", cm, "-n", NAMESPACE)["data"]["rcp-tls.properties"])
    status = env.get("platform", "mz", "-n", NAMESPACE)["status"]
    heading("Platform status")
    print(json.dumps({k: v for k, v in status.items() if k != "conditions"}, indent=2))
    platform = secret_store(env.cluster.access, "mz-rcp-tls", NAMESPACE, work)
    heading("keytool -list of the platform keystore (Secret mz-rcp-tls)")
    for entry in keytool_list(platform.path, platform.store_password, platform.store_type):
        print(f"  {entry.alias:24} {entry.entry_type}")


def _show_traffic(run: steps.Run, seconds: float = 5.0) -> bool:
    heading(f"live traffic for {seconds:.0f}s: every Execution Container -> Platform Service")
    t0 = run.monitor.wait_scrape()
    time.sleep(seconds)
    window = run.monitor.window("steady", t0, run.monitor.wait_scrape())
    print(f"  {window.row()}")
    return window.ec.get("ok", 0) > 0 and window.tls_failures == 0


def _show_desktops(env: rp.RealPods) -> bool:
    heading("desktops: the stand-in's desktop role connects once to the live Platform")
    env.kubectl("delete", "desktopclient", "bob", "-n", NAMESPACE)
    env.wait("bob revoked", lambda: rp.workloads_settled(env, NAMESPACE), 300, interval=1)
    cases = (("alice-desktop-key", 0), ("bob-desktop-key", 10))
    ok = True
    for secret, expected in cases:
        code = run_desktop(env, NAMESPACE, secret, f"desktop-{secret.split('-')[0]}")
        ok &= code == expected
        verdict = "accepted" if code == 0 else f"refused (exit {code})"
        print(f"  {secret:22} {verdict:20} {'(as expected)' if code == expected else 'WRONG'}")
    print("  (bob's DesktopClient was deleted just before: the Platform rolled without its pin)")
    return ok


def run(work: Path, keep: bool) -> int:
    heading("building the images (cached by content) and starting a cluster with a real node")
    began = time.monotonic()
    with rp.real_pods(work / "cluster") as env:
        print(f"up in {time.monotonic() - began:.1f}s; KUBECONFIG={env.cluster.kubeconfig}")
        heading("kubectl apply -k manifests/ (the operator image built from the Dockerfile)")
        pod = rp.install_operator(env)
        print(f"operator pod {pod['metadata']['name']} Ready on {pod['spec'].get('nodeName')}")
        with TrafficMonitor(env.cluster.kubeconfig, NAMESPACE) as monitor:
            began = time.monotonic()
            run_ = steps.deploy_examples(env, NAMESPACE, monitor)
            print(f"examples Ready, every EC connected {time.monotonic() - began:.1f}s "
                  "after kubectl apply")  # fmt: skip
            _show_objects(env, work)
            ok = _show_traffic(run_)
            ok &= _show_desktops(env)
        heading("Events")
        print(env.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                          "source=pico-tls-operator", "--sort-by=.lastTimestamp"))  # fmt: skip
        if keep:
            _wait_for_interrupt(env)
    return 0 if ok else 1


def _wait_for_interrupt(env: Any) -> None:
    print(f"\nkept running: export KUBECONFIG={env.cluster.kubeconfig}; Ctrl-C stops it all")
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
