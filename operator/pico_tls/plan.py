"""The desired state of one platform group: a Platform, its ExecutionContainers, DesktopClients.

Pure: specs and resolved key material in, every manifest the operator writes out. Keystore
bytes are encoded only on demand (`PlannedStore.encode`), because encoding salts differ on
every run and the reconciler compares decoded content first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from pico_tls.builders import (
    attach,
    configmaps,
    names,
    properties,
    secret_manifests,
    stores,
    workloads,
)
from pico_tls.delivery_choice import DeliverySpec
from pico_tls.keystore import (
    KeystoreContent,
    StoreOptions,
    file_name,
)
from pico_tls.material import Identity
from pico_tls.parties import (
    ContainerMember,
    DesktopMember,
    PlatformMember,
    container_alias,
    identity_key,
    uses_ca,
)
from pico_tls.pki.certs import CertificateAuthority
from pico_tls.plan_model import GroupPlan, PlannedStore
from pico_tls.spec_model import DesktopSpec, KeystoreMode, PlatformSpec, StoreFormatSpec

Body = Mapping[str, Any]


def _options(store: StoreFormatSpec, identity: Identity) -> StoreOptions:
    return StoreOptions(
        format=store.format,
        store_password=identity.passwords.store,
        key_password=identity.passwords.key,
        profile=store.profile,
    )


Held = tuple[str, str, Identity]  # (kind, name, identity) of a member left out of the plan


@dataclass(frozen=True)
class _Group:
    """What every part of one group's plan needs."""

    platform: PlatformMember
    identities: Mapping[str, Identity]
    ca: CertificateAuthority | None
    old_cas: tuple[x509.Certificate, ...]
    require_client_auth: bool
    held: Sequence[Held] = ()
    attached: Mapping[str, Body] = field(default_factory=dict)  # party name -> its workload

    @property
    def spec(self) -> PlatformSpec:
        return self.platform.spec

    @property
    def shared(self) -> bool:
        return self.spec.tls.keystore_mode is KeystoreMode.SHARED

    @property
    def platform_identity(self) -> Identity | None:
        return self.identities.get(identity_key("platform", self.spec.name))

    @property
    def keystore_path(self) -> str | None:
        tls = self.spec.tls
        return f"{tls.mount_path}/{file_name(tls.store.format)}" if tls.enabled else None

    def meta(self, name: str, component: str, instance: str, owner: Body | None) -> dict[str, Any]:
        labels = names.labels(self.spec.name, component, instance)
        return names.metadata(name, self.spec.namespace, labels, owner)

    def store(
        self, meta: dict[str, Any], content: KeystoreContent, identity: Identity, **more: Any
    ) -> PlannedStore:
        return PlannedStore(
            meta=meta,
            content=content,
            options=_options(more.pop("store_format", self.spec.tls.store), identity),
            identity=identity,
            ca=self.ca,
            previous_cas=self.old_cas,
            **more,
        )


def build_plan(
    platform: PlatformMember,
    containers: Sequence[ContainerMember],
    desktops: Sequence[DesktopMember],
    *,
    ca: CertificateAuthority | None,
    identities: Mapping[str, Identity],
    require_client_auth: bool,
    previous_cas: Sequence[x509.Certificate] = (),
    held: Sequence[Held] = (),
    attached: Mapping[str, Body] | None = None,
) -> GroupPlan:
    """Every object of the group. `identities` maps identity_key() to resolved material;
    `previous_cas` are old CAs every store still trusts while a CA rotation is under way;
    `held`: members left out of this pass, whose stored certificates the Platform still pins;
    `attached`: the users' workloads the parties with a workloadRef attach to, by party name
    (a party whose workload is not given gets no workload write)."""
    ca = ca if uses_ca(platform.spec) else None
    old_cas = tuple(previous_cas) if ca is not None else ()
    group = _Group(platform, identities, ca, old_cas, require_client_auth, held, attached or {})
    plan = GroupPlan([], [], [], [], [], {})
    _plan_platform(plan, group, containers, desktops)
    for container in containers:
        _plan_container(plan, group, container)
    for desktop in desktops:
        _plan_desktop(plan, group, desktop)
    return plan


def _plan_platform(
    plan: GroupPlan,
    group: _Group,
    containers: Sequence[ContainerMember],
    desktops: Sequence[DesktopMember],
) -> None:
    """The platform's store and state (it trusts the CA or pins each container, and pins
    every desktop), its properties, StatefulSet and Services."""
    p, body, own = group.spec, group.platform.body, group.platform_identity
    hash_parts: list[str] = []
    if p.tls.enabled and own is not None:
        pinned = (
            []
            if (group.ca is not None or group.shared)
            else _pins(group, "container", containers) + _held_pins(group, "container")
        )
        desktop_pins = _pins(group, "desktop", desktops) + _held_pins(group, "desktop")
        content = stores.platform_store(
            p.tls.alias, own, group.ca, pinned, desktop_pins, group.old_cas
        )
        meta = group.meta(names.tls_secret(p.name), "platform", p.name, body)
        store = group.store(meta, content, own, with_properties=True)
        kept = None if p.tls.retain_on_delete else body  # retained: no owner, not collected
        _add_store(plan, group, store, "platform", p.name, kept)
        hash_parts.append(store.fingerprint)
    props = properties.rcp_properties(
        keystore_path=group.keystore_path,
        alias=p.tls.alias,
        require_client_auth=group.require_client_auth,
        extra=p.properties,
    )
    digest = _add_properties(
        plan,
        group,
        names.properties_configmap(p.name),
        "platform",
        p.name,
        body,
        props,
        hash_parts,
        p.delivery,
    )
    plan.mounted_hashes[p.name] = digest
    meta = group.meta(p.name, "platform", p.name, body)
    headless = group.meta(names.headless_service(p.name), "platform", p.name, body)
    if p.workload_ref is None:
        plan.workloads.append(workloads.platform_statefulset(p, meta, digest, props))
        plan.services.extend(workloads.platform_services(p, meta, headless))
        return
    live = group.attached.get(p.name)
    if live is None:
        return
    patch = attach.party_patch(live, "Platform", p, p.delivery, p.tls, props, digest)
    if patch is not None:
        plan.attachments.append(patch)
        if selector := attach.match_labels(live):
            plan.services.extend(workloads.platform_services(p, meta, headless, selector))


def _plan_container(plan: GroupPlan, group: _Group, member: ContainerMember) -> None:
    """A container's store and state (none of its own in Shared mode), properties, Deployment."""
    p, c = group.spec, member.spec
    kind, key = ("platform", p.name) if group.shared else ("container", c.name)
    own = group.identities.get(identity_key(kind, key))
    platform_id = group.platform_identity
    hash_parts: list[str] = []
    alias = container_alias(c, p)
    if p.tls.enabled and own is not None and platform_id is not None:
        content = stores.peer_store(alias, own, group.ca, platform_id, group.old_cas)
        meta = group.meta(names.tls_secret(c.name), "execution-container", c.name, member.body)
        store = group.store(meta, content, own, with_properties=True)
        if group.shared:
            plan.stores.append(store)
        else:
            _add_store(plan, group, store, "execution-container", c.name, member.body)
        hash_parts.append(store.fingerprint)
    props = properties.rcp_properties(
        keystore_path=group.keystore_path,
        alias=alias,
        require_client_auth=group.require_client_auth,
        platform_host=names.platform_host(p.name, p.namespace),
        platform_port=p.service.rcp_port,
        extra=c.properties,
    )
    digest = _add_properties(
        plan,
        group,
        names.properties_configmap(c.name),
        "execution-container",
        c.name,
        member.body,
        props,
        hash_parts,
        c.delivery_under(p),
    )
    plan.mounted_hashes[c.name] = digest
    if c.workload_ref is None:
        meta = group.meta(c.name, "execution-container", c.name, member.body)
        plan.workloads.append(workloads.container_deployment(c, p, meta, digest, props))
    elif (live := group.attached.get(c.name)) is not None:
        patch = attach.party_patch(
            live, "ExecutionContainer", c, c.delivery_under(p), p.tls, props, digest
        )
        if patch is not None:
            plan.attachments.append(patch)


def _plan_desktop(plan: GroupPlan, group: _Group, member: DesktopMember) -> None:
    """A desktop's key Secret (for the Desktop Launcher: no properties) and its state."""
    d: DesktopSpec = member.spec
    own = group.identities.get(identity_key("desktop", d.name))
    platform_id = group.platform_identity
    if own is None or platform_id is None:
        return
    content = stores.peer_store(d.alias, own, group.ca, platform_id, group.old_cas)
    meta = group.meta(names.desktop_secret(d.name), "desktop", d.name, member.body)
    store = group.store(
        meta,
        content,
        own,
        store_format=d.store,
        with_properties=False,
        extra_certs={"platform.crt": platform_id.certificate},
    )
    _add_store(plan, group, store, "desktop", d.name, member.body)


def _pins(
    group: _Group, kind: str, members: Sequence[ContainerMember] | Sequence[DesktopMember]
) -> list[tuple[str, x509.Certificate]]:
    return [
        pin
        for m in members
        for pin in stores.pins(m.spec.name, group.identities.get(identity_key(kind, m.spec.name)))
    ]


def _held_pins(group: _Group, kind: str) -> list[tuple[str, x509.Certificate]]:
    return [pin for k, name, ident in group.held if k == kind for pin in stores.pins(name, ident)]


def _add_store(
    plan: GroupPlan,
    group: _Group,
    store: PlannedStore,
    component: str,
    instance: str,
    owner: Body | None,
) -> None:
    """A mounted store and the state Secret that keeps its key."""
    plan.stores.append(store)
    meta = group.meta(names.state_secret(store.name), component, instance, owner)
    plan.state_secrets.append(secret_manifests.state_secret(meta, store.identity))


def _add_properties(
    plan: GroupPlan,
    group: _Group,
    name: str,
    component: str,
    instance: str,
    owner: Body,
    props: Mapping[str, str],
    hash_parts: Sequence[str],
    delivery: DeliverySpec,
) -> str:
    """The properties ConfigMap; returns the hash of all a pod mounts (stores + properties)."""
    meta = group.meta(name, component, instance, owner)
    cm = configmaps.settings_configmap(meta, props, delivery)
    plan.configmaps.append(workloads.with_applied_hash(cm))
    return workloads.mounted_content_hash(*hash_parts, cm["data"][names.PROPERTIES_FILE])
