"""A party's key and certificate in a classic folder: kept (ours or one the user brought) while
the operator's keep-or-reissue rule (`material.certificate_problem`) keeps it, otherwise issued
as the operator issues it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from pico_tls.classic.options import Options, new_passwords
from pico_tls.keystore import KeystoreContent, StoreFormat, unique_alias
from pico_tls.material import CertRequest, Passwords, Reissue, certificate_problem, issue
from pico_tls.pki import CertificateAuthority, PrivateKey


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


# How `pico-tls keystores` words the material rule's reasons in its summary.
_WORDS = {
    Reissue.KEY_MISMATCH: "key changed",
    Reissue.ISSUER: "issuer changed",
    Reissue.NAMES: "new host names",
    Reissue.NOT_YET_VALID: "not yet valid",
    Reissue.DUE: "expires soon",
}


def _reissue_reason(
    cert: x509.Certificate,
    key: PrivateKey,
    issuer: CertificateAuthority | None,
    request: CertRequest,
    now: datetime,
    adopted: bool,
) -> str | None:
    """Why a kept key needs a new certificate, or None to keep it: the operator's rule
    (`material.certificate_problem`); a key the user brought keeps its certificate while its
    names cover ours."""
    problem = certificate_problem(cert, key, request, issuer, now, adopted=adopted)
    if problem is Reissue.ISSUER and issuer is None:
        return "not self-signed"
    return None if problem is None else _WORDS[problem]


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
        problem = _reissue_reason(entry.chain[0], key, issuer, request, now, not managed)
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
