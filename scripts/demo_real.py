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

from pico_harness.java.tools import keytool_list
from pico_harness.support import realpods_env as rp
from pico_harness.support import realpods_steps as steps
from pico_harness.support.realpods_desktops import copy_secret, run_desktop
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


def _show_desktops(run: steps.Run) -> bool:
    heading("desktops: the stand-in's desktop role connects once to the live Platform")
    env = run.env
    # bob's user imported his key before: the copy he keeps outlives his DesktopClient.
    copy_secret(env, NAMESPACE, "bob-desktop-key", "bob-kept-key")
    print(env.kubectl("delete", "desktopclient", "bob", "-n", NAMESPACE).strip())
    revoked = "--for=jsonpath={.status.desktopTrust.bob}=Revoked"
    print(f"  kubectl wait platform/mz {revoked}")
    env.kubectl("wait", "platform/mz", "-n", NAMESPACE, revoked, "--timeout=300s", timeout=310)
    trust = env.get("platform", "mz", "-n", NAMESPACE)["status"]["desktopTrust"]
    print(f"  status.desktopTrust: {json.dumps(trust)}")
    run.settle()  # the Platform Service answers from the new pod (every EC connected again)
    cases = (("alice", "alice-desktop-key", 0), ("bob", "bob-kept-key", 10))
    ok = True
    for user, secret, expected in cases:
        code = run_desktop(env, NAMESPACE, secret, f"desktop-{user}")
        ok &= code == expected
        verdict = "accepted" if code == 0 else f"refused (exit {code})"
        mark = "(as expected)" if code == expected else "WRONG"
        print(f"  {user:6} with Secret {secret:18} {verdict:20} {mark}")
    print("  (bob's key is the copy he kept; the Platform no longer trusts it)")
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
            ok &= _show_desktops(run_)
        heading("Events")
        print(env.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                          "source=pico-tls-operator", "--sort-by=.lastTimestamp"))  # fmt: skip
        if keep:
            wait_for_interrupt(env.cluster.kubeconfig)
    return 0 if ok else 1


def wait_for_interrupt(kubeconfig: Path) -> None:
    """--keep: everything stays up until Ctrl-C (or SIGTERM), then the caller stops it all."""
    print(f"\nkept running: export KUBECONFIG={kubeconfig}; Ctrl-C stops it all", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
