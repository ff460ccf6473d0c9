"""helm (built from its Go module by pico_harness/cluster/build-helm.sh) and kustomize (kubectl's)
as renderers of the install modes: the chart and the kustomizations as lists of objects."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pico_harness import REPO_ROOT
from pico_harness.cluster.localcluster import default_bin_dir, ensure_binaries

ROOT = REPO_ROOT
CHART = ROOT / "charts" / "pico-tls-operator"
BUILD_HELM = Path(__file__).resolve().parents[1] / "cluster" / "build-helm.sh"
MANIFESTS = ROOT / "manifests"
VAP_API = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"


def helm_bin() -> str:
    """$PICO_TLS_HELM_BIN (.ci/run sets it), else the cached build (built when missing)."""
    found = os.environ.get("PICO_TLS_HELM_BIN")
    if found:
        return found
    out = subprocess.run(["bash", str(BUILD_HELM)], check=True, capture_output=True, text=True)
    return str(Path(out.stdout.strip().splitlines()[-1]) / "helm")


def kubectl_bin() -> str:
    """kubectl of the control plane build (built with the rest when missing)."""
    found = default_bin_dir() / "kubectl"
    return str(found if os.access(found, os.X_OK) else ensure_binaries() / "kubectl")


def run(
    *args: str, check: bool = True, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), input=input_text, capture_output=True, text=True, timeout=300, check=check
    )


def docs_of(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def template_args(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "pico-tls-operator",
    namespace: str = "pico-tls-system",
    api_versions: Sequence[str] = (VAP_API,),
) -> list[str]:
    args = [release, str(CHART), "--namespace", namespace]
    for api in api_versions:
        args += ["--api-versions", api]
    if values:
        args += ["--values", "-"]
    return args


def helm_template(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "pico-tls-operator",
    namespace: str = "pico-tls-system",
    api_versions: Sequence[str] = (VAP_API,),
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart with `values` (on stdin)."""
    args = template_args(values, release=release, namespace=namespace, api_versions=api_versions)
    text = yaml.safe_dump(dict(values)) if values else None
    return run(helm_bin(), "template", *args, check=check, input_text=text)


def chart_objects(values: Mapping[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    return docs_of(helm_template(values, **kwargs).stdout)


def kustomize_objects(mode: str = "") -> list[dict[str, Any]]:
    """`kubectl kustomize manifests/<mode>`."""
    return docs_of(run(kubectl_bin(), "kustomize", str(MANIFESTS / mode)).stdout)
