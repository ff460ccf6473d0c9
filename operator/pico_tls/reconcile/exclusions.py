"""Members left out of a pass: one whose objects the API refused (a write failure the apply
step reported back) or whose spec cannot be used. The Platform's `status.excludedMembers`
keeps write failures with a bounded retry time, so the group keeps converging without the
member and tries it again later (at once when its spec changes). Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pico_tls.reconcile.status import iso

Body = Mapping[str, Any]
WRITE_FAILED = "WriteFailed"
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(minutes=10)
MESSAGE_LIMIT = 400
# API messages quote the refused values ("Invalid value: \"...\": ..."); a value may be Secret
# data, so it is never repeated, nor is anything that looks like base64 or PEM.
_QUOTED_VALUE = re.compile(r'(Invalid value: )("(?:[^"\\]|\\.)*"|\S+)')
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_-]{24,}")


def redact(text: str) -> str:
    """An API error message safe for status and Events: refused values and long opaque
    strings replaced, length bounded."""
    out = _QUOTED_VALUE.sub(r"\1(value not shown)", text)
    out = _OPAQUE.sub("(redacted)", out)
    return out if len(out) <= MESSAGE_LIMIT else out[: MESSAGE_LIMIT - 3] + "..."


@dataclass(frozen=True)
class WriteFailure:
    """One write the API refused, with the custom resource that owns the object."""

    owner_kind: str
    owner_name: str
    object_kind: str
    object_name: str
    code: int
    reason: str  # the API's Status reason (Invalid, Forbidden, ...) or the HTTP reason
    message: str  # already redacted
    sent: bool = True  # False: refused before sending, the API would refuse it (sizes.py)

    @property
    def owner(self) -> tuple[str, str]:
        return self.owner_kind, self.owner_name

    def describe(self) -> str:
        refused = "refused" if self.sent else "would refuse"
        return (
            f"the API {refused} {self.object_kind} {self.object_name} "
            f"({self.code} {self.reason}): {self.message}"
        )


@dataclass(frozen=True)
class Exclusion:
    """A member left out, as `status.excludedMembers` records it."""

    kind: str
    name: str
    reason: str
    message: str
    generation: int | None = None
    attempts: int = 0
    retry_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.name

    def as_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "reason": self.reason,
            "message": self.message,
        }
        if self.reason == WRITE_FAILED:
            out |= {"generation": self.generation, "attempts": self.attempts}
            if self.retry_at is not None:
                out["retryAt"] = iso(self.retry_at)
        return out


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most 10 min."""
    return min(LAST_RETRY, FIRST_RETRY * (1 << max(0, attempts - 1)))


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def recorded(platform: Body) -> dict[tuple[str, str], Exclusion]:
    """The write failures the Platform's status remembers."""
    out = {}
    for entry in (platform.get("status") or {}).get("excludedMembers") or []:
        if not isinstance(entry, Mapping) or entry.get("reason") != WRITE_FAILED:
            continue
        found = Exclusion(
            str(entry.get("kind")),
            str(entry.get("name")),
            WRITE_FAILED,
            str(entry.get("message", "")),
            entry.get("generation"),
            int(entry.get("attempts") or 1),
            _parse_time(entry.get("retryAt")),
        )
        out[found.key] = found
    return out


def write_exclusions(
    platform: Body, members: Iterable[Body], failures: Sequence[WriteFailure], now: datetime
) -> tuple[dict[tuple[str, str], Exclusion], dict[tuple[str, str], Exclusion]]:
    """(members to leave out now, members retried this pass whose record stays until they
    converge). A new failure counts one more attempt unless the member's spec changed."""
    by_key = {(m["kind"], m["metadata"]["name"]): m for m in members}
    known = recorded(platform)
    excluded: dict[tuple[str, str], Exclusion] = {}
    for failure in failures:
        body = by_key.get(failure.owner)
        if body is None:
            continue
        generation = body["metadata"].get("generation")
        before = known.get(failure.owner)
        attempts = before.attempts + 1 if before and before.generation == generation else 1
        excluded[failure.owner] = Exclusion(
            failure.owner_kind,
            failure.owner_name,
            WRITE_FAILED,
            failure.describe(),
            generation,
            attempts,
            now + retry_delay(attempts),
        )
    retried = {}
    for key, entry in known.items():
        body = by_key.get(key)
        if body is None or key in excluded:
            continue  # gone: forgotten
        same_spec = body["metadata"].get("generation") == entry.generation
        if same_spec and entry.retry_at is not None and now < entry.retry_at:
            excluded[key] = entry
        else:
            retried[key] = entry
    return excluded, retried


def member_message(entry: Exclusion) -> str:
    """What the member's own Ready condition says (no retry time, so it changes only when
    the failure does: one Event per new message)."""
    return f"Left out of its platform group: {entry.message}; fix the spec, it is retried"


def summary(entries: Sequence[Exclusion]) -> str:
    listed = "; ".join(f"{e.kind} {e.name}: {e.reason}" for e in entries)
    return f"{len(entries)} member(s) left out of the group: {listed}"
