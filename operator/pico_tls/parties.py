"""Who is in a platform group and what each party's certificate must say: the parsed custom
resources, their identity keys, their certificate requests. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pico_tls.builders import names
from pico_tls.material import CertRequest, default_renew_before
from pico_tls.spec_model import ContainerSpec, DesktopSpec, KeystoreMode, PlatformSpec, TrustMode

Body = Mapping[str, Any]
SpecT = TypeVar("SpecT", PlatformSpec, ContainerSpec, DesktopSpec)


@dataclass(frozen=True)
class Member(Generic[SpecT]):
    """A parsed custom resource with the body it came from (for owner references)."""

    body: Body
    spec: SpecT


PlatformMember = Member[PlatformSpec]
ContainerMember = Member[ContainerSpec]
DesktopMember = Member[DesktopSpec]
AnyMember = PlatformMember | ContainerMember | DesktopMember


def cert_request_platform(platform: PlatformSpec) -> CertRequest:
    name, ns = platform.name, platform.namespace
    dns = [
        name,
        f"{name}.{ns}",
        f"{name}.{ns}.svc",
        f"{name}.{ns}.svc.cluster.local",
        f"{name}-0.{names.headless_service(name)}.{ns}.svc",
        *platform.tls.hostnames,
    ]
    return CertRequest(
        common_name=name,
        dns_names=tuple(dict.fromkeys(dns)),
        key_algorithm=platform.tls.key_algorithm,
        duration=platform.tls.duration,
        renew_before=platform.tls.renew_before,
    )


def cert_request_container(container: ContainerSpec, platform: PlatformSpec) -> CertRequest:
    name, ns = container.name, container.namespace
    return CertRequest(
        common_name=name,
        dns_names=(name, f"{name}.{ns}", f"{name}.{ns}.svc"),
        key_algorithm=platform.tls.key_algorithm,
        duration=platform.tls.duration,
        renew_before=platform.tls.renew_before,
    )


def cert_request_desktop(desktop: DesktopSpec) -> CertRequest:
    renew_before = default_renew_before(desktop.duration)
    return CertRequest(
        common_name=desktop.user,
        dns_names=(),
        key_algorithm=desktop.key_algorithm,
        duration=desktop.duration,
        renew_before=renew_before,
    )


def uses_ca(platform: PlatformSpec) -> bool:
    return platform.tls.trust_mode is TrustMode.CERTIFICATE_AUTHORITY


def container_alias(container: ContainerSpec, platform: PlatformSpec) -> str:
    if platform.tls.keystore_mode is KeystoreMode.SHARED:
        return platform.tls.alias
    return container.alias or container.name


def identity_key(kind: str, name: str) -> str:
    return f"{kind}/{name}"
