"""A party's key and certificate in a classic folder: kept (ours or one the user brought) while
it fits the operator's renewal rule, otherwise issued as the operator issues it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from pico_tls.classic.options import Options, new_passwords
from pico_tls.keystore import KeystoreContent, StoreFormat, unique_alias
from pico_tls.material import CertRequest, Passwords, capped_by_issuer, issue, renewal_time
from pico_tls.pki import CertificateAuthority, PrivateKey, signed_by


@dataclass(frozen=True)
class FoundStore:
    """A keystore found in DIR/NAME, decoded with its password files."""

    content: KeystoreContent
    passwords: Passwords
    format: StoreFormat
    data: bytes


@dataclass(frozen=True)
class ClassicIdentity:
    alias: str
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    passwords: Passwords
    key_status: str
    cert_status: str

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]


def _dns_of(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {n.lower() for n in san.get_values_for_type(x509.DNSName)}


def _certificate_problem(
    cert: x509.Certificate, issuer: CertificateAuthority | None, request: CertRequest, now: datetime
) -> str | None:
    """Why a kept key needs a new certificate, or None to keep it (renewal: the operator's
    rule, `renewal_time` with the request's renewBefore)."""
    dns = request.dns_names
    signer = issuer.certificate if issuer is not None else cert
    if not signed_by(cert, signer):
        return "issuer changed" if issuer is not None else "not self-signed"
    if not {d.lower() for d in dns} <= _dns_of(cert):
        return "new host names"
    if cert.not_valid_before_utc > now:
        return "not yet valid"
    due = renewal_time(cert, request.renew_before) <= now
    if due and not capped_by_issuer(cert, issuer):  # a reissue would not extend it
        return "expires soon"
    return None


def _request(name: str, options: Options) -> CertRequest:
    return CertRequest(
        common_name=name,
        dns_names=options.dns_names(name),
        key_algorithm=options.key,
        duration=options.duration,
        renew_before=options.renewal_window,
    )


def resolve(
    name: str,
    options: Options,
    found: FoundStore | None,
    managed: bool,
    issuer: CertificateAuthority | None,
    now: datetime,
    new_key: PrivateKey | None,
) -> ClassicIdentity:
    """Keep the key (ours, or one the user brought) and its certificate while it fits;
    otherwise issue one as the operator does (`material.issue`)."""
    request = _request(name, options)
    entry = found.content.key_entry if found is not None else None
    if found is not None and entry is not None:
        key, alias, passwords = entry.key, entry.alias, found.passwords
        key_status = "kept" if managed else "adopted"
        problem = _certificate_problem(entry.chain[0], issuer, request, now)
        if problem is None:
            kept = (entry.chain[0],) + ((issuer.certificate,) if issuer is not None else ())
            return ClassicIdentity(alias, key, kept, passwords, key_status, "kept")
        cert_status = f"reissued: {problem}"
    else:
        assert new_key is not None
        key, alias = new_key, unique_alias(name, ())
        passwords = found.passwords if found is not None else new_passwords()
        key_status, cert_status = "new", "new"
    cert = issue(request, issuer, key, now)
    chain = (cert,) + ((issuer.certificate,) if issuer is not None else ())
    return ClassicIdentity(alias, key, chain, passwords, key_status, cert_status)
