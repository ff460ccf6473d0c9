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


def with_kstatus(conditions: Sequence[Condition], stalled: bool) -> list[Condition]:
    """`conditions` plus `Reconciling` and `Stalled` as kstatus reads them (Flux, kubectl
    wait tooling): Stalled while only the user can fix something; otherwise Reconciling while
    work is in progress (Ready False, or Progressing True: a CA rotation or a client-auth
    rollout between its phases, when Ready may read True)."""
    by_type = {c.type: c for c in conditions}
    ready, progressing = by_type.get("Ready"), by_type.get("Progressing")
    why = progressing if progressing is not None and progressing.status else ready
    busy = not stalled and why is not None and (why is progressing or not why.status)
    reconciling = (
        Condition("Reconciling", True, why.reason, why.message)
        if busy and why is not None
        else Condition("Reconciling", False, "Idle", "Nothing in progress")
    )
    problem = ready if stalled and ready is not None else None
    stalled_condition = (
        Condition("Stalled", True, problem.reason, problem.message)
        if problem is not None
        else Condition("Stalled", False, "Progressing", "No problem stops the reconciliation")
    )
    return [*conditions, reconciling, stalled_condition]


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
