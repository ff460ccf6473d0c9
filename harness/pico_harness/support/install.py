"""What the operator needs in a cluster before it starts: the CRDs (Established), its namespace,
ServiceAccount, RBAC and admission policy as `kubectl kustomize manifests/` renders them (all but
the CRDs and the Deployment), and a kubeconfig that acts as its ServiceAccount."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pico_harness import REPO_ROOT
from pico_harness.cluster.localcluster import ClusterAccess

ROOT = REPO_ROOT
CRD_DIR = ROOT / "crds"
MANIFESTS = ROOT / "manifests"
# Rendered kinds the operator process needs (no Deployment: the tests run it as a process).
PREREQUISITE_KINDS = {
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}
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


def rendered_prerequisites(access: ClusterAccess, mode: str = "") -> list[dict[str, Any]]:
    """The objects of `kubectl kustomize manifests/<mode>` the operator process needs."""
    text = access.kubectl("kustomize", str(MANIFESTS / mode)).stdout
    docs = [d for d in yaml.safe_load_all(text) if d]
    return [d for d in docs if d["kind"] in PREREQUISITE_KINDS]


def install_rbac(access: ClusterAccess, kubeconfig: Path, duration: str = "6h") -> Path:
    """The default install's (manifests/) namespace, ServiceAccount, RBAC and admission policy
    applied; writes and returns a kubeconfig for its ServiceAccount."""
    text = yaml.safe_dump_all(rendered_prerequisites(access))
    access.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input_text=text)
    return access.service_account_kubeconfig(
        OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, kubeconfig, duration=duration
    )


def install_operator_prerequisites(access: ClusterAccess, work: Path, duration: str = "6h") -> Path:
    """CRDs and RBAC; returns the operator's kubeconfig (in `work`)."""
    install_crds(access)
    return install_rbac(access, work / "operator.kubeconfig", duration)
