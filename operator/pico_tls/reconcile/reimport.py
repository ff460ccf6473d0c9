"""Desktops through a CA rotation: desktop users import their store by hand. From TrustBoth
on the store they are given trusts both CAs; from Reissue on the Platform presents a
certificate of the new CA, which a store imported before the rotation refuses.

So TrustBoth holds for `tls.desktopReimportPeriod` from the rotation's start, or until every
DesktopClient of the group acknowledged the re-import: the annotation
`picotls.dev/reimported` set to the rotation's target fingerprint (`status.caRotation.
targetFingerprint`, also in the ReimportKey Event). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pico_tls.builders import names
from pico_tls.parties import PlatformMember
from pico_tls.reconcile.carotation import Rotation, RotationPhase
from pico_tls.reconcile.passes import PassContext

Body = Mapping[str, Any]


def tell_desktops(run: PassContext, rotation: Rotation) -> None:
    """One ReimportKey Event per DesktopClient, with the command that acknowledges it."""
    for body in run.snapshot.desktops:
        name = str(body["metadata"]["name"])
        run.decision.event(
            body,
            "Normal",
            "ReimportKey",
            f"CA rotation started: import the keystore of Secret {names.desktop_secret(name)} "
            "again now (it trusts the old and the new CA); the Platform presents a certificate "
            "of the new CA once every pod trusts both, and a store imported before now will "
            f"refuse it. Then: kubectl pico-tls reimported {name} (or kubectl annotate pdc "
            f"{name} --overwrite {names.REIMPORTED}={rotation.target})",
        )


def acknowledged(body: Body, rotation: Rotation) -> bool:
    """Whether a DesktopClient says its user imported the store of this rotation."""
    value = ((body.get("metadata") or {}).get("annotations") or {}).get(names.REIMPORTED)
    return isinstance(value, str) and _same_fingerprint(value, rotation.target)


def waiting_desktops(run: PassContext, rotation: Rotation) -> list[str]:
    """The group's DesktopClients that have not acknowledged this rotation's re-import."""
    return [
        str(b["metadata"]["name"]) for b in run.snapshot.desktops if not acknowledged(b, rotation)
    ]


def hold(run: PassContext, platform: PlatformMember, rotation: Rotation | None) -> datetime | None:
    """Until when TrustBoth holds so desktop users can import their key again, or None: the
    period from the rotation's start, cut short once every desktop acknowledged."""
    period = platform.spec.tls.desktop_reimport_period
    if rotation is None or rotation.phase is not RotationPhase.TRUST_BOTH:
        return None
    if not run.snapshot.desktops or not period or not rotation.since:
        return None
    until = datetime.fromisoformat(rotation.since.replace("Z", "+00:00")) + period
    if run.now >= until or not waiting_desktops(run, rotation):
        return None
    return until


def _same_fingerprint(a: str, b: str) -> bool:
    """Equal SHA-256 fingerprints, written with or without colons, in either case."""

    def plain(text: str) -> str:
        return text.strip().replace(":", "").upper()

    return bool(b) and plain(a) == plain(b)
