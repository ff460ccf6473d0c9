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
from pico_tls.reconcile.clashes import name_clash
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
from pico_tls.reconcile.snapshot import Body
from pico_tls.spec import SpecError, parse_container, parse_desktop, parse_platform

NAME_CLASH = "NameClash"
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


def admit(run: PassContext, body: Body, failures: Sequence[WriteFailure]) -> Admitted | Refused:
    snapshot = run.snapshot
    everyone = (*snapshot.platforms, *snapshot.namespace_members)
    clash = name_clash(body, everyone, snapshot.namespace_objects)
    if clash is not None:
        reject(run, body, clash, NAME_CLASH)
        return Refused(CONFIG_ERROR_SECONDS)
    try:
        platform = Member(body, parse_platform(body))
    except SpecError as err:
        reject(run, body, str(err))
        return Refused(None)
    refused = [f for f in failures if f.owner_kind == "Platform"]
    if refused:
        platform_write_failed(run, body, refused[0])
        return Refused(CONFIG_ERROR_SECONDS)
    containers = {
        _key(b): _parsed(b, lambda b: parse_container(b, platform.spec))  # its delivery form
        for b in snapshot.containers
    }
    desktops = {_key(b): _parsed(b, parse_desktop) for b in snapshot.desktops}
    excluded, retried = write_exclusions(
        body, (*snapshot.containers, *snapshot.desktops), failures, run.now
    )
    members = {**containers, **desktops}
    left_out = dict(excluded)  # with their retry times
    for key, entry in excluded.items():
        reject(run, members[key].body, member_message(entry), WRITE_FAILED)
    for key, found in members.items():
        problem = None if key in left_out else _problem(run, found, everyone)
        if problem is not None:
            reject(run, found.body, problem.message, problem.reason)
            left_out[key] = problem
    passwords: dict[str, Passwords | None] = {}
    if platform.spec.tls.enabled:  # keystores need the desktops' password Secrets
        for key, found in desktops.items():
            if key in left_out or isinstance(found, _Invalid):
                continue
            try:
                passwords[key[1]] = user_passwords(run, found.spec.password_secret_name)
            except SpecError as err:
                reject(run, found.body, str(err))
                left_out[key] = Exclusion(*key, INVALID_SPEC, str(err))
    return Admitted(
        platform,
        tuple(m for k, m in containers.items() if k not in left_out and isinstance(m, Member)),
        tuple(m for k, m in desktops.items() if k not in left_out and isinstance(m, Member)),
        passwords,
        left_out,
        retried,
    )


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
    return None
