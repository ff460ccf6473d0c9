"""Fault injection on the local control plane, and what the faults must not change.

`Faults` injects, at the caller's random points: SIGKILL of the operator (then a fresh start),
SIGKILL and restart of kube-apiserver or etcd (`LocalCluster.restart_component`), a competing
writer (another field manager: a plain server-side apply that must get 409 Conflict, then a
forced one that overwrites the operator's ConfigMap or keystore, which the operator must put
back), and watch expiry (etcd compacted to its current revision, then the apiserver restarted:
every watch resuming from an older resourceVersion gets 410 Gone and must list again), and
the deletion of a state Secret (the key must come back from the mounted keystore, unchanged),
a wiped Platform status (the phases go on from their record in the state Secret),
a second operator replica started or stopped (it stands by; stopped while it leads, it hands
the Lease back), and the Lease holder SIGKILLed (with a second replica running, that one takes
over when the Lease lapses; then the killed one starts again, as kubelet would restart it).
The caller keeps the two destructive kinds on different parties: a key whose state Secret is
deleted while its mounted keystore is overwritten is lost for real (no copy is left), which is
what test_the_checks_see_a_lost_key shows the checks report.
PICO_TLS_FAULT_KINDS (comma-separated) limits the kinds drawn.

`History` keeps every version of the namespace's Secrets through all of that (a raw watch
resumed from the last resourceVersion, listed again after 410), so a key replaced and put
back in between two looks is still seen.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pico_harness.cluster.localcluster import KubectlError
from pico_harness.support.operator_process import OperatorProcess
from pico_harness.support.replicas import holder, sigkill

KINDS = (
    "operator-kill",
    "rival-writer",
    "apiserver-restart",
    "etcd-restart",
    "watch-expiry",
    "state-secret-delete",
    "status-wipe",
    "second-replica",
    "lease-holder-kill",
)
WEIGHTS = (32, 20, 10, 7, 7, 6, 6, 6, 6)
FAILOVER_TIMEOUT = 60  # the deployed Lease lapses in 15 s


def digest(data: str | None) -> str:
    return hashlib.sha256(base64.b64decode(data or "")).hexdigest()[:16]


class History:
    """Distinct values of the private key of every state Secret and of the certificate of
    every CA Secret of a namespace, in order, across restarts of the apiserver and etcd."""

    def __init__(self, cluster: Any, ns: str) -> None:
        self.keys: dict[str, list[str]] = {}
        self.cas: dict[str, list[str]] = {}
        self.gone = 0  # 410 Gone answers the watch got
        self.reconnects = 0
        self._cluster = cluster
        self._path = f"/api/v1/namespaces/{ns}/secrets"
        self._ctx, self._server = _ssl_context(cluster)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name="secret-history")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def snapshot(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        with self._lock:
            return {k: list(v) for k, v in self.keys.items()}, {
                k: list(v) for k, v in self.cas.items()
            }

    def _see(self, secret: dict[str, Any]) -> None:
        name, data = secret["metadata"]["name"], secret.get("data") or {}
        for table, wanted, key in ((self.keys, "-state", "tls.key"), (self.cas, "-ca", "tls.crt")):
            if name.endswith(wanted) and key in data:
                with self._lock:
                    seen = table.setdefault(name, [])
                    if digest(data[key]) not in seen:
                        seen.append(digest(data[key]))

    def _get(self, query: str, timeout: float | None) -> Any:
        request = urllib.request.Request(f"{self._server}{self._path}?{query}")
        return urllib.request.urlopen(request, context=self._ctx, timeout=timeout)

    def _run(self) -> None:
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    with self._get("", 10) as resp:
                        listing = json.loads(resp.read())
                    for item in listing["items"]:
                        self._see(item)
                    version = listing["metadata"]["resourceVersion"]
                query = f"watch=1&allowWatchBookmarks=true&resourceVersion={version}"
                with self._get(query, 30) as stream:
                    for line in stream:
                        event = json.loads(line)
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            self.gone += obj.get("code") == 410
                            version = ""
                            break
                        if event["type"] != "BOOKMARK":
                            self._see(obj)
                        version = obj["metadata"]["resourceVersion"]
            except (OSError, ValueError, KeyError):
                pass  # apiserver or etcd down, or the watch timed out: resume
            self.reconnects += 1
            self._stop.wait(0.2)


def _ssl_context(cluster: Any) -> tuple[ssl.SSLContext, str]:
    """A TLS context with the kubeconfig's CA and client certificate (the local cluster's)."""
    raw = cluster.raw_config()
    server = raw["clusters"][0]["cluster"]["server"]
    user = raw["users"][0]["user"]
    folder = Path(tempfile.mkdtemp(prefix="faults-"))
    paths = {}
    for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
        paths[key] = folder / key
        paths[key].write_bytes(
            base64.b64decode(raw["clusters"][0]["cluster"].get(key) or user[key])
        )
    try:
        ctx = ssl.create_default_context(cafile=str(paths["certificate-authority-data"]))
        ctx.load_cert_chain(str(paths["client-certificate-data"]), str(paths["client-key-data"]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the context holds what it needs
    return ctx, server


class Faults:
    """Injects faults and counts them; `rival_targets` names the ConfigMaps and mounted
    Secrets a competing writer may overwrite."""

    def __init__(self, cluster: Any, operator: Any, ns: str, seed: int) -> None:
        assert cluster.local is not None, "faults need the local control plane"
        self.cluster = cluster
        self.local = cluster.local
        self.operator = operator
        self.ns = ns
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.journal: list[str] = []  # what was injected, in order, with its target
        self.conflicts = 0  # 409s the competing writer got
        self.outage_seconds = 0.0
        self.rival_targets: list[tuple[str, str]] = []  # (kind, name)
        self.state_secrets: list[str] = []
        self.target = ""
        self.second: OperatorProcess | None = None  # a second replica, while it runs
        self.failovers: list[float] = []  # seconds from a holder's SIGKILL to the other's Lease
        chosen = [k for k in os.environ.get("PICO_TLS_FAULT_KINDS", "").split(",") if k]
        self.kinds = chosen or list(KINDS)
        self.weights = [dict(zip(KINDS, WEIGHTS, strict=True)).get(k, 10) for k in self.kinds]

    def inject(self, kind: str | None = None) -> str:
        kind = kind or self.rng.choices(self.kinds, self.weights)[0]
        if kind in ("rival-writer", "state-secret-delete") and not self.rival_targets:
            kind = "operator-kill"
        actions: dict[str, Callable[[], None]] = {
            "operator-kill": self.kill_operator,
            "rival-writer": self.rival_write,
            "apiserver-restart": lambda: self._restart("kube-apiserver"),
            "etcd-restart": lambda: self._restart("etcd"),
            "watch-expiry": self.expire_watches,
            "state-secret-delete": self.delete_state_secret,
            "status-wipe": self.wipe_status,
            "second-replica": self.toggle_second_replica,
            "lease-holder-kill": self.kill_lease_holder,
        }
        self.target = ""
        actions[kind]()
        self.injected[kind] += 1
        self.journal.append(f"{time.strftime('%H:%M:%S')} {kind} {self.target}".strip())
        return kind

    def kill_operator(self) -> None:
        process = self.operator.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        time.sleep(self.rng.uniform(0, 0.5))
        self.operator.start()

    def toggle_second_replica(self) -> None:
        if self.second is not None and self.second.running:
            self.target = "stopped"
            self.second.stop()  # SIGTERM: a leader hands the Lease back
            return
        self.target = "started"
        if self.second is None:
            log = Path(self.operator.log_path).with_name("second-replica.log")
            self.second = OperatorProcess(self.operator.kubeconfig, log)
        self.second.start()

    def kill_lease_holder(self) -> None:
        replicas = [p for p in (self.operator, self.second) if p is not None and p.running]
        name = holder(self.cluster)
        killed = next((p for p in replicas if p.pod_name == name), None)
        if killed is None:  # nobody holds it right now (a hand-over): kill the operator
            self.kill_operator()
            return
        self.target = "operator" if killed is self.operator else "second replica"
        at = sigkill(killed)
        others = [p for p in replicas if p is not killed]
        if others:
            self.cluster.wait_until(
                "the other replica holds the Lease",
                lambda: holder(self.cluster) == others[0].pod_name,
                timeout=FAILOVER_TIMEOUT,
                interval=0.2,
            )
            self.failovers.append(time.monotonic() - at)
        killed.start()

    def close(self) -> None:
        """Stops the second replica (the operator fixture keeps the first)."""
        if self.second is not None:
            self.second.stop()

    def _restart(self, component: str) -> None:
        self.outage_seconds += self.local.restart_component(component)

    def expire_watches(self) -> None:
        self.local.compact_etcd()
        self._restart("kube-apiserver")

    def rival_write(self) -> None:
        kind, name = self.rng.choice(self.rival_targets)
        self.target = f"{kind}/{name}"
        # A competing writer of an object the operator manages: created first by someone else,
        # it would be an object the operator must not take over (refused as a name clash).
        self._wait_exists(kind, name)
        if kind == "configmap":
            data = {"rcp-tls.properties": "pico.rcp.platform.host=rival.invalid\n"}
        else:
            data = {"keystore.p12": base64.b64encode(b"rival").decode()}
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap" if kind == "configmap" else "Secret",
            "metadata": {"name": name, "namespace": self.ns},
            "data": data,
        }
        args = ["apply", "--server-side", "--field-manager=rival", "-f", "-"]
        text = json.dumps(body)
        proc = self.cluster.kubectl(*args, input_text=text, check=False)
        self.conflicts += proc.returncode != 0 and "conflict" in proc.stderr.lower()
        self.cluster.kubectl(*args, "--force-conflicts", input_text=text)

    def _wait_exists(self, kind: str, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            get = ("get", kind, name, "-n", self.ns, "-o", "name")
            if self.cluster.kubectl(*get, check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise TimeoutError(f"{kind}/{name} was never created by the operator")

    def delete_state_secret(self) -> None:
        """Deletes a state Secret whose mounted Secret holds a copy of its key. One whose
        mounted Secret is not written yet holds the only copy, of a key nobody has used: that
        deletion loses the key for real (a new one is right), so the operator is killed instead."""
        found = self.cluster.kubectl("get", "secrets", "-n", self.ns, "-o", "name", check=False)
        present = set(found.stdout.split()) if found.returncode == 0 else set()
        copied = [n for n in self.state_secrets if f"secret/{n.removesuffix('-state')}" in present]
        if not copied:
            self.target = "(no state Secret with a written keystore: operator killed instead)"
            self.kill_operator()
            return
        name = self.rng.choice(copied)
        self.target = f"secret/{name}"
        self.cluster.kubectl("delete", "secret", name, "-n", self.ns, "--ignore-not-found")

    def wipe_status(self) -> None:
        """Anyone with platforms/status (or a backup restore) drops every Platform's status:
        the phases are recorded elsewhere, so none may be skipped or rolled back."""
        found = self.cluster.kubectl("get", "platforms", "-n", self.ns, "-o", "name", check=False)
        names = found.stdout.split() if found.returncode == 0 else []
        self.target = " ".join(names)
        for name in names:
            remove = '[{"op": "remove", "path": "/status"}]'
            args = ("patch", name, "-n", self.ns, "--subresource=status", "--type=json")
            self.cluster.kubectl(*args, "-p", remove, check=False)

    def summary(self) -> str:
        total = sum(self.injected.values())
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.injected.items()))
        failovers = ", ".join(f"{s:.1f}s" for s in self.failovers) or "none"
        return (
            f"{total} faults ({kinds}); competing writer got {self.conflicts} 409 Conflicts; "
            f"failovers after a Lease holder's SIGKILL: {failovers}"
        )


def retry(action: Callable[[], Any], attempts: int = 30) -> Any:
    """An action of the test itself, retried while the control plane comes back."""
    for attempt in range(attempts):
        try:
            return action()
        except (KubectlError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    return None
