"""What each keystore holds: its own key entry and the certificates it trusts.

Trust rules (see docs/architecture.md):
- CertificateAuthority trust: leaf certificates are issued by the CA and every store trusts the
  CA, so a new ExecutionContainer changes no other store.
- Pinned trust: certificates are self-signed and trusted one by one (the seed's export/import).
- Desktop certificates are always self-signed and pinned in the platform's store, so deleting a
  DesktopClient revokes it even when a CA is in use.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from pico_tls.keystore import KeyEntry, KeystoreContent, unique_alias
from pico_tls.material import Identity
from pico_tls.pki.certs import CertificateAuthority

CA_ALIAS = "pico-ca"
PLATFORM_ALIAS = "pico-platform"


def _content(
    alias: str,
    identity: Identity,
    ca: CertificateAuthority | None,
    trusted: Sequence[tuple[str, x509.Certificate]],
) -> KeystoreContent:
    chain = (identity.certificate,) + ((ca.certificate,) if ca is not None else ())
    taken = {alias}
    entries: list[tuple[str, x509.Certificate]] = []
    for base, cert in trusted:
        unique = unique_alias(base, taken)
        taken.add(unique)
        entries.append((unique, cert))
    return KeystoreContent(
        key_entry=KeyEntry(alias=alias, key=identity.key, chain=chain),
        trusted=tuple(sorted(entries, key=lambda e: e[0])),
    )


def platform_store(
    alias: str,
    platform: Identity,
    ca: CertificateAuthority | None,
    pinned_containers: Sequence[tuple[str, x509.Certificate]],
    desktops: Sequence[tuple[str, x509.Certificate]],
) -> KeystoreContent:
    """The platform trusts the CA (or each container's certificate) and each desktop."""
    trusted: list[tuple[str, x509.Certificate]] = []
    if ca is not None:
        trusted.append((CA_ALIAS, ca.certificate))
    trusted += [(f"ec-{name}", cert) for name, cert in sorted(pinned_containers, key=_first)]
    trusted += [(f"desktop-{name}", cert) for name, cert in sorted(desktops, key=_first)]
    return _content(alias, platform, ca, trusted)


def peer_store(
    alias: str,
    identity: Identity,
    ca: CertificateAuthority | None,
    platform_certificate: x509.Certificate,
) -> KeystoreContent:
    """A container's or desktop's store: its own key, trusting the platform."""
    if ca is not None:
        return _content(alias, identity, ca, [(CA_ALIAS, ca.certificate)])
    return _content(alias, identity, None, [(PLATFORM_ALIAS, platform_certificate)])


def _first(entry: tuple[str, x509.Certificate]) -> str:
    return entry[0]
