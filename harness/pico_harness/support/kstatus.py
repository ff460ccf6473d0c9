"""kstatus's computed status of a custom resource (sigs.k8s.io/cli-utils pkg/kstatus/status,
`Compute`), the rules that apply to a kind it has no built-in rules for, in their order:
1. `metadata.deletionTimestamp` set -> Terminating;
2. `status.observedGeneration` present and not `metadata.generation` -> InProgress;
3. the first condition `Reconciling=True` -> InProgress, or `Stalled=True` -> Failed;
4. a `Ready` condition: True -> Current, False or Unknown -> InProgress;
5. otherwise Current.
Flux's health checks and `kubectl wait`-style tooling read this."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CURRENT, IN_PROGRESS, FAILED, TERMINATING = "Current", "InProgress", "Failed", "Terminating"


def compute(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    if meta.get("deletionTimestamp"):
        return TERMINATING
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if generation is not None and observed is not None and int(observed) != int(generation):
        return IN_PROGRESS
    conditions = status.get("conditions") or []
    for cond in conditions:
        if cond.get("type") == "Reconciling" and cond.get("status") == "True":
            return IN_PROGRESS
        if cond.get("type") == "Stalled" and cond.get("status") == "True":
            return FAILED
    for cond in conditions:
        if cond.get("type") == "Ready":
            if cond.get("status") == "True":
                return CURRENT
            if cond.get("status") in ("False", "Unknown"):
                return IN_PROGRESS
    return CURRENT
