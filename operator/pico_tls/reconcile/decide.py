"""Step 2 of a pass: `decide(snapshot, now)`, pure. Everything the pass will do comes out as
one Decision: objects to write in order (the CA Secret first), status patches, Events, and
when to look again. Key generation happens here too; it writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pico_tls.keystore import KeystoreError
from pico_tls.parties import Member
from pico_tls.pki.certs import PkiError
from pico_tls.reconcile.clashes import NAME_CLASH, name_clash
from pico_tls.reconcile.decision import Decision
from pico_tls.reconcile.exclusions import (
    WRITE_FAILED,
    WriteFailure,
    member_message,
    write_exclusions,
)
from pico_tls.reconcile.existing import DecodeCache, uncached
from pico_tls.reconcile.group_plan import plan_group
from pico_tls.reconcile.group_status import STUCK_SECONDS, report_group
from pico_tls.reconcile.passes import Pass
from pico_tls.reconcile.report import (
    GroupConfigError,
    keystore_problem,
    member_status,
    platform_write_failed,
    reject,
)
from pico_tls.reconcile.revocation import revoke_while_blocked
from pico_tls.reconcile.snapshot import Body, Snapshot
from pico_tls.spec import SpecError, parse_container, parse_desktop, parse_platform

ROLLOUT_POLL_SECONDS = 2.0  # while something rolls out
CONFIG_ERROR_SECONDS = 60.0
DEFAULT_RESYNC_SECONDS = 600.0
BLOCKED = "The group is blocked (see the Platform's Ready condition)"


def decide(
    snapshot: Snapshot,
    now: datetime,
    *,
    resync_seconds: float = DEFAULT_RESYNC_SECONDS,
    decoded: DecodeCache = uncached,
    failures: Sequence[WriteFailure] = (),
) -> Decision:
    """What this pass does for the group in `snapshot`; `decoded` may memoize Secret decoding;
    `failures` are writes the API refused earlier in this pass (their owners are left out)."""
    run = Pass(snapshot, now, decoded=decoded)
    body = snapshot.platform
    if body is None or body["metadata"].get("deletionTimestamp"):
        for member in (*snapshot.containers, *snapshot.desktops):
            member_status(
                run,
                member,
                None,
                ready=False,
                reason="PlatformNotFound",
                message=f"Platform {snapshot.platform_name} does not exist",
            )
        return run.decision
    everyone = (*snapshot.platforms, *snapshot.namespace_members)
    clash = name_clash(body, everyone, snapshot.existing)
    if clash is not None:
        reject(run, body, clash, NAME_CLASH)
        run.decision.requeue_after = CONFIG_ERROR_SECONDS
        return run.decision
    try:
        platform = Member(body, parse_platform(body))
    except SpecError as err:
        reject(run, body, str(err))
        revoke_while_blocked(run, body, BLOCKED)
        return run.decision
    refused = [f for f in failures if f.owner_kind == "Platform"]
    if refused:
        platform_write_failed(run, body, refused[0])
        run.decision.requeue_after = CONFIG_ERROR_SECONDS
        return run.decision
    _exclude_refused(run, body, failures)
    containers = _parse(
        run,
        _without_name_clashes(run, _not_excluded(run, snapshot.containers)),
        lambda b: parse_container(b, platform.spec),  # checked against its delivery form
    )
    desktops = _parse(
        run, _without_name_clashes(run, _not_excluded(run, snapshot.desktops)), parse_desktop
    )
    run.decision.references = set(_references(platform, desktops))
    try:
        try:
            outcome = plan_group(run, platform, containers, desktops)
        except (PkiError, KeystoreError) as err:  # messages hold no key material
            keystore_problem(run, platform, "KeyMaterialError", str(err))
    except GroupConfigError:
        revoke_while_blocked(run, body, BLOCKED)
        run.decision.requeue_after = CONFIG_ERROR_SECONDS
        return run.decision
    retries = [e.retry_at for e in run.excluded.values() if e.retry_at is not None]
    until_retry = max(1.0, (min(retries) - run.now).total_seconds()) if retries else None
    if report_group(run, outcome):
        if outcome.stuck(run):
            run.decision.requeue_after = STUCK_SECONDS
        elif run.rotation_waits_for and until_retry is not None:  # nothing moves before
            run.decision.requeue_after = max(ROLLOUT_POLL_SECONDS, until_retry)
        elif run.rotation_holds_until is not None:
            held = (run.rotation_holds_until - run.now).total_seconds()
            run.decision.requeue_after = max(ROLLOUT_POLL_SECONDS, held)
        else:
            run.decision.requeue_after = ROLLOUT_POLL_SECONDS
        return run.decision
    wait = resync_seconds
    if until_retry is not None:
        wait = min(wait, until_retry)
    if run.renewals:
        wait = min(wait, max(1.0, (min(run.renewals) - run.now).total_seconds()))
    run.decision.requeue_after = wait
    return run.decision


def _exclude_refused(run: Pass, platform: Body, failures: Sequence[WriteFailure]) -> None:
    """Members whose writes the API refused (now, or recorded and not yet due for a retry)
    are left out: Ready=False on the member, one Warning Event per new message."""
    members = (*run.snapshot.containers, *run.snapshot.desktops)
    excluded, run.retried = write_exclusions(platform, members, failures, run.now)
    by_key = {(m["kind"], m["metadata"]["name"]): m for m in members}
    for key, entry in excluded.items():
        reject(run, by_key[key], member_message(entry), WRITE_FAILED)
        run.excluded[key] = entry  # with its retry time


def _not_excluded(run: Pass, bodies: Sequence[Body]) -> list[Body]:
    return [b for b in bodies if (b["kind"], b["metadata"]["name"]) not in run.excluded]


def _without_name_clashes(run: Pass, bodies: Sequence[Body]) -> list[Body]:
    """Members that would write an object another resource of the namespace owns (or an
    older one would write too) are refused before anything is written (clashes.py)."""
    snapshot = run.snapshot
    everyone = (*snapshot.platforms, *snapshot.namespace_members)
    kept = []
    for body in bodies:
        clash = name_clash(body, everyone, snapshot.existing)
        if clash is None:
            kept.append(body)
        else:
            reject(run, body, clash, NAME_CLASH)
    return kept


def _parse(run: Pass, bodies: Sequence[Body], parse: Callable[[Any], Any]) -> list[Member]:
    members = []
    for body in bodies:
        try:
            members.append(Member(body, parse(body)))
        except SpecError as err:
            reject(run, body, str(err))
    return members


def _references(platform: Member, desktops: Sequence[Member]) -> list[str]:
    """The user Secrets (CA, passwords) this group reads."""
    tls = platform.spec.tls
    found = [tls.ca_secret_name, tls.password_secret_name]
    found += [d.spec.password_secret_name for d in desktops]
    return sorted({str(n) for n in found if n})
