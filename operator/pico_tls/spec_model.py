"""What a parsed, defaulted custom resource is: the API constants, the modes, and one frozen
dataclass per part of a spec. `pico_tls.spec` reads custom resources into these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pico_tls.delivery_choice import DeliverySpec
from pico_tls.keystore import Pkcs12Profile, StoreFormat
from pico_tls.pki.keys import KeyAlgorithm
from pico_tls.validation import PROPERTIES_MOUNT as _PROPERTIES_MOUNT

GROUP = "picotls.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

MANAGED_PROPERTY_PREFIX = "pico.rcp.tls."
MANAGED_PROPERTIES = frozenset({"pico.rcp.platform.host", "pico.rcp.platform.port"})
WEB_UI_PROPERTY_PREFIX = "mz.httpd.security."  # managed when delivery.webUiTls is on
PROPERTIES_MOUNT = _PROPERTIES_MOUNT  # the folder of rcp-tls.properties (builders.names too)


class KeystoreMode(StrEnum):
    PER_CONTAINER = "PerContainer"
    SHARED = "Shared"


class TrustMode(StrEnum):
    CERTIFICATE_AUTHORITY = "CertificateAuthority"
    PINNED = "Pinned"


@dataclass(frozen=True)
class StoreFormatSpec:
    format: StoreFormat = StoreFormat.PKCS12
    profile: Pkcs12Profile = Pkcs12Profile.LEGACY_3DES


@dataclass(frozen=True)
class PodTemplateSpec:
    """Pod overrides, kept as the Kubernetes-shaped dicts the user wrote."""

    resources: Mapping[str, Any] = field(default_factory=dict)
    env: tuple[Mapping[str, Any], ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    affinity: Mapping[str, Any] = field(default_factory=dict)
    security_context: Mapping[str, Any] = field(default_factory=dict)
    pod_security_context: Mapping[str, Any] = field(default_factory=dict)
    volumes: tuple[Mapping[str, Any], ...] = ()
    volume_mounts: tuple[Mapping[str, Any], ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TlsSpec:
    enabled: bool = True
    require_client_auth: bool = False
    keystore_mode: KeystoreMode = KeystoreMode.PER_CONTAINER
    trust_mode: TrustMode = TrustMode.CERTIFICATE_AUTHORITY
    ca_secret_name: str | None = None
    store: StoreFormatSpec = StoreFormatSpec()
    key_algorithm: KeyAlgorithm = KeyAlgorithm.RSA_2048
    duration: timedelta = timedelta(hours=8760)
    renew_before: timedelta = timedelta(hours=720)
    mount_path: str = "/etc/pico/tls"
    alias: str = "platform"
    hostnames: tuple[str, ...] = ()
    password_secret_name: str | None = None
    # Deleting the Platform keeps its CA Secret and key state Secret (no owner reference on
    # them), so a Platform recreated with the same name adopts the same CA and key.
    retain_on_delete: bool = False
    desktop_reimport_period: timedelta = timedelta(0)  # TrustBoth lasts at least this long


@dataclass(frozen=True)
class ServiceSpec:
    type: str = "ClusterIP"
    rcp_port: int = 6790
    web_port: int = 9000


@dataclass(frozen=True)
class WorkloadRef:
    """Attach: the user's own StatefulSet or Deployment that runs the pico (spec.workloadRef)."""

    kind: str  # StatefulSet | Deployment
    name: str
    container_name: str | None = None  # None: the pod's first container
    keep_on_delete: bool = False


@dataclass(frozen=True)
class PlatformSpec:
    name: str
    namespace: str
    image: str  # "" with workload_ref
    image_pull_policy: str | None = None
    pod: PodTemplateSpec = PodTemplateSpec()
    service: ServiceSpec = ServiceSpec()
    properties: Mapping[str, str] = field(default_factory=dict)
    tls: TlsSpec = TlsSpec()
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    workload_ref: WorkloadRef | None = None


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    namespace: str
    platform: str
    image: str  # "" with workload_ref
    image_pull_policy: str | None = None
    replicas: int = 1  # not used with workload_ref: the operator never scales yours
    pod: PodTemplateSpec = PodTemplateSpec()
    properties: Mapping[str, str] = field(default_factory=dict)
    alias: str | None = None
    delivery: DeliverySpec | None = None  # None: the Platform's
    workload_ref: WorkloadRef | None = None

    def delivery_under(self, platform: PlatformSpec) -> DeliverySpec:
        """The container's own delivery choice, else its Platform's."""
        return self.delivery or platform.delivery


@dataclass(frozen=True)
class DesktopSpec:
    name: str
    namespace: str
    platform: str
    user: str
    key_algorithm: KeyAlgorithm = KeyAlgorithm.RSA_2048
    duration: timedelta = timedelta(hours=8760)
    store: StoreFormatSpec = StoreFormatSpec()
    alias: str = "desktop"
    password_secret_name: str | None = None
