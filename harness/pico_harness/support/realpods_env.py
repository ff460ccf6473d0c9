"""A local cluster with a real node, the locally built images imported, the operator installed
from `manifests/` as a pod, and the examples applied with the pico stand-in image.

Shared by tests/e2e/test_real_pods.py and bench/bench_real_pods.py. Only one real node can run
on the machine at a time (fixed bridge and addresses): `wait_for_free_node` waits while a
kubelet of someone else runs.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pico_harness import REPO_ROOT
from pico_harness.cluster.localcluster import LocalCluster
from pico_harness.cluster.realnode import NODE_LABEL, NODE_NAME
from pico_harness.images.build import Image, build_images

ROOT = REPO_ROOT
OPERATOR_NS = "pico-tls-system"
OPERATOR_SELECTOR = "app.kubernetes.io/name=pico-tls-operator"
REAL_NODE_SELECTOR = {NODE_LABEL[0]: NODE_LABEL[1]}


def wait_for_free_node(timeout: float = 3600, log: Any = print) -> None:
    """Waits while another real node (any kubelet) runs on this machine."""
    deadline = time.monotonic() + timeout
    while subprocess.run(["pgrep", "-x", "kubelet"], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("another real node (kubelet) kept running")
        log("another real node is up (a kubelet runs); waiting 60 s")
        time.sleep(60)


def fallback_reason() -> str | None:
    """Why this machine cannot run real pods (so a caller falls back to kwok's simulated pods
    and says so), or None when it can: the real node's tools and root, the image tools."""
    import shutil

    from pico_harness.cluster.realnode import missing_host_tools

    missing = missing_host_tools()
    missing += [t for t in ("buildah", "debootstrap", "javac") if shutil.which(t) is None]
    if missing:
        return (
            f"missing {', '.join(missing)} (harness/pico_harness/cluster/install-node-deps.sh and "
            "harness/pico_harness/images/install-deps.sh install them, as root)"
        )
    return None


def leftover_node_processes(work_dir: Path) -> list[str]:
    """Processes of ours still running after stop (their command line names our work dir)."""
    out = subprocess.run(["pgrep", "-af", str(work_dir)], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


@dataclass
class RealPods:
    cluster: LocalCluster
    images: dict[str, Image]

    @property
    def standin(self) -> str:
        return self.images["standin"].ref

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        return self.cluster.kubectl(*args, check=check, timeout=timeout).stdout

    def get(self, *args: str) -> Any:
        return self.cluster.access.get_json(*args)

    def apply(self, docs: Any, *extra: str) -> str:
        return self.cluster.access.apply(docs, *extra)

    def wait(self, what: str, predicate: Any, timeout: float = 180, interval: float = 0.5) -> Any:
        return self.cluster.access.wait_until(what, predicate, timeout=timeout, interval=interval)


@contextlib.contextmanager
def real_pods(work_dir: Path | None = None, log: Any = print) -> Iterator[RealPods]:
    """Starts the cluster with a real node and imports the operator and stand-in images; stops
    everything on exit (also on failure) and checks that no process of ours is left."""
    images = build_images(["operator", "standin"])
    wait_for_free_node(log=log)
    cluster = LocalCluster(real_node=True, work_dir=work_dir, keep_work_dir=work_dir is not None)
    try:
        cluster.start(timeout=240)
        assert cluster.node is not None
        for name in ("operator", "standin"):
            cluster.node.import_image(images[name].tar)
        yield RealPods(cluster, images)
    finally:
        used = cluster.work_dir
        cluster.stop()
        left = leftover_node_processes(used) if used != Path() else []
        if left:
            raise RuntimeError(f"processes of the real node left after stop: {left}")


# -------------------------------------------------------------------------- the operator


def operator_overlay(folder: Path, image: Image) -> Path:
    """A kustomization over a copy of `manifests/` (and `crds/`) that sets the locally built
    operator image (never pulled) and runs the operator on the real node."""
    for name in ("manifests", "crds"):
        shutil.copytree(ROOT / name, folder / name)
    repo, tag = image.ref.rsplit(":", 1)
    overlay = folder / "overlay"
    overlay.mkdir()
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "pico-tls-operator", "namespace": OPERATOR_NS},
        "spec": {
            "template": {
                "spec": {
                    "nodeSelector": REAL_NODE_SELECTOR,
                    "containers": [{"name": "operator", "imagePullPolicy": "Never"}],
                }
            }
        },
    }
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["../manifests"],
        "images": [{"name": "pico-tls-operator", "newName": repo, "newTag": tag}],
        "patches": [{"patch": yaml.safe_dump(patch)}],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return overlay


def install_operator(env: RealPods, timeout: float = 240) -> dict[str, Any]:
    """`kubectl apply -k` of the overlay; waits for the operator pod Ready; returns the pod."""
    with tempfile.TemporaryDirectory(prefix="pico-manifests-") as tmp:
        overlay = operator_overlay(Path(tmp), env.images["operator"])
        env.kubectl("apply", "--server-side", "-k", str(overlay))
    return wait_operator_pod(env, timeout)


def operator_pods(env: RealPods) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = env.get("pods", "-n", OPERATOR_NS, "-l", OPERATOR_SELECTOR)[
        "items"
    ]
    return items


def wait_operator_pod(env: RealPods, timeout: float = 240, not_named: str = "") -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        for pod in operator_pods(env):
            if pod["metadata"]["name"] == not_named or pod["metadata"].get("deletionTimestamp"):
                continue
            if _pod_ready(pod):
                return pod
        return None

    pod: dict[str, Any] = env.wait("operator pod Ready", ready, timeout=timeout)
    return pod


def _pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


# -------------------------------------------------------------------------- the examples


def example_docs(image: str) -> list[dict[str, Any]]:
    """examples/*.yaml with the stand-in image (never pulled) and the real node for every pod."""
    docs = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for doc in docs:
        if doc["kind"] in ("Platform", "ExecutionContainer"):
            set_standin(doc, image)
        if doc["kind"] == "Platform":  # the stand-in serves its stats on the web port
            doc["spec"].setdefault("properties", {})["standin.http.port"] = "9000"
    return docs


def set_standin(doc: dict[str, Any], image: str) -> dict[str, Any]:
    spec = doc["spec"]
    spec["image"] = image
    spec["imagePullPolicy"] = "Never"
    pod = spec.setdefault("podTemplate", {})
    pod["nodeSelector"] = dict(REAL_NODE_SELECTOR)
    return doc


def container(name: str, replicas: int, image: str) -> dict[str, Any]:
    doc = {
        "apiVersion": "picotls.dev/v1alpha1",
        "kind": "ExecutionContainer",
        "metadata": {"name": name},
        "spec": {"platformRef": {"name": "mz"}, "image": image, "replicas": replicas},
    }
    return set_standin(doc, image)


def workloads_settled(env: RealPods, ns: str) -> bool:
    """Every Deployment and StatefulSet of `ns` runs its current template, all replicas ready,
    and no pod of an older template is left (none terminating)."""
    for kind in ("deployments", "statefulsets"):
        for obj in env.get(kind, "-n", ns)["items"]:
            spec, status = obj["spec"], obj.get("status", {})
            want = spec.get("replicas", 1)
            if status.get("observedGeneration") != obj["metadata"]["generation"]:
                return False
            if status.get("updatedReplicas", 0) != want or status.get("readyReplicas", 0) != want:
                return False
            if status.get("replicas", 0) != want:
                return False
            if kind == "statefulsets" and status.get("currentRevision") != status.get(
                "updateRevision"
            ):
                return False
    pods = env.get("pods", "-n", ns, "-l", "app.kubernetes.io/name=pico")["items"]
    return not any(p["metadata"].get("deletionTimestamp") for p in pods)


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == kind:
            return str(c["status"])
    return None


def resource_ready(env: RealPods, kind: str, name: str, ns: str) -> bool:
    obj = env.get(kind, name, "-n", ns)
    gen_ok = obj.get("status", {}).get("observedGeneration") == obj["metadata"]["generation"]
    return gen_ok and condition(obj, "Ready") == "True"


__all__ = ["NODE_NAME", "RealPods", "real_pods"]
