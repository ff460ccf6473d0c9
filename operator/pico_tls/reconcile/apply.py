"""Step 3 of a pass: carry out a Decision, in its order. The only step that writes to the API.

A write the API refuses for an object a member (ExecutionContainer, DesktopClient) owns does
not stop the pass: the member's later writes and status are skipped and the failure is
reported back (`Applied.failures`), so the next decision leaves the member out and says why.
Any other refused write (the Platform's own objects) stops the pass the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pico_tls.kube import CONTAINER, DESKTOP, PLATFORM, Kube, KubeError
from pico_tls.reconcile.decision import Decision, Event, StatusPatch, Write
from pico_tls.reconcile.exclusions import WriteFailure, redact

# Statuses that say nothing about the object written: the pass fails and is retried.
TRANSIENT = (401, 404, 429, 502, 503, 504)
STORAGE_TROUBLE = ("etcd", "timeout", "timed out", "unable to handle the request")
STATUS_KINDS = {"Platform": PLATFORM, "ExecutionContainer": CONTAINER, "DesktopClient": DESKTOP}


@dataclass
class Applied:
    writes: int = 0
    failures: list[WriteFailure] = field(default_factory=list)

    @property
    def platform_failed(self) -> bool:
        return any(f.owner_kind == "Platform" for f in self.failures)


def _transient(err: KubeError) -> bool:
    """The API (or its storage) being unavailable, which says nothing about the object."""
    if err.status in TRANSIENT:
        return True
    text = err.message.lower()
    return err.status == 500 and any(word in text for word in STORAGE_TROUBLE)


def _owner(write: Write) -> tuple[str, str] | None:
    refs = write.manifest["metadata"].get("ownerReferences") or []
    return (str(refs[0]["kind"]), str(refs[0]["name"])) if refs else None


def _failure(write: Write, owner: tuple[str, str], err: KubeError) -> WriteFailure:
    return WriteFailure(
        owner[0], owner[1], write.kind, write.name, err.status, err.api_reason, redact(err.message)
    )


def apply_decision(kube: Kube, decision: Decision, now: datetime) -> Applied:
    """Writes, status patches and Events in decision order; a refused write of a member
    skips that member's remaining actions, a refused Platform write stops the writes."""
    done = Applied()
    failed: set[tuple[str, str]] = set()
    for action in decision.actions:
        if isinstance(action, Write):
            owner = _owner(action)
            if owner in failed or done.platform_failed:
                continue
            try:
                kube.apply(action.manifest)
            except KubeError as err:
                if owner is None or err.namespace_terminating or _transient(err):
                    raise  # not the member's doing: the scheduler retries with backoff
                done.failures.append(_failure(action, owner, err))
                failed.add(owner)
                continue
            done.writes += 1
        elif isinstance(action, StatusPatch):
            if (action.kind, action.name) in failed or done.platform_failed:
                continue
            kind = STATUS_KINDS[action.kind]
            kube.patch_status(kind, action.namespace, action.name, action.status)
        elif isinstance(action, Event):
            kube.event(action.involved, action.type, action.reason, action.message, now=now)
    return done
