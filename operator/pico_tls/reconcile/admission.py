"""The first half of `decide`, top to bottom: parse every custom resource of the group once,
refuse the Platform or leave out the members that cannot be planned (a refused write, a name
clash, an invalid spec or password Secret), and say so in their status. Pure: what it
refuses goes into the pass's Decision, what it admits comes back as `Admitted`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pico_tls.material import Passwords
from pico_tls.parties import ContainerMember, DesktopMember, Member, PlatformMember
from pico_tls.reconcile import attachments, revocation
from pico_tls.reconcile.clashes import NAME_CLASH, name_clash
from pico_tls.reconcile.exclusions import (
    WRITE_FAILED,
    Exclusion,
    WriteFailure,
    member_message,
    write_exclusions,
)
from pico_tls.reconcile.identities import user_passwords
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.report import INVALID_SPEC, platform_write_failed, reject
from pico_tls.reconcile.snapshot import Body, Snapshot
from pico_tls.spec import SpecError, parse_container, parse_desktop, parse_platform

CONFIG_ERROR_SECONDS = 60.0  # while the user has something to fix
MemberKey = tuple[str, str]  # (kind, name)


@dataclass(frozen=True)
class Admitted:
    """The group as it is planned: the Platform and the members not left out."""

    platform: PlatformMember
    containers: tuple[ContainerMember, ...]
    desktops: tuple[DesktopMember, ...]
    desktop_passwords: Mapping[str, Passwords | None]  # from each desktop's password Secret
    # Members left out now (with a retry time after a refused write), and members retried
    # after a refused write, whose record stays in the Platform's status until they converge.
    excluded: Mapping[MemberKey, Exclusion]
    retried: Mapping[MemberKey, Exclusion]


@dataclass(frozen=True)
class Refused:
    """The Platform itself cannot be planned (already reported)."""

    requeue_after: float | None
    # Its objects are the Platform's own (not a name clash): a revocation may still be written.
    revocable: bool = False


def admit(run: PassContext, body: Body, failures: Sequence[WriteFailure]) -> Admitted | Refused:
    platform = _platform(run, body, failures)
    if isinstance(platform, Refused):
        return platform
    snapshot = run.snapshot
    containers = {
        _key(b): _parsed(b, lambda b: parse_container(b, platform.spec))  # its delivery form
        for b in snapshot.containers
    }
    desktops = {_key(b): _parsed(b, parse_desktop) for b in snapshot.desktops}
    excluded, retried = write_exclusions(
        body, (*snapshot.containers, *snapshot.desktops), failures, run.now
    )
    left_out = _left_out(run, {**containers, **desktops}, excluded)
    passwords: dict[str, Passwords | None] = {}
    if platform.spec.tls.enabled:  # keystores need the desktops' password Secrets
        kept = [m for k, m in desktops.items() if k not in left_out and isinstance(m, Member)]
        passwords, refused = _desktop_passwords(run, kept)
        left_out |= refused
    return Admitted(
        platform,
        tuple(m for k, m in containers.items() if k not in left_out and isinstance(m, Member)),
        tuple(m for k, m in desktops.items() if k not in left_out and isinstance(m, Member)),
        passwords,
        left_out,
        retried,
    )


def _platform(
    run: PassContext, body: Body, failures: Sequence[WriteFailure]
) -> PlatformMember | Refused:
    """The Platform, unless it clashes, is invalid, or the API refused one of its writes."""
    snapshot = run.snapshot
    clash = name_clash(body, _everyone(snapshot), snapshot.namespace_objects)
    if clash is not None:
        # A revocation goes into the Platform's own objects, when they are still its own.
        if revocation.writable(run, body):
            reject(run, body, clash, NAME_CLASH)
            return Refused(CONFIG_ERROR_SECONDS, revocable=True)
        reject(run, body, clash + revocation.still_trusted(run, body), NAME_CLASH)
        return Refused(CONFIG_ERROR_SECONDS)
    try:
        platform = Member(body, parse_platform(body))
    except SpecError as err:
        reject(run, body, str(err))
        return Refused(None, revocable=True)
    refused = [f for f in failures if f.owner_kind == "Platform"]
    if refused:
        objects = {(f.object_kind, f.object_name) for f in failures}
        if revocation.writable(run, body, objects):
            platform_write_failed(run, body, refused[0])
            return Refused(CONFIG_ERROR_SECONDS, revocable=True)
        platform_write_failed(run, body, refused[0], revocation.still_trusted(run, body))
        return Refused(CONFIG_ERROR_SECONDS)
    unattached = attachments.problem(snapshot, body, run.now)
    if unattached is not None:
        reject(run, body, unattached[1], unattached[0])
        return Refused(CONFIG_ERROR_SECONDS)
    return platform


def _left_out(
    run: PassContext,
    members: Mapping[MemberKey, Member[Any] | _Invalid],
    excluded: Mapping[MemberKey, Exclusion],
) -> dict[MemberKey, Exclusion]:
    """Members left out and reported: a refused write first (`excluded`, with its retry
    time), then a name clash, then an invalid spec."""
    left_out = dict(excluded)
    for key, entry in excluded.items():
        reject(run, members[key].body, member_message(entry), WRITE_FAILED)
    everyone = _everyone(run.snapshot)
    for key, found in members.items():
        problem = None if key in left_out else _problem(run, found, everyone)
        if problem is not None:
            reject(run, found.body, problem.message, problem.reason)
            left_out[key] = problem
    return left_out


def _desktop_passwords(
    run: PassContext, desktops: Sequence[DesktopMember]
) -> tuple[dict[str, Passwords | None], dict[MemberKey, Exclusion]]:
    """Each desktop's passwords from its password Secret; one whose Secret is missing or
    bad is reported and left out."""
    passwords: dict[str, Passwords | None] = {}
    refused: dict[MemberKey, Exclusion] = {}
    for desktop in desktops:
        try:
            passwords[desktop.spec.name] = user_passwords(run, desktop.spec.password_secret_name)
        except SpecError as err:
            reject(run, desktop.body, str(err))
            refused[_key(desktop.body)] = Exclusion(*_key(desktop.body), INVALID_SPEC, str(err))
    return passwords, refused


def _everyone(snapshot: Snapshot) -> tuple[Body, ...]:
    return (*snapshot.platforms, *snapshot.namespace_members)


@dataclass(frozen=True)
class _Invalid:
    body: Body
    error: str


def _key(body: Body) -> MemberKey:
    return str(body["kind"]), str(body["metadata"]["name"])


def _parsed(body: Body, parse: Callable[[Body], Any]) -> Member[Any] | _Invalid:
    try:
        return Member(body, parse(body))
    except SpecError as err:
        return _Invalid(body, str(err))


def _problem(
    run: PassContext, found: Member[Any] | _Invalid, everyone: Sequence[Body]
) -> Exclusion | None:
    """Why a member cannot be planned: it would write an object another resource of the
    namespace owns or an older one writes too (clashes.py), or its spec is invalid."""
    body = found.body
    clash = name_clash(body, everyone, run.snapshot.namespace_objects)
    if clash is not None:
        return Exclusion(*_key(body), NAME_CLASH, clash)
    if isinstance(found, _Invalid):
        return Exclusion(*_key(body), INVALID_SPEC, found.error)
    unattached = attachments.problem(run.snapshot, body, run.now)
    if unattached is not None:
        return Exclusion(*_key(body), *unattached)
    return None
