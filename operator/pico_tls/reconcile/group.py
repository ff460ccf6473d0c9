"""Reconcile one platform group: a Platform with its ExecutionContainers and DesktopClients.

Level-triggered: every pass reads the group, resolves key material (keeping what exists),
builds the desired objects and writes only those whose meaning differs from what is there.
Writing lives in `writes`, status and Events in `report`, workload checks in `rollout`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
from pico_tls.material import Identity
from pico_tls.pki.certs import PkiError
from pico_tls.plan import (
    GroupPlan,
    Member,
    build_group,
    uses_ca,
)
from pico_tls.reconcile import carotation
from pico_tls.reconcile.clientauth import ClientAuthState, next_state
from pico_tls.reconcile.keymaterial import KeyMaterial
from pico_tls.reconcile.passes import Pass
from pico_tls.reconcile.report import GroupConfigError, StatusReporter
from pico_tls.reconcile.rollout import by_name, rolled_out, template_hash
from pico_tls.reconcile.writes import Decoder, GroupWriter
from pico_tls.spec import (
    PlatformSpec,
    SpecError,
    parse_container,
    parse_desktop,
    parse_platform,
)

log = logging.getLogger(__name__)

_MISSING = object()
ROLLOUT_POLL_SECONDS = 2.0


@dataclass
class Outcome:
    """What a pass did, and when the group wants another look (seconds)."""

    requeue_after: float | None = None
    writes: int = 0


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
        self.material = KeyMaterial(kube, self.reporter, self.writer, self._cached)

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
        run = Pass(namespace, platform_name, now or datetime.now(UTC))
        platforms = self.kube.list_objects(PLATFORM, namespace)
        body = next((p for p in platforms if p["metadata"]["name"] == platform_name), None)
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
        platform_names = {p["metadata"]["name"] for p in platforms}
        containers = self._parse_members(
            self._without_name_clashes(containers_all, platform_names),
            lambda b: parse_container(b, platform.spec),  # checked against its delivery form
        )
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
        self.reporter.ca_rotation_events(platform, run.rotation, run.next_rotation)
        progressing = self.reporter.report(
            platform, containers, desktops, plan, state, workloads, settled, run.next_rotation
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

    def _without_name_clashes(
        self, containers: Sequence[dict[str, Any]], platform_names: set[str]
    ) -> list[dict[str, Any]]:
        """ExecutionContainers named like a Platform of the namespace are refused: both would
        write the Secrets and ConfigMap `<name>-rcp-tls`."""
        kept = []
        for body in containers:
            name = body["metadata"]["name"]
            if name in platform_names:
                self.reporter.reject(
                    body,
                    f"ExecutionContainer {name} has the name of a Platform in this namespace; "
                    f"both would write Secret and ConfigMap {name}-rcp-tls: rename one of them",
                )
            else:
                kept.append(body)
        return kept

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
        run: Pass,
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

        ca = self.material.ca(run, platform) if p.tls.enabled and uses_ca(p) else None
        run.rotation = self.material.rotation(run, platform, ca) if ca is not None else None
        identities = (
            self.material.identities(run, platform, containers, desktops, ca)
            if p.tls.enabled
            else {}
        )
        previous_cas = run.rotation.trusted_previous if run.rotation else ()

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
            previous_cas=previous_cas,
        )
        material_settled = all(
            template_hash(run.workloads.get(name)) == digest
            for name, digest in probe.mounted_hashes.items()
        )
        all_rolled = all(rolled_out(run.workloads.get(name)) for name in probe.mounted_hashes)
        # The next rotation phase is built by the next pass, once this one runs everywhere.
        run.next_rotation = carotation.advance(run.rotation, material_settled and all_rolled)
        state = next_state(
            desired,
            effective,
            workloads_exist=p.name in run.workloads,
            material_settled=material_settled,
            rolled_out=all_rolled,
        )
        promoted = self._promote_staged(platform, identities, material_settled and all_rolled)
        if state.effective == current_flag and not promoted:
            return probe, state
        plan = build_group(
            platform,
            containers,
            desktops,
            ca=ca,
            identities=identities | promoted,
            require_client_auth=state.effective,
            previous_cas=previous_cas,
        )
        return plan, state

    def _promote_staged(
        self, platform: Member, identities: Mapping[str, Identity], settled: bool
    ) -> dict[str, Identity]:
        """Staged certificates go into use once every workload pins them (runs this plan)."""
        staged = sorted(k for k, identity in identities.items() if identity.next is not None)
        if not staged or not settled:
            return {}
        self.kube.event(
            platform.body,
            "Normal",
            "CertificatesPromoted",
            f"Every peer trusts the renewed certificates of {', '.join(staged)}; now in use",
        )
        return {k: identities[k].promoted() for k in staged}
