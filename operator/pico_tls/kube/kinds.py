"""What the operator reads and writes: each kind's API path, and the media types of
metadata-only reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pico_tls.spec_model import GROUP, VERSION


@dataclass(frozen=True)
class Kind:
    api_path: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        out = f"{self.api_path}/namespaces/{namespace}/{self.plural}"
        if name is not None:
            out += f"/{name}"
        if subresource is not None:
            out += f"/{subresource}"
        return out


SECRET = Kind("/api/v1", "secrets")
CONFIGMAP = Kind("/api/v1", "configmaps")
SERVICE = Kind("/api/v1", "services")
EVENT = Kind("/api/v1", "events")
STATEFULSET = Kind("/apis/apps/v1", "statefulsets")
DEPLOYMENT = Kind("/apis/apps/v1", "deployments")
PLATFORM = Kind(f"/apis/{GROUP}/{VERSION}", "platforms")
CONTAINER = Kind(f"/apis/{GROUP}/{VERSION}", "executioncontainers")
DESKTOP = Kind(f"/apis/{GROUP}/{VERSION}", "desktopclients")
LEASE = Kind("/apis/coordination.k8s.io/v1", "leases")
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
KINDS_BY_MANIFEST = {
    ("v1", "Secret"): SECRET,
    ("v1", "ConfigMap"): CONFIGMAP,
    ("v1", "Service"): SERVICE,
    ("apps/v1", "StatefulSet"): STATEFULSET,
    ("apps/v1", "Deployment"): DEPLOYMENT,
    ("coordination.k8s.io/v1", "Lease"): LEASE,
}


def kind_of(manifest: Mapping[str, Any]) -> Kind:
    return KINDS_BY_MANIFEST[(manifest["apiVersion"], manifest["kind"])]
