"""A party's key material made the operator's way (`material.resolve_identity`), for tests that
run JVMs or stand-ins against stores they build themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pico_tls.material import CertRequest, Identity, Passwords, StoredMaterial, resolve_identity
from pico_tls.pki.certs import CertificateAuthority
from pico_tls.pki.keys import KeyAlgorithm

YEAR = timedelta(days=365)


def new_identity(
    name: str, issuer: CertificateAuthority | None, store_password: str, key_password: str
) -> Identity:
    """A fresh EC P-256 identity for `name` (also its DNS name), issued by `issuer` or
    self-signed, valid a year from now."""
    request = CertRequest(name, (name,), KeyAlgorithm.EC_P256, YEAR, timedelta(days=30))
    identity, _ = resolve_identity(
        request,
        issuer,
        StoredMaterial(),
        passwords=Passwords(store_password, key_password),
        now=datetime.now(UTC),
    )
    return identity
