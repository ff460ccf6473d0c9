"""Reconcile one platform group: a Platform with its ExecutionContainers and DesktopClients.

Level-triggered: every pass reads the group, resolves key material (keeping what exists),
builds the desired objects and writes only those whose meaning differs from what is there.
Writing lives in `writes`, status and Events in `report`, workload checks in `rollout`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pico_tls.builders import names, secret_manifests
from pico_tls.keystore import KeystoreError
from pico_tls.kube import (
    CONFIGMAP,
    CONTAINER,
    DEPLOYMENT,
    DESKTOP,
    PLATFORM,
    SECRET,
    SERVICE,
    STATEFULSET,
    Kind,
    Kube,
)
from pico_tls.material import Identity, Passwords, renewal_time, resolve_identity
from pico_tls.pki.certs import CertificateAuthority, PkiError, create_ca, sha256_fingerprint
from pico_tls.pki.keys import generate_key
from pico_tls.plan import (
    GroupPlan,
    Member,
    build_group,
    cert_request_container,
    cert_request_desktop,
    cert_request_platform,
    identity_key,
    uses_ca,
)
from pico_tls.reconcile import existing
from pico_tls.reconcile.clientauth import ClientAuthState, next_state
from pico_tls.reconcile.report import GroupConfigError, StatusReporter
from pico_tls.reconcile.rollout import by_name, rolled_out, template_hash
from pico_tls.reconcile.writes import Decoder, GroupWriter
from pico_tls.spec import (
    KeystoreMode,
    PlatformSpec,
    SpecError,
    parse_container,
    parse_desktop,
    parse_platform,
)

log = logging.getLogger(__name__)

CA_DURATION = timedelta(days=3650)
_MISSING = object()
ROLLOUT_POLL_SECONDS = 2.0


@dataclass
class Outcome:
    """What a pass did, and when the group wants another look (seconds)."""

    requeue_after: float | None = None
    writes: int = 0


@dataclass
class _Pass:
    """One pass over one group: its objects, writes and renewal times."""

    namespace: str
    platform_name: str
    now: datetime
    writes: int = 0
    renewals: list[datetime] = field(default_factory=list)
    # What the group's objects look like now (read once per pass, updated as we write).
    secrets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    configmaps: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    services: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    workloads: dict[str, Mapping[str, Any]] = field(default_factory=dict)


class GroupReconciler:
    """Reconciles platform groups; shared by the worker threads, so it keeps no pass state."""

    def __init__(self, kube: Kube, resync_seconds: float = 600.0) -> None:
        self.kube = kube
        self.resync_seconds = resync_seconds
        # Decoding keys and keystores is the costly part of a pass; a Secret that has not
        # changed (same uid and resourceVersion) is not decoded again.
        self._decoded: dict[tuple[str, str, str], Any] = {}
        # Secrets the user owns (CA, passwords) -> the platform groups that read them, so a
        # change to one of them is noticed without watching for it in every pass.
        self.references: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()  # groups are reconciled in parallel threads
        self.reporter = StatusReporter(kube)
        self.writer = GroupWriter(kube, self._cached)

    def _cached(self, secret: Mapping[str, Any] | None, what: str, decode: Decoder) -> Any:
        if secret is None:
            return decode({})
        meta = secret["metadata"]
        key = (meta.get("uid", ""), meta.get("resourceVersion", ""), what)
        with self._lock:
            found = self._decoded.get(key, _MISSING)
        if found is _MISSING:
            found = decode(secret_manifests.decode_data(secret))
            with self._lock:
                if len(self._decoded) > 20000:
                    self._decoded.clear()
                self._decoded[key] = found
        return found

    # -- entry point -----------------------------------------------------------------------

    def reconcile(self, namespace: str, platform_name: str, now: datetime | None = None) -> Outcome:
        run = _Pass(namespace, platform_name, now or datetime.now(UTC))
        body = self.kube.get(PLATFORM, namespace, platform_name)
        containers_all = self._members(CONTAINER, namespace, platform_name)
        desktops_all = self._members(DESKTOP, namespace, platform_name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            for member in containers_all + desktops_all:
                self.reporter.member_status(
                    member,
                    None,
                    ready=False,
                    reason="PlatformNotFound",
                    message=f"Platform {platform_name} does not exist",
                )
            return Outcome(writes=run.writes)
        try:
            platform = Member(body, parse_platform(body))
        except SpecError as err:
            self.reporter.reject(body, str(err))
            return Outcome(writes=run.writes)
        containers = self._parse_members(containers_all, parse_container)
        desktops = self._parse_members(desktops_all, parse_desktop)
        self._remember_references(platform, desktops)
        try:
            try:
                plan, state = self._plan(run, platform, containers, desktops)
            except (PkiError, KeystoreError) as err:  # messages hold no key material
                self.reporter.keystore_problem(platform, "KeyMaterialError", str(err))
        except GroupConfigError:
            return Outcome(requeue_after=60.0, writes=run.writes)
        workloads = self.writer.write(run, plan)
        settled = all(rolled_out(w) for w in workloads.values())
        progressing = self.reporter.report(
            platform, containers, desktops, plan, state, workloads, settled
        )
        if progressing:
            return Outcome(requeue_after=ROLLOUT_POLL_SECONDS, writes=run.writes)
        wait = self.resync_seconds
        if run.renewals:
            wait = min(wait, max(1.0, (min(run.renewals) - run.now).total_seconds()))
        return Outcome(requeue_after=wait, writes=run.writes)

    # -- reading ---------------------------------------------------------------------------

    def _members(self, kind: Kind, namespace: str, platform_name: str) -> list[dict[str, Any]]:
        return [
            item
            for item in self.kube.list_objects(kind, namespace)
            if (item.get("spec") or {}).get("platformRef", {}).get("name") == platform_name
            and not item["metadata"].get("deletionTimestamp")
        ]

    def _parse_members(self, bodies: Sequence[dict[str, Any]], parse: Any) -> list[Member]:
        members = []
        for body in bodies:
            try:
                members.append(Member(body, parse(body)))
            except SpecError as err:
                self.reporter.reject(body, str(err))
        return members

    # -- planning --------------------------------------------------------------------------

    def _remember_references(self, platform: Member, desktops: Sequence[Member]) -> None:
        p: PlatformSpec = platform.spec
        names_used = {p.tls.ca_secret_name, p.tls.password_secret_name}
        names_used |= {d.spec.password_secret_name for d in desktops}
        with self._lock:
            for key, groups in list(self.references.items()):
                if key[0] == p.namespace:
                    groups.discard(p.name)
                    if not groups:
                        del self.references[key]
            for name in names_used - {None}:
                self.references.setdefault((p.namespace, str(name)), set()).add(p.name)

    def platforms_reading(self, namespace: str, secret: str) -> list[str]:
        with self._lock:
            return sorted(self.references.get((namespace, secret), ()))

    def _plan(
        self,
        run: _Pass,
        platform: Member,
        containers: list[Member],
        desktops: list[Member],
    ) -> tuple[GroupPlan, ClientAuthState]:
        p: PlatformSpec = platform.spec
        selector = f"{names.PLATFORM_LABEL}={p.name}"
        run.secrets = by_name(self.kube.list_objects(SECRET, run.namespace, selector))
        run.configmaps = by_name(self.kube.list_objects(CONFIGMAP, run.namespace, selector))
        run.services = by_name(self.kube.list_objects(SERVICE, run.namespace, selector))
        for kind in (STATEFULSET, DEPLOYMENT):
            run.workloads.update(by_name(self.kube.list_objects(kind, run.namespace, selector)))

        ca = self._ca(run, platform) if p.tls.enabled and uses_ca(p) else None
        identities = (
            self._identities(run, platform, containers, desktops, ca) if p.tls.enabled else {}
        )

        status = platform.body.get("status") or {}
        old_auth = status.get("clientAuth") or {}
        desired = p.tls.enabled and p.tls.require_client_auth
        effective = old_auth.get("effective")
        current_flag = bool(effective) if effective is not None else desired
        probe = build_group(
            platform,
            containers,
            desktops,
            ca=ca,
            identities=identities,
            require_client_auth=current_flag,
        )
        material_settled = all(
            template_hash(run.workloads.get(name)) == digest
            for name, digest in probe.mounted_hashes.items()
        )
        all_rolled = all(rolled_out(run.workloads.get(name)) for name in probe.mounted_hashes)
        state = next_state(
            desired,
            effective,
            workloads_exist=p.name in run.workloads,
            material_settled=material_settled,
            rolled_out=all_rolled,
        )
        if state.effective == current_flag:
            return probe, state
        plan = build_group(
            platform,
            containers,
            desktops,
            ca=ca,
            identities=identities,
            require_client_auth=state.effective,
        )
        return plan, state

    def _ca(self, run: _Pass, platform: Member) -> CertificateAuthority:
        p: PlatformSpec = platform.spec
        if p.tls.ca_secret_name:
            user_secret = self.kube.get(SECRET, run.namespace, p.tls.ca_secret_name)
            if user_secret is None:
                self.reporter.keystore_problem(
                    platform, "CASecretNotFound", f"CA Secret {p.tls.ca_secret_name} not found"
                )
            try:
                return existing.ca_from(secret_manifests.decode_data(user_secret or {}))
            except PkiError as err:
                self.reporter.keystore_problem(
                    platform, "CAInvalid", f"CA Secret {p.tls.ca_secret_name}: {err}"
                )
        name = names.ca_secret(p.name)
        current = run.secrets.get(name)
        if current is not None:
            try:
                ca: CertificateAuthority = self._cached(current, "ca", existing.ca_from)
                return ca
            except PkiError as err:
                # Never replace a CA key silently: the user must delete the Secret on purpose.
                self.reporter.keystore_problem(
                    platform,
                    "CAInvalid",
                    f"Secret {name} is unreadable ({err}); delete it to "
                    "let the operator create a new CA",
                )
        ca = create_ca(
            ca_common_name(p),
            generate_key(p.tls.key_algorithm),
            duration=CA_DURATION,
            now=run.now,
        )
        meta = names.metadata(
            name, run.namespace, names.labels(p.name, "platform", p.name), platform.body
        )
        run.secrets[name] = self.writer.apply(run, secret_manifests.ca_secret(meta, ca))
        self.kube.event(
            platform.body,
            "Normal",
            "CACreated",
            f"Created the CA in Secret {name}; fingerprint {sha256_fingerprint(ca.certificate)}",
        )
        return ca

    def _user_passwords(
        self, run: _Pass, owner: Member, secret_name: str | None, platform: Member
    ) -> Passwords | None:
        if not secret_name:
            return None
        obj = self.kube.get(SECRET, run.namespace, secret_name)
        found = existing.passwords_from(secret_manifests.decode_data(obj)) if obj else None
        if found is None:
            message = (
                f"password Secret {secret_name} not found or has no {names.STORE_PASSWORD_KEY} key"
            )
            if owner is platform:
                self.reporter.keystore_problem(platform, "PasswordSecretInvalid", message)
            raise SpecError(message)
        return found

    def _identity(
        self,
        run: _Pass,
        owner: Member,
        mounted: str,
        request: Any,
        issuer: CertificateAuthority | None,
        passwords: Passwords | None,
    ) -> Identity:
        state_secret = run.secrets.get(names.state_secret(mounted))
        state = self._cached(state_secret, "state", existing.from_state)
        if state.key is None:
            recovered = self._cached(
                run.secrets.get(mounted), "recover", existing.from_keystore_secret
            )
            state = existing.merged(state, recovered)
        identity, notes = resolve_identity(request, issuer, state, passwords=passwords, now=run.now)
        if notes:
            self.kube.event(owner.body, "Normal", "KeyMaterial", f"{mounted}: {'; '.join(notes)}")
        run.renewals.append(renewal_time(identity.certificate, request.renew_before))
        return identity

    def _identities(
        self,
        run: _Pass,
        platform: Member,
        containers: list[Member],
        desktops: list[Member],
        ca: CertificateAuthority | None,
    ) -> dict[str, Identity]:
        p: PlatformSpec = platform.spec
        out = {}
        platform_pw = self._user_passwords(run, platform, p.tls.password_secret_name, platform)
        out[identity_key("platform", p.name)] = self._identity(
            run, platform, names.tls_secret(p.name), cert_request_platform(p), ca, platform_pw
        )
        if p.tls.keystore_mode is KeystoreMode.PER_CONTAINER:
            for c in containers:
                out[identity_key("container", c.spec.name)] = self._identity(
                    run,
                    c,
                    names.tls_secret(c.spec.name),
                    cert_request_container(c.spec, p),
                    ca,
                    platform_pw,
                )
        for d in list(desktops):
            try:
                pw = self._user_passwords(run, d, d.spec.password_secret_name, platform)
            except SpecError as err:
                self.reporter.reject(d.body, str(err))
                desktops.remove(d)
                continue
            # Desktops are always self-signed and pinned, so deleting one revokes it.
            out[identity_key("desktop", d.spec.name)] = self._identity(
                run, d, names.desktop_secret(d.spec.name), cert_request_desktop(d.spec), None, pw
            )
        return out


def ca_common_name(platform: PlatformSpec) -> str:
    """A CA subject within X.509's 64-character limit."""
    return f"pico CA {platform.name} {platform.namespace}"[:64].strip()
