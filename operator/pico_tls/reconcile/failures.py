"""A pass that could not read its group or decide is visible, not only a log line: the
Platform gets Ready=False with the reason (message redacted) and one Warning Event per new
message. Pure: the Decision that says so."""

from __future__ import annotations

from datetime import datetime

from pico_tls.reconcile.decision import Decision
from pico_tls.reconcile.exclusions import redact
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.report import reject
from pico_tls.reconcile.snapshot import Body, Snapshot

READ_FAILED = "ReadFailed"
INTERNAL_ERROR = "InternalError"


def read_failed_message(status: int, reason: str, message: str) -> str:
    return (
        f"Reading the group's objects failed: {status} {reason}: {redact(message)}; "
        "nothing was written, retried with backoff"
    )


def internal_error_message(kind: str) -> str:
    return f"The operator failed on this group ({kind}; see its log); retried with backoff"


def pass_failed(platform: Body, reason: str, message: str, now: datetime) -> Decision:
    """Ready=False `reason` on the Platform, one Warning Event per new message."""
    meta = platform["metadata"]
    run = PassContext(Snapshot(str(meta.get("namespace", "")), str(meta["name"])), now)
    reject(run, platform, message, reason)
    return run.decision
