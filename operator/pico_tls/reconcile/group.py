"""Reconcile one platform group: a Platform with its ExecutionContainers and DesktopClients.

Level-triggered: every pass reads the group, resolves key material (keeping what exists),
builds the desired objects and writes only those whose meaning differs from what is there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pico_tls.builders import names, secret_manifests
from pico_tls.keystore import KeystoreError, content_fingerprint, decode_keystore
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
    PlannedStore,
    build_group,
    cert_request_container,
    cert_request_desktop,
    cert_request_platform,
    identity_key,
    uses_ca,
)
from pico_tls.reconcile import existing
from pico_tls.reconcile.clientauth import ClientAuthState, Phase, next_state
from pico_tls.reconcile.status import Condition, merge_conditions, status_changed
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


class GroupConfigError(Exception):
    """The group cannot be reconciled until the user fixes something; already reported."""


@dataclass
class _Pass:
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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _by_name(items: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(i["metadata"]["name"]): i for i in items}


def _template_hash(workload: Mapping[str, Any] | None) -> str | None:
    if workload is None:
        return None
    annotations = workload["spec"]["template"]["metadata"].get("annotations") or {}
    value = annotations.get(names.MOUNTED_CONTENT)
    return str(value) if value is not None else None


def rolled_out(workload: Mapping[str, Any] | None) -> bool:
    """True when a StatefulSet or Deployment runs its current template on every replica."""
    if workload is None:
        return False
    spec, status = workload["spec"], workload.get("status") or {}
    if status.get("observedGeneration", 0) < workload["metadata"].get("generation", 0):
        return False
    replicas = spec.get("replicas", 1)
    if replicas == 0:
        return True
    updated = status.get("updatedReplicas", 0) == replicas
    ready = status.get("readyReplicas", 0) == replicas
    if workload["kind"] == "StatefulSet":
        same_revision = status.get("currentRevision") == status.get("updateRevision")
        return bool(updated and ready and same_revision)
    return bool(updated and ready and status.get("replicas", 0) == replicas)


class GroupReconciler:
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

    def _cached(self, secret: Mapping[str, Any] | None, what: str, decode: Any) -> Any:
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
                self._member_status(
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
            self._reject(body, str(err))
            return Outcome(writes=run.writes)
        containers = self._parse_members(containers_all, parse_container)
        desktops = self._parse_members(desktops_all, parse_desktop)
        self._remember_references(platform, desktops)
        try:
            try:
                plan, state = self._plan(run, platform, containers, desktops)
            except (PkiError, KeystoreError) as err:  # messages hold no key material
                self._keystore_problem(platform, "KeyMaterialError", str(err))
        except GroupConfigError:
            return Outcome(requeue_after=60.0, writes=run.writes)
        workloads = self._write(run, plan)
        settled = all(rolled_out(w) for w in workloads.values())
        return self._report(run, platform, containers, desktops, plan, state, workloads, settled)

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
                self._reject(body, str(err))
        return members

    def _reject(self, body: Mapping[str, Any], message: str) -> None:
        """Report a spec the operator cannot act on, once per message."""
        old = body.get("status") or {}
        known = [c for c in old.get("conditions") or [] if c.get("type") == "Ready"]
        if not known or known[0].get("message") != message:
            self.kube.event(body, "Warning", "InvalidSpec", message)
        self._patch_status(
            body,
            {
                "observedGeneration": body["metadata"].get("generation"),
                "conditions": merge_conditions(
                    old.get("conditions") or [],
                    [Condition("Ready", False, "InvalidSpec", message)],
                    body["metadata"].get("generation"),
                ),
            },
        )

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
        run.secrets = _by_name(self.kube.list_objects(SECRET, run.namespace, selector))
        run.configmaps = _by_name(self.kube.list_objects(CONFIGMAP, run.namespace, selector))
        run.services = _by_name(self.kube.list_objects(SERVICE, run.namespace, selector))
        for kind in (STATEFULSET, DEPLOYMENT):
            run.workloads.update(_by_name(self.kube.list_objects(kind, run.namespace, selector)))

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
            _template_hash(run.workloads.get(name)) == digest
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
                self._keystore_problem(
                    platform, "CASecretNotFound", f"CA Secret {p.tls.ca_secret_name} not found"
                )
            try:
                return existing.ca_from(secret_manifests.decode_data(user_secret or {}))
            except PkiError as err:
                self._keystore_problem(
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
                self._keystore_problem(
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
        run.secrets[name] = self.kube.apply(secret_manifests.ca_secret(meta, ca))
        run.writes += 1
        self.kube.event(
            platform.body,
            "Normal",
            "CACreated",
            f"Created the CA in Secret {name}; fingerprint {sha256_fingerprint(ca.certificate)}",
        )
        return ca

    def _keystore_problem(self, platform: Member, reason: str, message: str) -> None:
        body = platform.body
        old = body.get("status") or {}
        known = {c.get("type"): c for c in old.get("conditions") or []}
        if (known.get("KeystoreReady") or {}).get("message") != message:
            self.kube.event(body, "Warning", reason, message)
        self._patch_status(
            body,
            {
                "observedGeneration": body["metadata"].get("generation"),
                "conditions": merge_conditions(
                    old.get("conditions") or [],
                    [
                        Condition("Ready", False, reason, message),
                        Condition("KeystoreReady", False, reason, message),
                    ],
                    body["metadata"].get("generation"),
                ),
            },
        )
        raise GroupConfigError(message)

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
                self._keystore_problem(platform, "PasswordSecretInvalid", message)
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
                self._reject(d.body, str(err))
                desktops.remove(d)
                continue
            # Desktops are always self-signed and pinned, so deleting one revokes it.
            out[identity_key("desktop", d.spec.name)] = self._identity(
                run, d, names.desktop_secret(d.spec.name), cert_request_desktop(d.spec), None, pw
            )
        return out

    # -- writing ---------------------------------------------------------------------------

    def _apply(self, run: _Pass, manifest: dict[str, Any]) -> dict[str, Any]:
        run.writes += 1
        return self.kube.apply(manifest)

    def _store_matches(self, store: PlannedStore, current: Mapping[str, Any] | None) -> bool:
        if current is None:
            return False
        return bool(
            self._cached(
                current, f"match:{store.data_digest}", lambda data: _data_matches(store, data)
            )
        )

    def _write(self, run: _Pass, plan: GroupPlan) -> dict[str, Mapping[str, Any]]:
        for manifest in plan.state_secrets:
            name = manifest["metadata"]["name"]
            current = run.secrets.get(name)
            if current is None or current.get("data") != manifest["data"]:
                run.secrets[name] = self._apply(run, manifest)
        for store in plan.stores:
            current = run.secrets.get(store.name)
            if self._store_matches(store, current):
                continue
            run.secrets[store.name] = self._apply(run, store.encode())
            owner = self._owner_body(store.meta)
            if current is None:
                reason, verb = "SecretCreated", "wrote"
            elif (current.get("metadata", {}).get("annotations") or {}).get(
                names.CONTENT_FINGERPRINT
            ) == store.fingerprint:
                reason, verb = "SecretRestored", "restored (it had been edited)"
            else:
                reason, verb = "KeystoreUpdated", "updated"
            if owner is not None:
                self.kube.event(owner, "Normal", reason, f"Secret {store.name}: {verb}")
        for manifest in plan.configmaps:
            self._apply_if_changed(run, manifest, run.configmaps)
        workloads: dict[str, Mapping[str, Any]] = {}
        for manifest in plan.workloads:
            name = manifest["metadata"]["name"]
            if manifest["kind"] == "Service":
                self._apply_if_changed(run, manifest, run.services)
                continue
            before = run.workloads.get(name)
            after = self._apply_if_changed(run, manifest, run.workloads)
            if before is not None and _template_hash(before) != _template_hash(after):
                owner = self._owner_body(manifest["metadata"])
                if owner is not None:
                    self.kube.event(
                        owner,
                        "Normal",
                        "RollingPods",
                        f"{manifest['kind']} {name}: mounted TLS content changed",
                    )
            workloads[name] = after
        return workloads

    def _apply_if_changed(
        self, run: _Pass, manifest: dict[str, Any], cache: dict[str, Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        name = manifest["metadata"]["name"]
        current = cache.get(name)
        wanted = manifest["metadata"]["annotations"][names.APPLIED_HASH]
        if (
            current is not None
            and current.get("kind") == manifest["kind"]
            and ((current["metadata"].get("annotations") or {}).get(names.APPLIED_HASH) == wanted)
            # a ConfigMap edited by hand keeps our annotation: compare what pods read too
            and current.get("data", manifest.get("data")) == manifest.get("data")
        ):
            return current
        cache[name] = self._apply(run, manifest)
        if current is not None and manifest["kind"] == "ConfigMap":
            owner = self._owner_body(manifest["metadata"])
            if owner is not None:
                self.kube.event(
                    owner,
                    "Normal",
                    "PropertiesUpdated",
                    f"ConfigMap {name}: rcp-tls.properties written",
                )
        return cache[name]

    def _owner_body(self, meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
        refs = meta.get("ownerReferences") or []
        if not refs:
            return None
        ref = refs[0]
        return {
            "apiVersion": ref["apiVersion"],
            "kind": ref["kind"],
            "metadata": {"name": ref["name"], "namespace": meta["namespace"], "uid": ref["uid"]},
        }

    # -- status ----------------------------------------------------------------------------

    def _patch_status(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        if not status_changed(body.get("status") or {}, status):
            return
        kind = {"Platform": PLATFORM, "ExecutionContainer": CONTAINER, "DesktopClient": DESKTOP}[
            body["kind"]
        ]
        meta = body["metadata"]
        self.kube.patch_status(kind, meta["namespace"], meta["name"], status)

    def _member_status(
        self,
        body: Mapping[str, Any],
        identity: Identity | None,
        *,
        ready: bool,
        reason: str,
        message: str,
        ca: CertificateAuthority | None = None,
        renew_before: timedelta | None = None,
    ) -> None:
        old = body.get("status") or {}
        generation = body["metadata"].get("generation")
        conditions = [Condition("Ready", ready, reason, message)]
        status: dict[str, Any] = {"observedGeneration": generation}
        if identity is not None:
            conditions.append(
                Condition("KeystoreReady", True, "KeystoreWritten", "Keystore Secret is up to date")
            )
            status["notAfter"] = _iso(identity.not_after)
            if renew_before is not None:
                status["renewalTime"] = _iso(renewal_time(identity.certificate, renew_before))
            status["certificateFingerprint"] = sha256_fingerprint(identity.certificate)
            if ca is not None:
                status["caFingerprint"] = sha256_fingerprint(ca.certificate)
        status["conditions"] = merge_conditions(old.get("conditions") or [], conditions, generation)
        self._patch_status(body, status)

    def _report(
        self,
        run: _Pass,
        platform: Member,
        containers: list[Member],
        desktops: list[Member],
        plan: GroupPlan,
        state: ClientAuthState,
        workloads: Mapping[str, Mapping[str, Any]],
        settled: bool,
    ) -> Outcome:
        p: PlatformSpec = platform.spec
        body = platform.body
        old = body.get("status") or {}
        old_phase = (old.get("clientAuth") or {}).get("phase")
        if old_phase is not None and old_phase != state.phase.value:
            self.kube.event(
                body,
                "Normal",
                "ClientAuth",
                f"Required client authentication: {old_phase} -> {state.phase.value}",
            )
        stores = {s.name: s for s in plan.stores}
        platform_store = stores.get(names.tls_secret(p.name))
        ca = platform_store.ca if platform_store else None
        transitional = state.phase in (Phase.PREPARING_TRUST, Phase.ENFORCING, Phase.RELAXING)
        progressing = transitional or not settled
        keystore_ok = platform_store is not None or not p.tls.enabled
        ready = keystore_ok and settled and not transitional
        generation = body["metadata"].get("generation")
        conditions = [
            Condition(
                "Ready",
                ready,
                "Ready" if ready else "RollingOut",
                "All workloads run their current TLS configuration"
                if ready
                else "Waiting for workloads to roll out",
            ),
            Condition(
                "KeystoreReady",
                keystore_ok,
                "KeystoreWritten" if keystore_ok else "TLSDisabled",
                "Keystore Secrets are up to date" if keystore_ok else "TLS is disabled",
            ),
            Condition(
                "ClientAuthEnforced",
                state.phase is Phase.ENFORCED,
                state.phase.value,
                _phase_message(state.phase),
            ),
            Condition(
                "Progressing",
                progressing,
                state.phase.value if transitional else ("RollingOut" if not settled else "Stable"),
                "Rolling out changed TLS content" if progressing else "Nothing to roll",
            ),
        ]
        status: dict[str, Any] = {
            "observedGeneration": generation,
            "clientAuth": state.as_status(),
            "trustedClients": len(containers) + len(desktops) if p.tls.enabled else 0,
        }
        if platform_store is not None:
            identity = platform_store.identity
            status["notAfter"] = _iso(identity.not_after)
            status["renewalTime"] = _iso(renewal_time(identity.certificate, p.tls.renew_before))
            status["certificateFingerprint"] = sha256_fingerprint(identity.certificate)
            if ca is not None:
                status["caFingerprint"] = sha256_fingerprint(ca.certificate)
        status["conditions"] = merge_conditions(old.get("conditions") or [], conditions, generation)
        self._patch_status(body, status)

        for member in containers:
            name = member.spec.name
            store = stores.get(names.tls_secret(name))
            ok = rolled_out(workloads.get(name))
            self._member_status(
                member.body,
                store.identity if store else None,
                ready=ok,
                reason="Ready" if ok else "RollingOut",
                message="Deployment runs its current TLS configuration"
                if ok
                else "Waiting for the Deployment to roll out",
                ca=ca,
                renew_before=p.tls.renew_before,
            )
        platform_rolled = rolled_out(workloads.get(p.name))
        for member in desktops:
            store = stores.get(names.desktop_secret(member.spec.name))
            self._member_status(
                member.body,
                store.identity if store else None,
                ready=platform_rolled,
                reason="Trusted" if platform_rolled else "PlatformRollingOut",
                message=(
                    f"Secret {names.desktop_secret(member.spec.name)} holds the key; "
                    "the platform trusts it"
                )
                if platform_rolled
                else "Waiting for the platform to roll out with the new trust",
                ca=ca,
                renew_before=cert_request_desktop(member.spec).renew_before,
            )

        if progressing:
            return Outcome(requeue_after=ROLLOUT_POLL_SECONDS, writes=run.writes)
        wait = self.resync_seconds
        if run.renewals:
            wait = min(wait, max(1.0, (min(run.renewals) - run.now).total_seconds()))
        return Outcome(requeue_after=wait, writes=run.writes)


def _data_matches(store: PlannedStore, data: Mapping[str, bytes]) -> bool:
    """True when Secret data means what `store` wants: same files, same keystore content."""
    expected = store.data(b"")
    blob_key = next(k for k, v in expected.items() if v == b"")
    if set(data) != set(expected) or blob_key not in data:
        return False
    for key, value in expected.items():
        raw = value.encode() if isinstance(value, str) else value
        if key != blob_key and data[key] != raw:
            return False
    try:
        content = decode_keystore(data[blob_key], store.options)
    except KeystoreError:
        return False
    return content_fingerprint(content, store.options) == store.fingerprint


def ca_common_name(platform: PlatformSpec) -> str:
    """A CA subject within X.509's 64-character limit."""
    return f"pico CA {platform.name} {platform.namespace}"[:64].strip()


def _phase_message(phase: Phase) -> str:
    return {
        Phase.DISABLED: "Client authentication is not required",
        Phase.PREPARING_TRUST: "Distributing keys and trust before requiring client certificates",
        Phase.ENFORCING: "Rolling out pico.rcp.tls.require_clientauth=true",
        Phase.ENFORCED: "Every instance requires a trusted client certificate",
        Phase.RELAXING: "Rolling out pico.rcp.tls.require_clientauth=false",
    }[phase]
