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
from cryptography.hazmat.primitives import hashes

from pico_tls.keystore import KeyEntry, KeystoreContent, unique_alias
from pico_tls.material import Identity
from pico_tls.pki.certs import CertificateAuthority, signed_by

CA_ALIAS = "pico-ca"
PREVIOUS_CA_ALIAS = "pico-ca-previous"
PLATFORM_ALIAS = "pico-platform"


def _content(
    alias: str,
    identity: Identity,
    cas: Sequence[x509.Certificate],
    trusted: Sequence[tuple[str, x509.Certificate]],
) -> KeystoreContent:
    """The key entry (with its issuing CA in the chain, when one of `cas` signed it) and
    the trusted entries under unique aliases."""
    issuer = next((ca for ca in cas if signed_by(identity.certificate, ca)), None)
    chain = (identity.certificate,) + ((issuer,) if issuer is not None else ())
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


def _ca_entries(
    ca: CertificateAuthority | None, previous_cas: Sequence[x509.Certificate]
) -> list[tuple[str, x509.Certificate]]:
    if ca is None:
        return []
    return [(CA_ALIAS, ca.certificate)] + [(PREVIOUS_CA_ALIAS, c) for c in previous_cas]


Trusted = list[tuple[str, x509.Certificate]]  # (alias, certificate) before de-duplication


def platform_trust(
    ca: CertificateAuthority | None,
    pinned_containers: Sequence[tuple[str, x509.Certificate]],
    desktops: Sequence[tuple[str, x509.Certificate]],
    previous_cas: Sequence[x509.Certificate] = (),
) -> Trusted:
    """What the platform trusts: the CA (or each container's certificate, pinned) and each
    desktop's certificate. `previous_cas`: CAs still trusted while a CA rotation is under way."""
    trusted = _ca_entries(ca, previous_cas)
    trusted += [(f"ec-{name}", cert) for name, cert in sorted(pinned_containers, key=_first)]
    trusted += [(f"desktop-{name}", cert) for name, cert in sorted(desktops, key=_first)]
    return trusted


def peer_trust(
    ca: CertificateAuthority | None,
    platform_pins: Sequence[tuple[str, x509.Certificate]],
    previous_cas: Sequence[x509.Certificate] = (),
) -> Trusted:
    """What a container or desktop trusts: the CA, or else the platform's pinned certificates."""
    if ca is not None:
        return _ca_entries(ca, previous_cas)
    return list(platform_pins)


def platform_store(
    alias: str,
    platform: Identity,
    ca: CertificateAuthority | None,
    pinned_containers: Sequence[tuple[str, x509.Certificate]],
    desktops: Sequence[tuple[str, x509.Certificate]],
    previous_cas: Sequence[x509.Certificate] = (),
) -> KeystoreContent:
    """The platform's own key and `platform_trust`."""
    trusted = platform_trust(ca, pinned_containers, desktops, previous_cas)
    return _content(alias, platform, [c for _, c in _ca_entries(ca, previous_cas)], trusted)


def peer_store(
    alias: str,
    identity: Identity,
    ca: CertificateAuthority | None,
    platform: Identity,
    previous_cas: Sequence[x509.Certificate] = (),
) -> KeystoreContent:
    """A container's or desktop's store: its own key and `peer_trust` (the platform's CA, or
    its certificate pinned, with the one its renewal replaced)."""
    trusted = peer_trust(ca, pins(PLATFORM_ALIAS, platform), previous_cas)
    return _content(alias, identity, [c for _, c in _ca_entries(ca, previous_cas)], trusted)


def pins(name: str, identity: Identity | None) -> list[tuple[str, x509.Certificate]]:
    """What a store pins for one peer: the certificate a renewal replaced (until it expires),
    its certificate, and a staged renewed one, so no version of the peer is locked out.
    Aliases follow that (chronological) order, `name`, `name-2`, ..., so promoting a staged
    certificate changes no alias and no peer's store."""
    if identity is None:
        return []
    versions = (identity.previous, identity.certificate, identity.next)
    unique = {c.fingerprint(hashes.SHA256()): c for c in versions if c is not None}
    return [(name if i == 0 else f"{name}-{i + 1}", c) for i, c in enumerate(unique.values())]


def _first(entry: tuple[str, x509.Certificate]) -> str:
    return entry[0]
