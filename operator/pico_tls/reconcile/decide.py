"""Step 2 of a pass: `decide(snapshot, now)`, pure. Everything the pass will do comes out as
one Decision: objects to write in order (the CA Secret first), status patches, Events, and
when to look again. New keys come from the pass's `KeySupply` (made ahead on every core by
`keysupply.prepare`, or generated here when not prepared); it writes nothing.

Top to bottom: `admission.admit` parses every custom resource once and refuses or leaves out
what cannot be planned; `group_decision.decide_group` makes the key material, advances the
phases and plans the writes; `group_status.report_group` reports; the requeue time comes last."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pico_tls.keystore import KeystoreError
from pico_tls.keystore.parallel import Encoder, encode_serial
from pico_tls.pki.certs import PkiError
from pico_tls.reconcile.admission import CONFIG_ERROR_SECONDS, Admitted, Refused, admit
from pico_tls.reconcile.attachments import detach_orphans
from pico_tls.reconcile.decision import Decision
from pico_tls.reconcile.exclusions import WriteFailure
from pico_tls.reconcile.group_decision import decide_group
from pico_tls.reconcile.group_status import STUCK_SECONDS, GroupOutcome, report_group
from pico_tls.reconcile.keysupply import GENERATE, KeySupply
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.readback import DecodeCache, uncached
from pico_tls.reconcile.report import GroupConfigError, keystore_problem, member_status
from pico_tls.reconcile.revocation import revoke_while_blocked
from pico_tls.reconcile.snapshot import Snapshot
from pico_tls.reconcile.writes import gather_created

ROLLOUT_POLL_SECONDS = 2.0  # the shortest wait for a timed look while something is in progress
# While something rolls out, the watch of the workloads starts the next pass when a rollout
# ends (handlers.owned_changed); this is only the safety net in case an event is lost.
ROLLOUT_SAFETY_SECONDS = 30.0
# A pass that finds every workload rolled out and records the next CA-rotation phase leaves
# the building of that phase to the next pass; no watch event starts that one (the record is
# the operator's own write, and nothing rolls), so it is asked for here.
NEXT_PHASE_SECONDS = 1.0
DEFAULT_RESYNC_SECONDS = 600.0
BLOCKED = "The group is blocked (see the Platform's Ready condition)"


def decide(
    snapshot: Snapshot,
    now: datetime,
    *,
    resync_seconds: float = DEFAULT_RESYNC_SECONDS,
    decoded: DecodeCache = uncached,
    failures: Sequence[WriteFailure] = (),
    keys: KeySupply = GENERATE,
    encoder: Encoder = encode_serial,
) -> Decision:
    """What this pass does for the group in `snapshot`; `decoded` may memoize Secret decoding;
    `failures` are writes the API refused earlier in this pass (their owners are left out);
    `keys` hands out the new keys made ahead (else a new key is generated when needed);
    `encoder` encodes the keystores to write (in worker processes in the operator)."""
    run = PassContext(snapshot, now, decoded, keys, encoder)
    decision = run.decision
    body = snapshot.platform
    if body is None or body["metadata"].get("deletionTimestamp"):
        _orphaned(run)
        detach_orphans(run, snapshot.containers)
        return decision
    detach_orphans(run, (body, *snapshot.containers))
    group = admit(run, body, failures)
    if isinstance(group, Refused):
        if group.revocable:
            revoke_while_blocked(run, body, BLOCKED)
        decision.requeue_after = group.requeue_after
        return decision
    # The user Secrets this group reads: those the snapshot read for it (CA, passwords).
    decision.references = set(snapshot.user_secrets)
    outcome = _decide_group(run, group)
    known = {(f.object_kind, f.object_name) for f in failures}
    found = outcome.oversized if outcome else ()
    oversized = [f for f in found if (f.object_kind, f.object_name) not in known]
    if oversized:  # decided again as if the API had refused them (it would)
        return decide(
            snapshot, now, resync_seconds=resync_seconds, decoded=decoded,
            failures=[*failures, *oversized],
        )  # fmt: skip
    gather_created(decision, body)
    if outcome is None:
        revoke_while_blocked(run, body, BLOCKED)
        decision.requeue_after = CONFIG_ERROR_SECONDS
    elif report_group(run, outcome, group.excluded, group.retried):
        decision.requeue_after = _poll(run, group, outcome)
    else:
        decision.requeue_after = _next_look(group, outcome, now, resync_seconds)
    return decision


def _orphaned(run: PassContext) -> None:
    snapshot = run.snapshot
    for member in (*snapshot.containers, *snapshot.desktops):
        member_status(
            run,
            member,
            None,
            ready=False,
            reason="PlatformNotFound",
            message=f"Platform {snapshot.platform_name} does not exist",
        )


def _decide_group(run: PassContext, group: Admitted) -> GroupOutcome | None:
    """The group's outcome, or None when key material the user must fix stops it (reported)."""
    try:
        try:
            return decide_group(run, group)
        except (PkiError, KeystoreError) as err:  # messages hold no key material
            keystore_problem(run, group.platform, "KeyMaterialError", str(err))
    except GroupConfigError:
        return None


def _poll(run: PassContext, group: Admitted, outcome: GroupOutcome) -> float:
    """Seconds until the next pass while something is in progress: a stuck rollout is looked
    at every minute, a rotation waiting for a left-out member or holding for desktops when
    that can change, the next phase at once when nothing rolls; rollouts come by watch events
    (ROLLOUT_SAFETY_SECONDS: the safety net, also when a StatefulSet passes its deadline, which
    no event announces)."""
    if outcome.stuck(run):
        return STUCK_SECONDS
    retries = [e.retry_at for e in group.excluded.values() if e.retry_at is not None]
    if outcome.rotation_waits_for and retries:
        return max(ROLLOUT_POLL_SECONDS, (min(retries) - run.now).total_seconds())
    if outcome.rotation_holds_until is not None:
        held = (outcome.rotation_holds_until - run.now).total_seconds()
        return max(ROLLOUT_POLL_SECONDS, held)
    if outcome.settled and outcome.next_rotation != outcome.rotation:
        return NEXT_PHASE_SECONDS
    return ROLLOUT_SAFETY_SECONDS


def _next_look(group: Admitted, outcome: GroupOutcome, now: datetime, resync: float) -> float:
    """Seconds until the next pass: the resync, a left-out member's retry, a renewal."""
    wait = resync
    retries = [e.retry_at for e in group.excluded.values() if e.retry_at is not None]
    for moments in (retries, outcome.due):
        if moments:
            wait = min(wait, max(1.0, (min(moments) - now).total_seconds()))
    return wait
