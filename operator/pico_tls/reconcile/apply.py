"""Step 3 of a pass: carry out a Decision, in its order. The only step that writes to the API."""

from __future__ import annotations

from datetime import datetime

from pico_tls.kube import CONTAINER, DESKTOP, PLATFORM, Kube
from pico_tls.reconcile.decision import Decision, Event, StatusPatch, Write

STATUS_KINDS = {"Platform": PLATFORM, "ExecutionContainer": CONTAINER, "DesktopClient": DESKTOP}


def apply_decision(kube: Kube, decision: Decision, now: datetime) -> int:
    """Writes, status patches and Events in decision order; returns the number of writes."""
    for action in decision.actions:
        if isinstance(action, Write):
            kube.apply(action.manifest)
        elif isinstance(action, StatusPatch):
            kind = STATUS_KINDS[action.kind]
            kube.patch_status(kind, action.namespace, action.name, action.status)
        elif isinstance(action, Event):
            kube.event(action.involved, action.type, action.reason, action.message, now=now)
    return len(decision.writes)
