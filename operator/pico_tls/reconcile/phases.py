"""The durable record of a group's phases: the CA rotation (with the CAs it rotates away from)
and the client-auth flag in force, kept in the Platform's state Secret (`phases.json`), an
unmounted object of the operator's own. The record is written before any content of a phase
(the state Secrets come before the mounted Secrets and workloads in every Decision), so a
status that is wiped, restored from an old backup or never written loses nothing: status
only reports. Without a record (an operator version that kept phases in status only, or TLS
off) the status is read, then what the mounted Secrets show. Pure."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pico_tls.builders import names
from pico_tls.parties import PlatformMember
from pico_tls.reconcile import carotation
from pico_tls.reconcile.carotation import Rotation
from pico_tls.reconcile.passes import PassContext
from pico_tls.spec_model import PlatformSpec


@dataclass(frozen=True)
class PhaseRecord:
    rotation: Rotation | None  # the phase the next pass builds (None: no rotation)
    client_auth: bool | None  # pico.rcp.tls.require_clientauth in force (None: not known)
    rotate_ca_handled: str | None = None  # the picotls.dev/rotate-ca value acted on

    def encode(self) -> str:
        record: dict[str, Any] = {
            "caRotation": self.rotation.as_status() if self.rotation else None,
            "clientAuth": None if self.client_auth is None else {"effective": self.client_auth},
            "rotateCaHandled": self.rotate_ca_handled,
        }
        return json.dumps(record, sort_keys=True)


def state_secret_name(p: PlatformSpec) -> str:
    return names.state_secret(names.tls_secret(p.name))


def _decode(data: Mapping[str, bytes]) -> PhaseRecord | None:
    raw = data.get(names.PHASES_KEY)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    rotation_status = record.get("caRotation")
    rotation = carotation.from_status(rotation_status)
    if rotation_status and rotation is None:
        return None  # unreadable: fall back to status rather than forget a rotation
    client_auth = record.get("clientAuth")
    effective = client_auth.get("effective") if isinstance(client_auth, dict) else None
    handled = record.get("rotateCaHandled")
    return PhaseRecord(
        rotation,
        effective if isinstance(effective, bool) else None,
        handled if isinstance(handled, str) else None,
    )


def recorded(run: PassContext, platform: PlatformMember) -> PhaseRecord | None:
    """The group's phase record, None when there is none (or it cannot be read)."""
    secret = run.snapshot.secrets.get(state_secret_name(platform.spec))
    if secret is None:
        return None
    found: PhaseRecord | None = run.decoded(secret, "phases", _decode)
    return found


def recorded_rotation(run: PassContext, platform: PlatformMember) -> tuple[bool, Rotation | None]:
    """(known, rotation): the rotation the record (else the status) says is in force."""
    record = recorded(run, platform)
    if record is not None:
        return True, record.rotation
    status = (platform.body.get("status") or {}).get("caRotation")
    return bool(status), carotation.from_status(status)


def recorded_client_auth(run: PassContext, platform: PlatformMember) -> bool | None:
    """The require_clientauth flag in force: the record's, else the status's."""
    record = recorded(run, platform)
    if record is not None and record.client_auth is not None:
        return record.client_auth
    effective = ((platform.body.get("status") or {}).get("clientAuth") or {}).get("effective")
    return None if effective is None else bool(effective)


def rotate_ca_handled(run: PassContext, platform: PlatformMember) -> str | None:
    """The rotate-ca request acted on last: on the CA Secret written in this pass, else on the
    one read, else in the record (a CA Secret restored from a backup lost its annotation)."""
    name = names.ca_secret(platform.spec.name)
    for secret in (
        *(w.manifest for w in run.decision.writes if w.kind == "Secret" and w.name == name),
        run.snapshot.secrets.get(name) or {"metadata": {}},
    ):
        value = (secret["metadata"].get("annotations") or {}).get(names.ROTATE_CA_HANDLED)
        if value:
            return str(value)
    record = recorded(run, platform)
    return record.rotate_ca_handled if record else None


def write_record(state_secrets: list[dict[str, Any]], p: PlatformSpec, record: PhaseRecord) -> None:
    """Put the record into the Platform's planned state Secret (written before any mounted
    Secret or workload of the pass)."""
    wanted = state_secret_name(p)
    for manifest in state_secrets:
        if manifest["metadata"]["name"] == wanted:
            data = dict(manifest.get("data") or {})
            data[names.PHASES_KEY] = base64.b64encode(record.encode().encode()).decode()
            manifest["data"] = dict(sorted(data.items()))
