"""Status and Events for one custom resource: rejections, key material problems, a member's
status. Pure: everything goes into the pass's Decision."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from pico_tls.builders import names
from pico_tls.material import Identity, renewal_time
from pico_tls.parties import PlatformMember
from pico_tls.pki.certs import CertificateAuthority, sha256_fingerprint
from pico_tls.reconcile.exclusions import WRITE_FAILED, Exclusion, WriteFailure, summary
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.status import Condition, iso, merge_conditions, with_kstatus

Body = Mapping[str, Any]
INVALID_SPEC = "InvalidSpec"
KEY_LOST = "KeyLost"  # a key in use held by no Secret any more: a new one was made
# Member reasons the user has something to fix (a Warning Event besides the condition).
WARNED = {"PlatformNotFound"}


class GroupConfigError(Exception):
    """The group cannot be reconciled until the user fixes something; already reported."""


def _known(body: Body, condition_type: str) -> Mapping[str, Any]:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == condition_type), {})


def set_conditions(
    run: PassContext,
    body: Body,
    conditions: Sequence[Condition],
    status: Mapping[str, Any] | None = None,
    *,
    stalled: bool = False,
) -> None:
    """Record `status` with `conditions` (and kstatus's Reconciling and Stalled: `stalled`
    when only the user can fix what Ready says) merged into the body's, if anything changes."""
    generation = body["metadata"].get("generation")
    old = (body.get("status") or {}).get("conditions") or []
    merged = merge_conditions(old, with_kstatus(conditions, stalled), generation, run.now)
    run.decision.status(
        body, {"observedGeneration": generation, **(status or {}), "conditions": merged}
    )


def record_started(
    run: PassContext, body: Body, status: Mapping[str, Any], reason: str, message: str
) -> None:
    """Record a phase that starts before anything is written (`status`), with Reconciling=True
    beside it, so no reader sees the new phase next to conditions saying nothing is going on;
    the pass's full status follows."""
    old = (body.get("status") or {}).get("conditions") or []
    generation = body["metadata"].get("generation")
    started = Condition("Reconciling", True, reason, message)
    kept = [c for c in old if c.get("type") != started.type]
    merged = merge_conditions(old, [started], generation, run.now)
    run.decision.status(body, {**status, "conditions": [*kept, *merged]})


def reject(run: PassContext, body: Body, message: str, reason: str = INVALID_SPEC) -> None:
    """Report a spec (or a member's objects) the operator cannot act on: Ready=False and one
    Warning Event per new message (a member left out is listed on its Platform by
    `exclusion_status`)."""
    if _known(body, "Ready").get("message") != message:
        run.decision.event(body, "Warning", reason, message)
    set_conditions(run, body, [Condition("Ready", False, reason, message)], stalled=True)


def platform_write_failed(
    run: PassContext, body: Body, failure: WriteFailure, note: str = ""
) -> None:
    """A write of the Platform's own objects the API refused: Ready=False, one Warning Event
    per new message (`note` adds to it); the pass stops and is retried with backoff."""
    message = (
        f"{failure.describe()}; nothing more is written until it succeeds (retried with "
        f"backoff){note}"
    )
    if _known(body, "Ready").get("message") != message:
        run.decision.event(body, "Warning", WRITE_FAILED, message)
    set_conditions(run, body, [Condition("Ready", False, WRITE_FAILED, message)], stalled=True)


def exclusion_status(
    excluded: Mapping[tuple[str, str], Exclusion],
    retried: Mapping[tuple[str, str], Exclusion],
    writing: Collection[tuple[str, str]],
) -> tuple[Condition, dict[str, Any]]:
    """The Platform's MembersReady condition and `excludedMembers`: members left out now, and
    members retried after a refused write until a pass finds nothing of theirs to write
    (`writing`: the owners of the objects this pass writes)."""
    pending = [e for key, e in retried.items() if key in writing]
    entries = sorted([*excluded.values(), *pending], key=lambda e: e.key)
    if not entries:
        condition = Condition("MembersReady", True, "AllMembersIncluded", "No member left out")
        return condition, {"excludedMembers": None}
    condition = Condition("MembersReady", False, "MembersExcluded", summary(entries))
    return condition, {"excludedMembers": [e.as_status() for e in entries]}


def keystore_problem(
    run: PassContext, platform: PlatformMember, reason: str, message: str
) -> NoReturn:
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
        stalled=True,
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


def key_lost_condition(body: Body, identity: Identity, lost: bool) -> Condition | None:
    """KeystoreReady with reason KeyLost: in the pass that made a new key for a lost one, and
    after it while the certificate in use is still the one made then."""
    fingerprint = sha256_fingerprint(identity.certificate)
    if lost:
        message = (
            f"The key was lost (no Secret held a readable one any more): made a new key, "
            f"certificate {fingerprint}; peers trust it once they rolled out"
        )
        return Condition("KeystoreReady", True, KEY_LOST, message)
    before = _known(body, "KeystoreReady")
    recorded = (body.get("status") or {}).get("certificateFingerprint")
    if before.get("reason") == KEY_LOST and recorded == fingerprint:
        return Condition("KeystoreReady", True, KEY_LOST, str(before.get("message") or ""))
    return None


def member_status(
    run: PassContext,
    body: Body,
    identity: Identity | None,
    *,
    ready: bool,
    reason: str,
    message: str,
    ca: CertificateAuthority | None = None,
    renew_before: timedelta | None = None,
    key_lost: bool = False,
) -> None:
    if reason in WARNED and _known(body, "Ready").get("message") != message:
        run.decision.event(body, "Warning", reason, message)  # once per new message
    conditions = [Condition("Ready", ready, reason, message)]
    status: dict[str, Any] = {}
    if identity is not None:
        conditions.append(
            key_lost_condition(body, identity, key_lost)
            or Condition("KeystoreReady", True, "KeystoreWritten", "Keystore Secret is up to date")
        )
        status = certificate_status(body, identity, ca, renew_before)
    set_conditions(run, body, conditions, status)
