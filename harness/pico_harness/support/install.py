"""What the operator needs in a cluster before it starts: the CRDs (Established) and the RBAC
of manifests/rbac.yaml, and a kubeconfig that acts as its ServiceAccount."""

from __future__ import annotations

from pathlib import Path

import yaml

from pico_harness import REPO_ROOT
from pico_harness.cluster.localcluster import ClusterAccess

ROOT = REPO_ROOT
CRD_DIR = ROOT / "crds"
RBAC_FILE = ROOT / "manifests" / "rbac.yaml"
OPERATOR_NAMESPACE = "pico-tls-system"
OPERATOR_SERVICE_ACCOUNT = "pico-tls-operator"


def install_crds(access: ClusterAccess) -> list[str]:
    """crds/*.yaml applied and Established; returns the CRD names."""
    files = sorted(CRD_DIR.glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no CRDs in {CRD_DIR}")
    args = ["apply", "--server-side", "--force-conflicts"]
    for f in files:
        args += ["-f", str(f)]
    access.kubectl(*args)
    names = [
        str(doc["metadata"]["name"])
        for f in files
        for doc in yaml.safe_load_all(f.read_text())
        if doc and doc.get("kind") == "CustomResourceDefinition"
    ]
    access.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names]
    )
    return names


def install_rbac(access: ClusterAccess, kubeconfig: Path, duration: str = "6h") -> Path:
    """manifests/rbac.yaml applied; writes and returns a kubeconfig for its ServiceAccount."""
    access.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(RBAC_FILE))
    return access.service_account_kubeconfig(
        OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, kubeconfig, duration=duration
    )


def install_operator_prerequisites(access: ClusterAccess, work: Path, duration: str = "6h") -> Path:
    """CRDs and RBAC; returns the operator's kubeconfig (in `work`)."""
    install_crds(access)
    return install_rbac(access, work / "operator.kubeconfig", duration)
