"""Status conditions that change only when their meaning changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    old: Sequence[Mapping[str, Any]],
    new: Sequence[Condition],
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """New conditions, keeping lastTransitionTime where the status did not flip."""
    previous = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        status = "True" if cond.status else "False"
        before = previous.get(cond.type) or {}
        stamp = before.get("lastTransitionTime") if before.get("status") == status else None
        entry = {
            "type": cond.type,
            "status": status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": stamp or iso(now),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        out.append(entry)
    return out


def status_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when a status patch would change anything."""
    return any(old.get(k) != v for k, v in new.items())
