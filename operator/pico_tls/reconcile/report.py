"""Status and Events for one custom resource: rejections, key material problems, a member's
status. Pure: everything goes into the pass's Decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from pico_tls.builders import names
from pico_tls.material import Identity, renewal_time
from pico_tls.parties import Member
from pico_tls.pki.certs import CertificateAuthority, sha256_fingerprint
from pico_tls.reconcile.passes import Pass
from pico_tls.reconcile.status import Condition, iso, merge_conditions

Body = Mapping[str, Any]


class GroupConfigError(Exception):
    """The group cannot be reconciled until the user fixes something; already reported."""


def _known(body: Body, condition_type: str) -> Mapping[str, Any]:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == condition_type), {})


def set_conditions(
    run: Pass, body: Body, conditions: Sequence[Condition], status: Mapping[str, Any] | None = None
) -> None:
    """Record `status` with `conditions` merged into the body's (only if anything changes)."""
    generation = body["metadata"].get("generation")
    old = (body.get("status") or {}).get("conditions") or []
    merged = merge_conditions(old, conditions, generation, run.now)
    run.decision.status(
        body, {"observedGeneration": generation, **(status or {}), "conditions": merged}
    )


def reject(run: Pass, body: Body, message: str) -> None:
    """Report a spec the operator cannot act on (one Warning Event per message)."""
    if _known(body, "Ready").get("message") != message:
        run.decision.event(body, "Warning", "InvalidSpec", message)
    set_conditions(run, body, [Condition("Ready", False, "InvalidSpec", message)])


def keystore_problem(run: Pass, platform: Member, reason: str, message: str) -> NoReturn:
    """Report key material the user must fix, then stop deciding (GroupConfigError)."""
    body = platform.body
    if _known(body, "KeystoreReady").get("message") != message:
        run.decision.event(body, "Warning", reason, message)
    set_conditions(
        run,
        body,
        [
            Condition("Ready", False, reason, message),
            Condition("KeystoreReady", False, reason, message),
        ],
    )
    raise GroupConfigError(message)


def certificate_status(
    body: Body,
    identity: Identity,
    ca: CertificateAuthority | None,
    renew_before: timedelta | None,
) -> dict[str, Any]:
    """The status fields that describe a party's certificate (no secret in them)."""
    status: dict[str, Any] = {"notAfter": iso(identity.not_after)}
    if renew_before is not None:
        status["renewalTime"] = iso(renewal_time(identity.certificate, renew_before))
    status["certificateFingerprint"] = sha256_fingerprint(identity.certificate)
    if ca is not None:
        status["caFingerprint"] = sha256_fingerprint(ca.certificate)
    wanted = (body["metadata"].get("annotations") or {}).get(names.RENEW)
    if wanted:  # the `picotls.dev/renew` value this pass acted on (its certificate is written)
        status["renewRequest"] = str(wanted)
    return status


def member_status(
    run: Pass,
    body: Body,
    identity: Identity | None,
    *,
    ready: bool,
    reason: str,
    message: str,
    ca: CertificateAuthority | None = None,
    renew_before: timedelta | None = None,
) -> None:
    conditions = [Condition("Ready", ready, reason, message)]
    status: dict[str, Any] = {}
    if identity is not None:
        conditions.append(
            Condition("KeystoreReady", True, "KeystoreWritten", "Keystore Secret is up to date")
        )
        status = certificate_status(body, identity, ca, renew_before)
    set_conditions(run, body, conditions, status)
