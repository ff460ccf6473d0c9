"""What `renew --wait` and `rotate-ca --wait` say while they follow the operator (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pico_tls.ctl.table import shorten


def _condition(body: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for c in (body.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return {}


def settled(body: Mapping[str, Any]) -> bool:
    """Ready for its current generation and no longer progressing."""
    status = body.get("status") or {}
    return (
        status.get("observedGeneration") == body["metadata"].get("generation")
        and _condition(body, "Ready").get("status") == "True"
        and _condition(body, "Progressing").get("status") != "True"
    )


def renew_state(body: Mapping[str, Any], value: str) -> tuple[bool, str]:
    """(done, what is happening) for a renewal asked with annotation value `value`."""
    status = body.get("status") or {}
    if status.get("renewRequest") != value:
        return False, "waiting for the operator to take the request"
    if not settled(body):
        return False, "renewed; " + _moving(body)
    return True, f"done: certificate valid until {status.get('notAfter')}"


def rotation_state(
    platform: Mapping[str, Any], handled: str | None, value: str, old_ca: str | None
) -> tuple[bool, str]:
    """(done, what is happening) for a CA rotation asked with `value`; `handled` is the
    value the CA Secret records as acted on, `old_ca` the CA fingerprint before the request
    (done needs another one, whichever of the CA Secret and the status is written first)."""
    status = platform.get("status") or {}
    phase = (status.get("caRotation") or {}).get("phase")
    if handled != value:
        if phase:
            return False, f"an earlier CA rotation is in phase {phase}; this one waits for it"
        return False, "waiting for the operator to take the request"
    if phase:
        return False, f"CA rotation phase {phase} ({_moving(platform)})"
    fingerprint = str(status.get("caFingerprint", ""))
    if not settled(platform) or fingerprint == old_ca:
        return False, "new CA in place; " + _moving(platform)
    return True, f"done: every store trusts the new CA alone ({fingerprint[:23]}...)"


def _moving(body: Mapping[str, Any]) -> str:
    progressing = _condition(body, "Progressing")
    if progressing.get("status") == "True":
        return shorten(f"rolling out: {progressing.get('message', '')}", 100)
    ready = _condition(body, "Ready")
    return shorten(f"Ready={ready.get('status', 'Unknown')} {ready.get('message', '')}", 100)
