"""CA rotation with trust overlap, so no party ever meets a certificate it does not trust.

A rotation starts when the CA that issues certificates is not among the CAs the running
Platform trusts (the `ca.crt` bundle of its mounted Secret): the user replaced the CA in their
Secret, asked for a new operator CA, or the operator CA neared expiry. Three phases, each
entered only when every workload runs the previous one:

1. TrustBoth: every store trusts the new and the old CAs; certificates stay as they are.
2. Reissue: every certificate is reissued by the new CA (same keys); both CAs still trusted.
3. DropOld: the old CAs leave every store.

The phase is recorded in the Platform's state Secret before any content of it (phases.py),
so a restarted operator resumes and a lost status skips nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from cryptography import x509

from pico_tls.pki.certs import PkiError, cert_to_pem, certs_from_pem, sha256_fingerprint


class RotationPhase(StrEnum):
    TRUST_BOTH = "TrustBoth"
    REISSUE = "Reissue"
    DROP_OLD = "DropOld"


_NEXT = {
    RotationPhase.TRUST_BOTH: RotationPhase.REISSUE,
    RotationPhase.REISSUE: RotationPhase.DROP_OLD,
}


@dataclass(frozen=True)
class Rotation:
    phase: RotationPhase
    target: str  # SHA-256 fingerprint of the CA being rotated to
    previous: tuple[x509.Certificate, ...]  # the CAs being rotated away from
    since: str = field(default="", compare=False)  # when it started (RFC 3339), if known

    @property
    def trusted_previous(self) -> tuple[x509.Certificate, ...]:
        """Old CAs that stores still trust in this phase."""
        return () if self.phase is RotationPhase.DROP_OLD else self.previous

    @property
    def accepted_previous(self) -> tuple[x509.Certificate, ...]:
        """Old CAs whose certificates are kept (not reissued) in this phase."""
        return self.previous if self.phase is RotationPhase.TRUST_BOTH else ()

    def as_status(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "targetFingerprint": self.target,
            "previousFingerprints": [sha256_fingerprint(c) for c in self.previous],
            # Certificates are public; the status is where a restarted operator finds them.
            "previousCertificates": b"".join(map(cert_to_pem, self.previous)).decode(),
            "since": self.since or None,
        }


def from_status(status: Mapping[str, Any] | None) -> Rotation | None:
    if not status:
        return None
    try:
        phase = RotationPhase(str(status.get("phase")))
        previous = tuple(certs_from_pem(str(status.get("previousCertificates", "")).encode()))
    except (ValueError, PkiError):
        return None
    if not previous:
        return None
    since = str(status.get("since") or "")
    return Rotation(phase, str(status.get("targetFingerprint", "")), previous, since)


def _unique(certs: Sequence[x509.Certificate], without: str) -> tuple[x509.Certificate, ...]:
    seen = {without}
    out = []
    for cert in certs:
        fp = sha256_fingerprint(cert)
        if fp not in seen:
            seen.add(fp)
            out.append(cert)
    return tuple(out)


def current_rotation(
    recorded: Rotation | None,
    issuer: x509.Certificate,
    mounted: Sequence[x509.Certificate],
    since: str = "",
) -> Rotation | None:
    """The rotation in force for this pass: `recorded` (from status), one that starts now
    because `issuer` is not among the `mounted` CAs, or a restart when the CA changed again."""
    target = sha256_fingerprint(issuer)
    if recorded is not None and recorded.target == target:
        return recorded
    if recorded is None and (not mounted or target in {sha256_fingerprint(c) for c in mounted}):
        return None
    # Trust everything that may still be in use: older CAs of an unfinished rotation too.
    previous = _unique([*mounted, *(recorded.previous if recorded else ())], without=target)
    if not previous:
        return None  # e.g. rotated back to the only CA everyone trusts
    return Rotation(RotationPhase.TRUST_BOTH, target, previous, since)


def derived(issuer: x509.Certificate, mounted: Sequence[x509.Certificate]) -> Rotation | None:
    """With no record of a rotation: a mounted bundle that holds the issuing CA and others
    shows one under way; it resumes at TrustBoth, which keeps every certificate as it is and
    trusts every CA in the bundle."""
    target = sha256_fingerprint(issuer)
    if target not in {sha256_fingerprint(c) for c in mounted}:
        return None  # a new CA: current_rotation starts a rotation to it
    previous = _unique(mounted, without=target)
    return Rotation(RotationPhase.TRUST_BOTH, target, previous) if previous else None


def advance(rotation: Rotation | None, settled: bool) -> Rotation | None:
    """The phase for the next pass once every workload runs this one (None: done)."""
    if rotation is None or not settled:
        return rotation
    following = _NEXT.get(rotation.phase)
    if following is None:
        return None
    return replace(rotation, phase=following)


def phase_message(rotation: Rotation) -> str:
    return {
        RotationPhase.TRUST_BOTH: "Every store trusts the new and the old CA",
        RotationPhase.REISSUE: "Reissuing every certificate with the new CA",
        RotationPhase.DROP_OLD: "Removing the old CA from every store",
    }[rotation.phase]
