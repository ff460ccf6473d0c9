"""Key material decisions: keep what exists and is still good, make only what is missing.

Pure: the caller loads existing keys, certificates and passwords (from Secrets or files) and
writes back what comes out. Every change is explained by a note for Events and logs; notes
never contain key material or passwords.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509

from pico_tls.pki.certs import (
    CertificateAuthority,
    certificate_matches_key,
    issue_certificate,
    self_signed_certificate,
    signed_by,
)
from pico_tls.pki.keys import KeyAlgorithm, PrivateKey, generate_key, key_algorithm_of


@dataclass(frozen=True)
class CertRequest:
    common_name: str
    dns_names: tuple[str, ...]
    key_algorithm: KeyAlgorithm
    duration: timedelta
    renew_before: timedelta


@dataclass(frozen=True)
class Passwords:
    store: str
    key: str


@dataclass(frozen=True)
class Identity:
    """One party's private key, certificate and keystore passwords."""

    key: PrivateKey
    certificate: x509.Certificate
    passwords: Passwords
    # The certificate this one replaced (same key, not expired): stores that pin this party
    # keep trusting it, so a renewal locks no one out whose store still holds it.
    previous: x509.Certificate | None = None
    # A renewed certificate staged for a pinned party: peers pin it before the party presents
    # it (see `promoted`), so no running peer meets a certificate it does not know.
    next: x509.Certificate | None = None

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    def promoted(self) -> Identity:
        """Present the staged certificate; the current one stays pinned as `previous`."""
        if self.next is None:
            return self
        return Identity(self.key, self.next, self.passwords, self.certificate, None)


@dataclass(frozen=True)
class StoredMaterial:
    key: PrivateKey | None = None
    certificate: x509.Certificate | None = None
    passwords: Passwords | None = None
    previous: x509.Certificate | None = None
    next: x509.Certificate | None = None


DEFAULT_RENEW_BEFORE = timedelta(hours=720)


def new_password() -> str:
    """URL-safe ASCII: readable by Java in PKCS12 and safe in a .properties file."""
    return secrets.token_urlsafe(24)


def default_renew_before(duration: timedelta) -> timedelta:
    """The renewal window where none is given: 720h, at most a third of the lifetime."""
    return min(DEFAULT_RENEW_BEFORE, duration / 3)


def renewal_time(certificate: x509.Certificate, renew_before: timedelta) -> datetime:
    return certificate.not_valid_after_utc - renew_before


def issued_by(
    certificate: x509.Certificate,
    issuer: CertificateAuthority | None,
    also: Sequence[x509.Certificate] = (),
) -> bool:
    """True when `issuer` (None: the certificate itself) or one of `also` signed it."""
    signers = [issuer.certificate if issuer is not None else certificate, *also]
    return any(signed_by(certificate, signer) for signer in signers)


def capped_by_issuer(certificate: x509.Certificate, issuer: CertificateAuthority | None) -> bool:
    """The certificate already ends when its CA ends: renewing would not extend it."""
    return issuer is not None and (
        certificate.not_valid_after_utc >= issuer.certificate.not_valid_after_utc
    )


def names_match(certificate: x509.Certificate, request: CertRequest) -> bool:
    """The certificate names exactly the request's common name and DNS names."""
    cns = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if [c.value for c in cns] != [request.common_name]:
        return False
    return sorted(_dns_names(certificate)) == sorted(request.dns_names)


def names_cover(certificate: x509.Certificate, request: CertRequest) -> bool:
    """The certificate names at least the request's DNS names, in any case (a certificate a
    user brought may carry more names and its own common name)."""
    return {d.lower() for d in request.dns_names} <= {d.lower() for d in _dns_names(certificate)}


def _dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(san.value.get_values_for_type(x509.DNSName))


class Reissue(StrEnum):
    """Why a kept key needs a new certificate (the one keep-or-reissue rule of both front
    ends: the operator and `pico-tls keystores`)."""

    KEY_MISMATCH = "certificate does not match the key"
    ISSUER = "certificate issuer changed"
    NAMES = "certificate names changed"
    NOT_YET_VALID = "certificate not yet valid"
    DUE = "certificate renewal due"


def certificate_problem(
    certificate: x509.Certificate,
    key: PrivateKey,
    request: CertRequest,
    issuer: CertificateAuthority | None,
    now: datetime,
    also_accepted: Sequence[x509.Certificate] = (),
    *,
    adopted: bool = False,
) -> Reissue | None:
    """Why the certificate must be replaced, or None when it is still good.

    `also_accepted`: CAs besides `issuer` whose certificates are kept (CA rotation overlap).
    `adopted`: a certificate the user brought, kept while its names cover the request's.
    """
    if not certificate_matches_key(certificate, key):
        return Reissue.KEY_MISMATCH
    if not issued_by(certificate, issuer, also_accepted):
        return Reissue.ISSUER
    if not (names_cover if adopted else names_match)(certificate, request):
        return Reissue.NAMES
    if now < certificate.not_valid_before_utc:
        return Reissue.NOT_YET_VALID
    if now >= renewal_time(certificate, request.renew_before) and not capped_by_issuer(
        certificate, issuer
    ):
        return Reissue.DUE
    return None


def resolve_identity(
    request: CertRequest,
    issuer: CertificateAuthority | None,
    stored: StoredMaterial,
    *,
    passwords: Passwords | None = None,
    now: datetime,
    also_accepted: Sequence[x509.Certificate] = (),
    renew: bool = False,
    stage: bool = False,
    new_key: Callable[[KeyAlgorithm], PrivateKey] = generate_key,
) -> tuple[Identity, list[str]]:
    """Keep the stored key, certificate and passwords where they still fit `request`.

    `passwords` given by the user override stored ones; `renew` reissues the certificate
    (same key) even when it is still good. `stage` (pinned parties): a reissued certificate
    for the same key goes to `next` while the current one, still valid, stays in use.
    `new_key` makes a key when none is kept. Returns the identity and notes on what was made
    new.
    """
    notes: list[str] = []
    key = stored.key
    if key is None or key_algorithm_of(key) != request.key_algorithm:
        notes.append("generated a new key" if key is None else "key algorithm changed: new key")
        key = new_key(request.key_algorithm)
        certificate = None
    else:
        certificate = stored.certificate
    problem = (
        "no certificate"
        if certificate is None
        else certificate_problem(certificate, key, request, issuer, now, also_accepted)
    )
    if problem is None and renew:
        problem = "renewal requested"
    previous = stored.previous
    staged = stored.next if stage and key is stored.key else None
    if staged is not None and certificate_problem(staged, key, request, issuer, now):
        staged = None  # the request changed again since it was staged
    if problem is not None:
        if stage and certificate is not None and now < certificate.not_valid_after_utc:
            if staged is None:
                staged = issue(request, issuer, key, now)
                notes.append(f"staged a new certificate ({problem}): peers trust it first")
        else:
            if certificate is not None:
                previous = certificate
            if staged is not None:
                notes.append(f"put the staged certificate in use ({problem})")
            else:
                notes.append(f"issued a certificate ({problem})")
            certificate = staged or issue(request, issuer, key, now)
            staged = None
    assert certificate is not None
    if previous is not None and not _still_trusted(previous, key, now):
        previous = None
    chosen = passwords or stored.passwords or Passwords(new_password(), "")
    if not chosen.key:
        chosen = Passwords(chosen.store, chosen.store)
    return Identity(key, certificate, chosen, previous, staged), notes


def _still_trusted(previous: x509.Certificate, key: PrivateKey, now: datetime) -> bool:
    """A replaced certificate stays pinned while it is valid and belongs to the same key."""
    return now < previous.not_valid_after_utc and certificate_matches_key(previous, key)


def issue(
    request: CertRequest, issuer: CertificateAuthority | None, key: PrivateKey, now: datetime
) -> x509.Certificate:
    """A certificate for `key` as `request` says: issued by `issuer`, or self-signed."""
    if issuer is None:
        return self_signed_certificate(
            key,
            common_name=request.common_name,
            dns_names=request.dns_names,
            duration=request.duration,
            now=now,
        )
    return issue_certificate(
        issuer,
        key.public_key(),
        common_name=request.common_name,
        dns_names=request.dns_names,
        duration=request.duration,
        now=now,
    )
