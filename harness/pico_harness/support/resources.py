"""Custom resource bodies and the cluster look-ups the end-to-end tests share."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

from pico_harness import REPO_ROOT
from pico_harness.java.tools import ClientStore, TlsServer
from pico_tls.pki.certs import certs_from_pem, sha256_fingerprint

ROOT = REPO_ROOT
EXAMPLES = ROOT / "examples"
API_VERSION = "picotls.dev/v1alpha1"


def examples_in(namespace: str, **platform_tls: Any) -> list[dict[str, Any]]:
    """examples/*.yaml in `namespace`, the Platform's spec.tls updated with `platform_tls`."""
    docs = []
    for file in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text()):
            doc = copy.deepcopy(doc)
            doc["metadata"]["namespace"] = namespace
            if doc["kind"] == "Platform":
                doc["spec"]["tls"].update(platform_tls)
            docs.append(doc)
    return docs


def platform(ns: str, **tls: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Platform",
        "metadata": {"name": "mz", "namespace": ns},
        "spec": {"image": "pico/platform:test", "tls": {"requireClientAuth": True, **tls}},
    }


def member(ns: str, kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": {"platformRef": {"name": "mz"}, **spec},
    }


def tls_secret(ns: str, name: str, data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def get(cluster: Any, kind: str, name: str, ns: str) -> dict[str, Any]:
    result: dict[str, Any] = cluster.get_json(kind, name, "-n", ns)
    return result


def exists(cluster: Any, kind: str, name: str, ns: str) -> bool:
    proc = cluster.kubectl("get", kind, name, "-n", ns, "-o", "name", check=False)
    return bool(proc.returncode == 0)


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return str(cond["status"])
    return None


def wait_ready(cluster: Any, kind: str, name: str, ns: str, timeout: float = 120) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        obj = get(cluster, kind, name, ns)
        gen_ok = obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
        return obj if gen_ok and condition(obj, "Ready") == "True" else None

    result: dict[str, Any] = cluster.wait_until(f"{kind}/{name} Ready", ready, timeout=timeout)
    return result


def secret_data(cluster: Any, name: str, ns: str) -> dict[str, bytes]:
    data = get(cluster, "secret", name, ns)["data"]
    return {k: base64.b64decode(v) for k, v in data.items()}


def fingerprints(data: dict[str, str], key: str) -> list[str]:
    """SHA-256 fingerprints of the certificates in a Secret's (base64) `data[key]`."""
    return [sha256_fingerprint(c) for c in certs_from_pem(base64.b64decode(data[key]))]


def template_hash(cluster: Any, kind: str, name: str, ns: str) -> str:
    obj = get(cluster, kind, name, ns)
    return str(obj["spec"]["template"]["metadata"]["annotations"]["picotls.dev/mounted-content"])


def generations(cluster: Any, ns: str) -> dict[str, int]:
    items = cluster.get_json("statefulsets,deployments", "-n", ns)["items"]
    return {i["metadata"]["name"]: i["metadata"]["generation"] for i in items}


def managed_versions(cluster: Any, ns: str) -> dict[str, str]:
    """What only the operator changes: resourceVersions of the Secrets, ConfigMaps, Services and
    custom resources, generations (spec changes) of the workloads, whose status others update."""
    kinds = "secrets,configmaps,services,platforms,executioncontainers,desktopclients"
    items = cluster.get_json(kinds, "-n", ns)["items"]
    out = {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}
    for name, generation in generations(cluster, ns).items():
        out[f"workload/{name}"] = str(generation)
    return out


def platform_server(probe: Path, store: ClientStore, alias: str) -> TlsServer:
    """A JVM TLS server on the platform's store, requiring client certificates."""
    return TlsServer(
        probe,
        store.path,
        store.store_type,
        store.store_password,
        store.key_password,
        alias,
        require_client_auth=True,
    )
