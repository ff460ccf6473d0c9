"""The metric samples of one platform group after a pass, from what the pass already computed:
each custom resource's status as this pass leaves it (the snapshot's, with the Decision's status
patch over it) and the group's CA certificate. Pure; `pico_tls.metrics` applies them.

Label values are names, kinds, phases and condition values only: never a Secret value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from pico_tls.builders import names
from pico_tls.reconcile.carotation import RotationPhase
from pico_tls.reconcile.clientauth import Phase
from pico_tls.reconcile.decision import Decision
from pico_tls.reconcile.snapshot import Body, Snapshot

EXPIRATION = "picotls_certificate_expiration_timestamp_seconds"
RENEWAL = "picotls_certificate_renewal_timestamp_seconds"
READY = "picotls_certificate_ready_status"
CLIENT_AUTH_PHASE = "picotls_client_auth_phase"
CA_ROTATION_PHASE = "picotls_ca_rotation_phase"
CA_KIND = "CA"  # the `kind` label of a Platform's CA certificate (name: the Platform's)
CONDITION_VALUES = ("True", "False", "Unknown")


@dataclass(frozen=True)
class Sample:
    metric: str
    labels: tuple[tuple[str, str], ...]  # sorted (label, value) pairs
    value: float


def group_samples(snapshot: Snapshot, decision: Decision) -> tuple[Sample, ...]:
    """Every gauge sample of the group; none when its Platform is gone or being deleted."""
    platform = snapshot.platform
    if platform is None or platform["metadata"].get("deletionTimestamp"):
        return ()
    patched = {(p.kind, p.name): p.status for p in decision.status_patches}
    out: list[Sample] = []
    for body in (platform, *snapshot.containers, *snapshot.desktops):
        kind, name = str(body["kind"]), str(body["metadata"]["name"])
        status = {**(body.get("status") or {}), **patched.get((kind, name), {})}
        out += _certificate(snapshot.namespace, name, kind, status)
        if kind == "Platform":
            out += _phases(snapshot.namespace, name, status)
    out += _ca(snapshot, decision, platform)
    return tuple(out)


def _labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def _certificate(ns: str, name: str, kind: str, status: Mapping[str, Any]) -> Iterator[Sample]:
    ids = {"namespace": ns, "name": name, "kind": kind}
    for metric, field in ((EXPIRATION, "notAfter"), (RENEWAL, "renewalTime")):
        if status.get(field):
            yield Sample(metric, _labels(**ids), _timestamp(str(status[field])))
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    current = str(ready.get("status")) if ready else "Unknown"
    for value in CONDITION_VALUES:
        yield Sample(READY, _labels(**ids, condition=value), float(value == current))


def _phases(ns: str, name: str, status: Mapping[str, Any]) -> Iterator[Sample]:
    ids = {"namespace": ns, "name": name}
    client_auth = (status.get("clientAuth") or {}).get("phase")
    for phase in Phase:
        on = float(phase == client_auth)
        yield Sample(CLIENT_AUTH_PHASE, _labels(**ids, phase=phase.value), on)
    rotation = (status.get("caRotation") or {}).get("phase")
    for step in RotationPhase:
        yield Sample(CA_ROTATION_PHASE, _labels(**ids, phase=step.value), float(step == rotation))


def _ca(snapshot: Snapshot, decision: Decision, platform: Body) -> Iterator[Sample]:
    """The CA's expiry, and for the operator's own CA its renewal (two thirds of its life)."""
    tls = (platform.get("spec") or {}).get("tls") or {}
    user_ca = (tls.get("caSecretRef") or {}).get("name")
    name = str(platform["metadata"]["name"])
    if user_ca:
        secret = snapshot.user_secrets.get(str(user_ca))
    else:
        wanted = names.ca_secret(name)
        written = [w.manifest for w in decision.writes if w.kind == "Secret" and w.name == wanted]
        secret = written[-1] if written else snapshot.secrets.get(wanted)
    cert = _certificate_in(secret)
    if cert is None:
        return
    ids = _labels(namespace=snapshot.namespace, name=name, kind=CA_KIND)
    not_after = cert.not_valid_after_utc
    yield Sample(EXPIRATION, ids, not_after.timestamp())
    if not user_ca:
        renewal = not_after - (not_after - cert.not_valid_before_utc) / 3
        yield Sample(RENEWAL, ids, renewal.timestamp())


def _certificate_in(secret: Body | None) -> x509.Certificate | None:
    """The public certificate `tls.crt` of a CA Secret (its key is never read here)."""
    encoded = ((secret or {}).get("data") or {}).get("tls.crt")
    if not encoded:
        return None
    try:
        return x509.load_pem_x509_certificate(base64.b64decode(encoded))
    except (ValueError, binascii.Error):
        return None


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
