"""The status of a whole platform group after a pass: the Platform's conditions, client auth
and CA rotation phases, each member's status, and the Events of phase changes. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pico_tls.builders import names
from pico_tls.parties import ContainerMember, DesktopMember, PlatformMember, cert_request_desktop
from pico_tls.pki.certs import CertificateAuthority
from pico_tls.plan_model import GroupPlan
from pico_tls.reconcile import reimport
from pico_tls.reconcile.carotation import Rotation, phase_message
from pico_tls.reconcile.clientauth import ClientAuthState, Phase
from pico_tls.reconcile.desktop_trust import desktop_trust, pending_revocations
from pico_tls.reconcile.exclusions import Exclusion, WriteFailure
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.report import (
    certificate_status,
    exclusion_status,
    key_lost_condition,
    member_status,
    set_conditions,
)
from pico_tls.reconcile.rollout import STATEFULSET_DEADLINE, stuck
from pico_tls.reconcile.status import Condition, iso
from pico_tls.spec_model import PlatformSpec

CLIENT_AUTH_MESSAGES = {
    Phase.DISABLED: "Client authentication is not required",
    Phase.PREPARING_TRUST: "Distributing keys and trust before requiring client certificates",
    Phase.ENFORCING: "Rolling out pico.rcp.tls.require_clientauth=true",
    Phase.ENFORCED: "Every instance requires a trusted client certificate",
    Phase.RELAXING: "Rolling out pico.rcp.tls.require_clientauth=false",
}
TRANSITIONAL = (Phase.PREPARING_TRUST, Phase.ENFORCING, Phase.RELAXING)
STUCK_SECONDS = 60.0  # how often a stuck rollout is looked at again


@dataclass(frozen=True)
class GroupOutcome:
    """What the pass decided for the group, as the report needs it."""

    platform: PlatformMember
    containers: Sequence[ContainerMember]
    desktops: Sequence[DesktopMember]
    plan: GroupPlan
    client_auth: ClientAuthState
    rolled_out: Mapping[str, bool]  # workload name -> runs its current template everywhere
    rotation: Rotation | None = None  # the CA rotation phase this pass built
    next_rotation: Rotation | None = None  # the phase the next pass builds (None: done)
    due: tuple[datetime, ...] = ()  # when certificates fall due (renewals, unpinning)
    writing: frozenset[tuple[str, str]] = frozenset()  # (kind, name) of owners written to
    store_size_warning: str | None = None  # the Platform's keystore is near 1 MiB (sizes.py)
    keys_lost: frozenset[tuple[str, str]] = frozenset()  # (kind, name): a new key for a lost one
    rotation_waits_for: tuple[str, ...] = ()  # members left out while their pods run
    rotation_holds_until: datetime | None = None  # TrustBoth holds for desktop re-imports
    oversized: tuple[WriteFailure, ...] = ()  # writes the API would refuse for size

    @property
    def settled(self) -> bool:
        return all(self.rolled_out.values())

    def desktop_trust(self, previous: Mapping[str, str]) -> dict[str, str]:
        """`status.desktopTrust`: what the running Platform pods do with each desktop."""
        p: PlatformSpec = self.platform.spec
        members = [d.spec.name for d in self.desktops] if p.tls.enabled else []
        return desktop_trust(previous, members, self.rolled_out.get(p.name, False))

    def stuck(self, run: PassContext) -> list[str]:
        """Workloads whose rollout will not finish by itself (not written in this pass)."""
        written = {w.name for w in run.decision.writes}
        workloads = run.snapshot.workloads
        return [
            f"{workloads[name]['kind']} {name}"
            for name, done in sorted(self.rolled_out.items())
            if not done and name not in written and stuck(workloads.get(name), run.now)
        ]


def user_ca_expiry_warning(
    p: PlatformSpec, ca: CertificateAuthority | None, now: datetime
) -> str | None:
    """A message when the user's CA expires within the Platform's renewBefore (at least 30
    days); the operator's own CA rotates itself before that."""
    if ca is None or not p.tls.ca_secret_name:
        return None
    not_after = ca.certificate.not_valid_after_utc
    if now < not_after - max(p.tls.renew_before, timedelta(days=30)):
        return None
    return (
        f"The CA in Secret {p.tls.ca_secret_name} expires on {iso(not_after)}: put a new CA "
        "in that Secret (tls.crt, tls.key); the operator rotates to it with trust overlap"
    )


def ca_rotation_events(run: PassContext, outcome: GroupOutcome) -> None:
    """An Event when the CA rotation moves to the phase the next pass builds."""
    current, following = outcome.rotation, outcome.next_rotation
    if current is None or following == current:
        return
    if following is None:
        message = (
            f"CA rotation complete: stores trust only the CA {current.target}; "
            "desktop users re-import their key from its Secret"
        )
    else:
        message = (
            f"CA rotation: {current.phase.value} -> {following.phase.value}: "
            f"{phase_message(following)}"
        )
    run.decision.event(outcome.platform.body, "Normal", "CARotation", message)


def _progressing(
    run: PassContext, outcome: GroupOutcome, rotation: Rotation | None, revoking: Sequence[str]
) -> Condition:
    state = outcome.client_auth
    if rotation is not None and outcome.rotation_waits_for:
        reason = "CARotationWaiting"
        message = (
            f"CA rotation waits in {rotation.phase.value} for "
            f"{', '.join(outcome.rotation_waits_for)}: left out (see excludedMembers) while "
            "its pods run, so its store lags behind; fix or delete it and the rotation goes on"
        )
        body = outcome.platform.body
        known = {c.get("type"): c for c in (body.get("status") or {}).get("conditions") or []}
        if (known.get("Progressing") or {}).get("message") != message:
            run.decision.event(body, "Warning", reason, message)
    elif rotation is not None and outcome.rotation_holds_until is not None:
        reason = "CARotationHolding"
        message = (
            f"CA rotation holds in TrustBoth until {iso(outcome.rotation_holds_until)} "
            "(tls.desktopReimportPeriod) or until every desktop acknowledged its re-import "
            f"({names.REIMPORTED}={rotation.target}); not yet: "
            f"{', '.join(reimport.waiting_desktops(run, rotation))}"
        )
    elif rotation is not None:
        reason, message = f"CARotation{rotation.phase.value}", phase_message(rotation)
    elif revoking:
        reason = "RevocationPending"
        message = (
            f"Revoking desktop {', '.join(revoking)}: the Platform rolls out without "
            "its certificates; until then a running Platform pod may still trust it"
        )
    elif state.phase in TRANSITIONAL:
        reason, message = state.phase.value, "Rolling out changed TLS content"
    elif not outcome.settled:
        reason, message = "RollingOut", "Rolling out changed TLS content"
    else:
        reason, message = "Stable", "Nothing to roll"
    progressing = (
        state.phase in TRANSITIONAL or not outcome.settled or rotation is not None or bool(revoking)
    )
    return Condition("Progressing", progressing, reason, message)


def _keystore_condition(
    run: PassContext,
    body: Mapping[str, Any],
    p: PlatformSpec,
    ca: CertificateAuthority | None,
    size_warning: str | None,
    lost: Condition | None = None,
) -> Condition:
    """KeystoreReady; warns (condition message and one Event) when a user's CA, which the
    operator cannot renew, expires within the renewal window, or the Platform's keystore
    Secret nears the API's size limit."""
    expiry = user_ca_expiry_warning(p, ca, run.now)
    reason = "CAExpiringSoon"
    if expiry is None and size_warning is not None:
        expiry, reason = size_warning, "StoreNearLimit"
    if expiry is None:
        return lost or Condition(
            "KeystoreReady", True, "KeystoreWritten", "Keystore Secrets are up to date"
        )
    known = {c.get("type"): c for c in (body.get("status") or {}).get("conditions") or []}
    if (known.get("KeystoreReady") or {}).get("message") != expiry:
        run.decision.event(body, "Warning", reason, expiry)
    return Condition("KeystoreReady", True, reason, expiry)


def _waiting(run: PassContext, body: Mapping[str, Any], outcome: GroupOutcome) -> Condition:
    """Ready=False while workloads roll out, RolloutStuck (one Warning) when one cannot."""
    stuck_ones = outcome.stuck(run)
    if not stuck_ones:
        return Condition("Ready", False, "RollingOut", "Waiting for workloads to roll out")
    bound = STATEFULSET_DEADLINE.total_seconds() / 60
    message = (
        f"{', '.join(stuck_ones)}: rollout stuck (progress deadline exceeded; a StatefulSet: "
        f"not rolled out {bound:.0f} min after its update); see kubectl describe and its "
        f"pods; looked at again every {STUCK_SECONDS:.0f} s"
    )
    known = {c.get("type"): c for c in (body.get("status") or {}).get("conditions") or []}
    if (known.get("Ready") or {}).get("message") != message:
        run.decision.event(body, "Warning", "RolloutStuck", message)
    return Condition("Ready", False, "RolloutStuck", message)


def report_group(
    run: PassContext,
    outcome: GroupOutcome,
    excluded: Mapping[tuple[str, str], Exclusion],
    retried: Mapping[tuple[str, str], Exclusion],
) -> bool:
    """Status of the Platform and its members (`excluded`: members left out, `retried`:
    members retried after a refused write); True while something is still rolling out."""
    platform = outcome.platform
    p: PlatformSpec = platform.spec
    body = platform.body
    state = outcome.client_auth
    old_phase = ((body.get("status") or {}).get("clientAuth") or {}).get("phase")
    if old_phase is not None and old_phase != state.phase.value:
        message = f"Required client authentication: {old_phase} -> {state.phase.value}"
        run.decision.event(body, "Normal", "ClientAuth", message)
    ca_rotation_events(run, outcome)
    stores = {s.name: s for s in outcome.plan.stores}
    platform_store = stores.get(names.tls_secret(p.name))
    ca = platform_store.ca if platform_store else None
    keystore_ok = platform_store is not None or not p.tls.enabled
    ready = keystore_ok and outcome.settled and state.phase not in TRANSITIONAL
    trust = outcome.desktop_trust((body.get("status") or {}).get("desktopTrust") or {})
    progressing = _progressing(run, outcome, outcome.next_rotation, pending_revocations(trust))
    waiting = _waiting(run, body, outcome)
    members, listed = exclusion_status(excluded, retried, outcome.writing)
    lost = (  # the Platform's own key
        key_lost_condition(body, platform_store.identity, ("Platform", p.name) in outcome.keys_lost)
        if platform_store
        else None
    )
    conditions = [
        Condition("Ready", True, "Ready", "All workloads run their current TLS configuration")
        if ready
        else waiting,
        _keystore_condition(run, body, p, ca, outcome.store_size_warning, lost)
        if keystore_ok
        else Condition("KeystoreReady", False, "TLSDisabled", "TLS is disabled"),
        Condition(
            "ClientAuthEnforced",
            state.phase is Phase.ENFORCED,
            state.phase.value,
            CLIENT_AUTH_MESSAGES[state.phase],
        ),
        progressing,
        members,
    ]
    rotation = outcome.next_rotation
    status: dict[str, Any] = {
        "clientAuth": state.as_status(),
        "trustedClients": len(outcome.containers) + len(outcome.desktops) if p.tls.enabled else 0,
        "desktopTrust": trust,
        "caRotation": rotation.as_status() if rotation is not None else None,
        **listed,
    }
    if platform_store is not None:
        status |= certificate_status(body, platform_store.identity, ca, p.tls.renew_before)
    set_conditions(run, body, conditions, status)
    _report_members(run, outcome, ca)
    return progressing.status


def _report_members(
    run: PassContext, outcome: GroupOutcome, ca: CertificateAuthority | None
) -> None:
    p: PlatformSpec = outcome.platform.spec
    stores = {s.name: s for s in outcome.plan.stores}
    for member in outcome.containers:
        name = member.spec.name
        store = stores.get(names.tls_secret(name))
        ok = outcome.rolled_out.get(name, False)
        member_status(
            run,
            member.body,
            store.identity if store else None,
            ready=ok,
            reason="Ready" if ok else "RollingOut",
            message="Deployment runs its current TLS configuration"
            if ok
            else "Waiting for the Deployment to roll out",
            ca=ca,
            renew_before=p.tls.renew_before,
            key_lost=("ExecutionContainer", member.spec.name) in outcome.keys_lost,
        )
    platform_rolled = outcome.rolled_out.get(p.name, False)
    for desktop in outcome.desktops:
        secret = names.desktop_secret(desktop.spec.name)
        store = stores.get(secret)
        member_status(
            run,
            desktop.body,
            store.identity if store else None,
            ready=platform_rolled,
            reason="Trusted" if platform_rolled else "PlatformRollingOut",
            message=f"Secret {secret} holds the key; the platform trusts it"
            if platform_rolled
            else "Waiting for the platform to roll out with the new trust",
            ca=ca,
            renew_before=cert_request_desktop(desktop.spec).renew_before,
            key_lost=("DesktopClient", desktop.spec.name) in outcome.keys_lost,
        )
