"""Status and Events for a platform group: what the user sees on each custom resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from pico_tls.builders import names
from pico_tls.kube import CONTAINER, DESKTOP, PLATFORM, Kube
from pico_tls.material import Identity, renewal_time
from pico_tls.pki.certs import CertificateAuthority, sha256_fingerprint
from pico_tls.plan import GroupPlan, Member, cert_request_desktop
from pico_tls.reconcile.carotation import Rotation, phase_message
from pico_tls.reconcile.clientauth import ClientAuthState, Phase
from pico_tls.reconcile.rollout import rolled_out
from pico_tls.reconcile.status import Condition, merge_conditions, status_changed
from pico_tls.spec import PlatformSpec


class GroupConfigError(Exception):
    """The group cannot be reconciled until the user fixes something; already reported."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _phase_message(phase: Phase) -> str:
    return {
        Phase.DISABLED: "Client authentication is not required",
        Phase.PREPARING_TRUST: "Distributing keys and trust before requiring client certificates",
        Phase.ENFORCING: "Rolling out pico.rcp.tls.require_clientauth=true",
        Phase.ENFORCED: "Every instance requires a trusted client certificate",
        Phase.RELAXING: "Rolling out pico.rcp.tls.require_clientauth=false",
    }[phase]


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
        f"The CA in Secret {p.tls.ca_secret_name} expires on {_iso(not_after)}: put a new CA "
        "in that Secret (tls.crt, tls.key); the operator rotates to it with trust overlap"
    )


def _renew_acted_on(body: Mapping[str, Any]) -> dict[str, str]:
    """Record the `picotls.dev/renew` value this pass acted on (its certificate is written)."""
    wanted = (body["metadata"].get("annotations") or {}).get(names.RENEW)
    return {"renewRequest": str(wanted)} if wanted else {}


def _progressing(
    progressing: bool,
    state: ClientAuthState,
    transitional: bool,
    settled: bool,
    rotation: Rotation | None,
) -> Condition:
    if rotation is not None:
        reason, message = f"CARotation{rotation.phase.value}", phase_message(rotation)
    elif transitional:
        reason, message = state.phase.value, "Rolling out changed TLS content"
    elif not settled:
        reason, message = "RollingOut", "Rolling out changed TLS content"
    else:
        reason, message = "Stable", "Nothing to roll"
    return Condition("Progressing", progressing, reason, message)


class StatusReporter:
    """Writes status (only when it changed) and Events for the group's custom resources."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def patch_status(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        if not status_changed(body.get("status") or {}, status):
            return
        kind = {"Platform": PLATFORM, "ExecutionContainer": CONTAINER, "DesktopClient": DESKTOP}[
            body["kind"]
        ]
        meta = body["metadata"]
        self.kube.patch_status(kind, meta["namespace"], meta["name"], status)

    def reject(self, body: Mapping[str, Any], message: str) -> None:
        """Report a spec the operator cannot act on, once per message."""
        old = body.get("status") or {}
        known = [c for c in old.get("conditions") or [] if c.get("type") == "Ready"]
        if not known or known[0].get("message") != message:
            self.kube.event(body, "Warning", "InvalidSpec", message)
        self.patch_status(
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

    def keystore_problem(self, platform: Member, reason: str, message: str) -> NoReturn:
        """Report key material the user must fix, then stop the pass (GroupConfigError)."""
        body = platform.body
        old = body.get("status") or {}
        known = {c.get("type"): c for c in old.get("conditions") or []}
        if (known.get("KeystoreReady") or {}).get("message") != message:
            self.kube.event(body, "Warning", reason, message)
        self.patch_status(
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

    def member_status(
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
            status |= _renew_acted_on(body)
        status["conditions"] = merge_conditions(old.get("conditions") or [], conditions, generation)
        self.patch_status(body, status)

    def ca_rotation_events(
        self, platform: Member, current: Rotation | None, following: Rotation | None
    ) -> None:
        """An Event when the CA rotation moves to the phase the next pass builds (`report`
        records that phase in status)."""
        body = platform.body
        if current is not None and following != current:
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
            self.kube.event(body, "Normal", "CARotation", message)

    def _keystore_condition(
        self,
        body: Mapping[str, Any],
        p: PlatformSpec,
        keystore_ok: bool,
        ca: CertificateAuthority | None,
    ) -> Condition:
        """KeystoreReady; warns (condition message and one Event) when a user's CA, which the
        operator cannot renew, expires within the renewal window."""
        if not keystore_ok:
            return Condition("KeystoreReady", False, "TLSDisabled", "TLS is disabled")
        expiry = user_ca_expiry_warning(p, ca, datetime.now(UTC))
        if expiry is None:
            return Condition(
                "KeystoreReady", True, "KeystoreWritten", "Keystore Secrets are up to date"
            )
        known = {c.get("type"): c for c in (body.get("status") or {}).get("conditions") or []}
        if (known.get("KeystoreReady") or {}).get("message") != expiry:
            self.kube.event(body, "Warning", "CAExpiringSoon", expiry)
        return Condition("KeystoreReady", True, "CAExpiringSoon", expiry)

    def report(
        self,
        platform: Member,
        containers: Sequence[Member],
        desktops: Sequence[Member],
        plan: GroupPlan,
        state: ClientAuthState,
        workloads: Mapping[str, Mapping[str, Any]],
        settled: bool,
        rotation: Rotation | None = None,
    ) -> bool:
        """Write the group's status after a pass; True while something is still rolling out."""
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
        progressing = transitional or not settled or rotation is not None
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
            self._keystore_condition(body, p, keystore_ok, ca),
            Condition(
                "ClientAuthEnforced",
                state.phase is Phase.ENFORCED,
                state.phase.value,
                _phase_message(state.phase),
            ),
            _progressing(progressing, state, transitional, settled, rotation),
        ]
        status: dict[str, Any] = {
            "observedGeneration": generation,
            "clientAuth": state.as_status(),
            "trustedClients": len(containers) + len(desktops) if p.tls.enabled else 0,
            "caRotation": rotation.as_status() if rotation is not None else None,
        }
        if platform_store is not None:
            identity = platform_store.identity
            status["notAfter"] = _iso(identity.not_after)
            status["renewalTime"] = _iso(renewal_time(identity.certificate, p.tls.renew_before))
            status["certificateFingerprint"] = sha256_fingerprint(identity.certificate)
            if ca is not None:
                status["caFingerprint"] = sha256_fingerprint(ca.certificate)
            status |= _renew_acted_on(body)
        status["conditions"] = merge_conditions(old.get("conditions") or [], conditions, generation)
        self.patch_status(body, status)

        for member in containers:
            name = member.spec.name
            store = stores.get(names.tls_secret(name))
            ok = rolled_out(workloads.get(name))
            self.member_status(
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
            self.member_status(
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
        return progressing
