"""What a keystore holds and how it is written; shared by every encoder."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509

from pico_tls.pki import PrivateKey, certificate_matches_key


class KeystoreError(ValueError):
    """An unreadable or unwritable keystore; messages never contain a password or key."""


class StoreFormat(StrEnum):
    JKS = "jks"
    PKCS12 = "pkcs12"


class Pkcs12Profile(StrEnum):
    LEGACY_3DES = "legacy-3des"  # PBE-SHA1-3DES + HMAC-SHA1: every JVM, OpenSSL 3, FIPS
    MODERN_AES = "modern-aes"  # PBES2 AES-256 + HMAC-SHA256: Java 8u301+/11.0.12+


@dataclass(frozen=True)
class KeyEntry:
    """A private-key entry; the chain starts with the key's own certificate. As Java reads a
    PKCS12 store, the chain keeps only certificates that issued their predecessor (by name)
    and ends at a self-signed one; aliases are lower-cased, as Java does."""

    alias: str
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "alias", _check_alias(self.alias))
        object.__setattr__(self, "chain", linked_chain(tuple(self.chain)))
        if not self.chain:
            raise KeystoreError(f"key entry {self.alias!r} has no certificate")
        if not certificate_matches_key(self.chain[0], self.key):
            raise KeystoreError(f"key entry {self.alias!r}: the key does not match its certificate")


@dataclass(frozen=True)
class KeystoreContent:
    """A key entry (optional) and trusted certificates; trusted entries are kept sorted by
    alias, and all aliases (case-insensitive) must be unique."""

    key_entry: KeyEntry | None
    trusted: tuple[tuple[str, x509.Certificate], ...] = ()

    def __post_init__(self) -> None:
        trusted = tuple(sorted(((_check_alias(a), c) for a, c in self.trusted), key=_first))
        object.__setattr__(self, "trusted", trusted)
        aliases = [a for a, _ in trusted]
        if self.key_entry is not None:
            aliases.append(self.key_entry.alias)
        seen: set[str] = set()
        for alias in aliases:
            if alias in seen:
                raise KeystoreError(f"duplicate keystore alias {alias!r}")
            seen.add(alias)


@dataclass(frozen=True)
class StoreOptions:
    format: StoreFormat
    store_password: str
    key_password: str
    profile: Pkcs12Profile = Pkcs12Profile.LEGACY_3DES


def linked_chain(chain: tuple[x509.Certificate, ...]) -> tuple[x509.Certificate, ...]:
    """The leading part of `chain` in which each certificate issued the one before it."""
    for n in range(1, len(chain)):
        previous = chain[n - 1]
        if previous.issuer == previous.subject or chain[n].subject != previous.issuer:
            return chain[:n]
    return chain


def _first(pair: tuple[str, x509.Certificate]) -> str:
    return pair[0]


def _check_alias(alias: str) -> str:
    if not alias or not alias.strip():
        raise KeystoreError("keystore aliases must not be empty")
    return alias.lower()


_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]+")


def unique_alias(base: str, taken: Collection[str]) -> str:
    """`base` made a safe alias (lower case, [a-z0-9._-]), with -2, -3 ... on collision."""
    stem = _NOT_ALLOWED.sub("-", base.lower()).strip("-") or "cert"
    used = {t.lower() for t in taken}
    alias, n = stem, 1
    while alias in used:
        n += 1
        alias = f"{stem}-{n}"
    return alias


def file_name(fmt: StoreFormat) -> str:
    return "keystore.jks" if fmt is StoreFormat.JKS else "keystore.p12"
