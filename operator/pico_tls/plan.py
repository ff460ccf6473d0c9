"""The desired state of one platform group: a Platform, its ExecutionContainers, DesktopClients.

Pure: specs and resolved key material in, every manifest the operator writes out. Keystore
bytes are encoded only on demand (`PlannedStore.encode`), because encoding salts differ on
every run and the reconciler compares decoded content first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from cryptography import x509

from pico_tls.builders import configmaps, names, properties, secret_manifests, stores, workloads
from pico_tls.keystore import (
    KeystoreContent,
    StoreOptions,
    content_fingerprint,
    encode_keystore,
    file_name,
)
from pico_tls.material import CertRequest, Identity
from pico_tls.pki.certs import CertificateAuthority
from pico_tls.spec import (
    ContainerSpec,
    DesktopSpec,
    KeystoreMode,
    PlatformSpec,
    StoreFormatSpec,
    TrustMode,
)

Body = Mapping[str, Any]


@dataclass(frozen=True)
class Member:
    """A parsed custom resource with the body it came from (for owner references)."""

    body: Body
    spec: Any


@dataclass(frozen=True)
class PlannedStore:
    """A keystore Secret: what it must mean, and how to write it."""

    meta: dict[str, Any]
    content: KeystoreContent
    options: StoreOptions
    identity: Identity
    ca: CertificateAuthority | None
    with_properties: bool
    extra_certs: Mapping[str, Any] = field(default_factory=dict)
    previous_cas: tuple[x509.Certificate, ...] = ()  # still trusted during a CA rotation

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @cached_property
    def fingerprint(self) -> str:
        return content_fingerprint(self.content, self.options)

    @cached_property
    def data_digest(self) -> str:
        """Hash of everything in the Secret besides the keystore bytes."""
        digest = hashlib.sha256(self.fingerprint.encode())
        for key, value in sorted(self.data(b"").items()):
            digest.update(key.encode() + b"\0")
            digest.update((value.encode() if isinstance(value, str) else value) + b"\0")
        return digest.hexdigest()

    def data(self, keystore: bytes) -> dict[str, bytes | str]:
        return secret_manifests.keystore_secret_data(
            self.options.format,
            keystore,
            self.identity,
            self.ca,
            previous_cas=self.previous_cas,
            with_properties=self.with_properties,
            extra_certs=self.extra_certs,
        )

    def encode(self) -> dict[str, Any]:
        keystore = encode_keystore(self.content, self.options)
        return secret_manifests.keystore_secret(self.meta, self.data(keystore), self.fingerprint)


@dataclass(frozen=True)
class GroupPlan:
    stores: list[PlannedStore]
    state_secrets: list[dict[str, Any]]
    configmaps: list[dict[str, Any]]
    workloads: list[dict[str, Any]]
    mounted_hashes: dict[str, str]


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
    renew_before = min(timedelta(hours=720), desktop.duration / 3)
    return CertRequest(
        common_name=desktop.user,
        dns_names=(),
        key_algorithm=desktop.key_algorithm,
        duration=desktop.duration,
        renew_before=renew_before,
    )


def uses_ca(platform: PlatformSpec) -> bool:
    return platform.tls.trust_mode is TrustMode.CERTIFICATE_AUTHORITY


def _options(store: StoreFormatSpec, identity: Identity) -> StoreOptions:
    return StoreOptions(
        format=store.format,
        store_password=identity.passwords.store,
        key_password=identity.passwords.key,
        profile=store.profile,
    )


def container_alias(container: ContainerSpec, platform: PlatformSpec) -> str:
    if platform.tls.keystore_mode is KeystoreMode.SHARED:
        return platform.tls.alias
    return container.alias or container.name


def build_group(
    platform: Member,
    containers: Sequence[Member],
    desktops: Sequence[Member],
    *,
    ca: CertificateAuthority | None,
    identities: Mapping[str, Identity],
    require_client_auth: bool,
    previous_cas: Sequence[x509.Certificate] = (),
) -> GroupPlan:
    """Every object of the group. `identities` maps identity_key() to resolved material;
    `previous_cas` are old CAs every store still trusts while a CA rotation is under way."""
    p: PlatformSpec = platform.spec
    ns, tls = p.namespace, p.tls
    ca = ca if uses_ca(p) else None
    old_cas = tuple(previous_cas) if ca is not None else ()
    shared = tls.keystore_mode is KeystoreMode.SHARED
    plan = GroupPlan([], [], [], [], {})
    platform_id = identities.get(identity_key("platform", p.name))
    keystore_path = f"{tls.mount_path}/{file_name(tls.store.format)}"

    def meta(name: str, component: str, instance: str, owner: Body) -> dict[str, Any]:
        return names.metadata(name, ns, names.labels(p.name, component, instance), owner)

    # Platform store: trust the CA or each container; pin every desktop.
    platform_hash_parts: list[str] = []
    if tls.enabled and platform_id is not None:
        pinned = (
            []
            if (ca is not None or shared)
            else [
                pin
                for c in containers
                for pin in stores.pins(
                    c.spec.name, identities.get(identity_key("container", c.spec.name))
                )
            ]
        )
        desktop_certs = [
            pin
            for d in desktops
            for pin in stores.pins(
                d.spec.name, identities.get(identity_key("desktop", d.spec.name))
            )
        ]
        store = PlannedStore(
            meta=meta(names.tls_secret(p.name), "platform", p.name, platform.body),
            content=stores.platform_store(
                tls.alias, platform_id, ca, pinned, desktop_certs, old_cas
            ),
            options=_options(tls.store, platform_id),
            identity=platform_id,
            ca=ca,
            previous_cas=old_cas,
            with_properties=True,
        )
        plan.stores.append(store)
        plan.state_secrets.append(
            secret_manifests.state_secret(
                meta(names.state_secret(store.name), "platform", p.name, platform.body), platform_id
            )
        )
        platform_hash_parts.append(store.fingerprint)
    platform_props = properties.rcp_properties(
        keystore_path=keystore_path if tls.enabled else None,
        alias=tls.alias,
        require_client_auth=require_client_auth,
        extra=p.properties,
    )
    cm = configmaps.properties_configmap(
        meta(names.tls_secret(p.name), "platform", p.name, platform.body),
        platform_props,
        p.delivery,
    )
    plan.configmaps.append(workloads.with_applied_hash(cm))
    platform_hash = workloads.mounted_content_hash(
        *platform_hash_parts, cm["data"][names.PROPERTIES_FILE]
    )
    plan.mounted_hashes[p.name] = platform_hash
    plan.workloads.append(
        workloads.platform_statefulset(
            p, meta(p.name, "platform", p.name, platform.body), platform_hash, platform_props
        )
    )
    plan.workloads.extend(
        workloads.platform_services(
            p,
            meta(p.name, "platform", p.name, platform.body),
            meta(names.headless_service(p.name), "platform", p.name, platform.body),
        )
    )

    for member in containers:
        c: ContainerSpec = member.spec
        hash_parts: list[str] = []
        own = identities.get(
            identity_key("platform" if shared else "container", p.name if shared else c.name)
        )
        if tls.enabled and own is not None and platform_id is not None:
            alias = container_alias(c, p)
            store = PlannedStore(
                meta=meta(names.tls_secret(c.name), "execution-container", c.name, member.body),
                content=stores.peer_store(alias, own, ca, platform_id, old_cas),
                options=_options(tls.store, own),
                identity=own,
                ca=ca,
                previous_cas=old_cas,
                with_properties=True,
            )
            plan.stores.append(store)
            if not shared:
                plan.state_secrets.append(
                    secret_manifests.state_secret(
                        meta(
                            names.state_secret(store.name),
                            "execution-container",
                            c.name,
                            member.body,
                        ),
                        own,
                    )
                )
            hash_parts.append(store.fingerprint)
        props = properties.rcp_properties(
            keystore_path=keystore_path if tls.enabled else None,
            alias=container_alias(c, p),
            require_client_auth=require_client_auth,
            platform_host=names.platform_host(p.name, ns),
            platform_port=p.service.rcp_port,
            extra=c.properties,
        )
        cm = configmaps.properties_configmap(
            meta(names.tls_secret(c.name), "execution-container", c.name, member.body),
            props,
            c.delivery_under(p),
        )
        plan.configmaps.append(workloads.with_applied_hash(cm))
        content_hash = workloads.mounted_content_hash(
            *hash_parts, cm["data"][names.PROPERTIES_FILE]
        )
        plan.mounted_hashes[c.name] = content_hash
        plan.workloads.append(
            workloads.container_deployment(
                c, p, meta(c.name, "execution-container", c.name, member.body), content_hash, props
            )
        )

    for member in desktops:
        d: DesktopSpec = member.spec
        own = identities.get(identity_key("desktop", d.name))
        if own is None or platform_id is None:
            continue
        store = PlannedStore(
            meta=meta(names.desktop_secret(d.name), "desktop", d.name, member.body),
            content=stores.peer_store(d.alias, own, ca, platform_id, old_cas),
            options=_options(d.store, own),
            identity=own,
            ca=ca,
            previous_cas=old_cas,
            with_properties=False,
            extra_certs={"platform.crt": platform_id.certificate},
        )
        plan.stores.append(store)
        plan.state_secrets.append(
            secret_manifests.state_secret(
                meta(names.state_secret(store.name), "desktop", d.name, member.body), own
            )
        )
    return plan


def identity_key(kind: str, name: str) -> str:
    return f"{kind}/{name}"
