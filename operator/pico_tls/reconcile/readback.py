"""Read back key material the operator wrote earlier, from Secret data."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cryptography import x509

from pico_tls.builders import names, secret_manifests
from pico_tls.keystore import KeystoreError, StoreOptions, decode_keystore, detect_format
from pico_tls.material import Passwords, StoredMaterial
from pico_tls.pki.certs import (
    CertificateAuthority,
    PkiError,
    certificate_matches_key,
    certs_from_pem,
    load_ca,
)
from pico_tls.pki.keys import key_from_pem


def passwords_from(data: Mapping[str, bytes]) -> Passwords | None:
    store = data.get(names.STORE_PASSWORD_KEY)
    if not store:
        return None
    key = data.get(names.KEY_PASSWORD_KEY) or store
    return Passwords(store.decode().strip(), key.decode().strip())


def from_state(data: Mapping[str, bytes]) -> StoredMaterial:
    """Key, certificate and passwords from a state Secret; missing or broken parts are None."""
    key = None
    try:
        key = key_from_pem(data["tls.key"]) if "tls.key" in data else None
    except PkiError:
        key = None
    return StoredMaterial(
        key=key,
        certificate=_first_cert(data, "tls.crt"),
        passwords=passwords_from(data),
        previous=_first_cert(data, names.PREVIOUS_CERT_KEY),
        next=_first_cert(data, names.NEXT_CERT_KEY),
    )


def _first_cert(data: Mapping[str, bytes], key: str) -> x509.Certificate | None:
    try:
        certs = certs_from_pem(data[key]) if key in data else []
    except (PkiError, ValueError):
        return None
    return certs[0] if certs else None


def cas_from(data: Mapping[str, bytes]) -> list[x509.Certificate]:
    """The CAs a mounted keystore Secret's `ca.crt` bundle says its pods trust ([]: none)."""
    try:
        return certs_from_pem(data[names.CA_BUNDLE_KEY]) if names.CA_BUNDLE_KEY in data else []
    except (PkiError, ValueError):
        return []


def from_keystore_secret(data: Mapping[str, bytes]) -> StoredMaterial:
    """Recover a key from a mounted keystore Secret (when its state Secret was deleted)."""
    passwords = passwords_from(data)
    blob = data.get("keystore.p12") or data.get("keystore.jks")
    if passwords is None or blob is None:
        return StoredMaterial()
    try:
        content = decode_keystore(
            blob, StoreOptions(detect_format(blob), passwords.store, passwords.key)
        )
    except KeystoreError:
        return StoredMaterial(passwords=passwords)
    entry = content.key_entry
    if entry is None:
        return StoredMaterial(passwords=passwords)
    return StoredMaterial(key=entry.key, certificate=entry.chain[0], passwords=passwords)


def trusted_from(data: Mapping[str, bytes]) -> list[x509.Certificate]:
    """The trusted certificates of a mounted keystore Secret ([] when unreadable)."""
    return [cert for _, cert in _trusted_entries(data)]


def trusted_aliases_from(data: Mapping[str, bytes]) -> set[str]:
    """The aliases of a mounted keystore Secret's trusted entries (empty when unreadable)."""
    return {alias for alias, _ in _trusted_entries(data)}


def _trusted_entries(data: Mapping[str, bytes]) -> tuple[tuple[str, x509.Certificate], ...]:
    passwords = passwords_from(data)
    blob = data.get("keystore.p12") or data.get("keystore.jks")
    if passwords is None or blob is None:
        return ()
    try:
        content = decode_keystore(
            blob, StoreOptions(detect_format(blob), passwords.store, passwords.key)
        )
    except KeystoreError:
        return ()
    return content.trusted


def with_pinned_versions(
    found: StoredMaterial, pinned: Sequence[x509.Certificate]
) -> StoredMaterial:
    """`found` (recovered without its state Secret) with the other certificates of its key
    that a peer still pins: the one a renewal replaced (previous) and a staged one (next)."""
    current = found.certificate
    if found.key is None or current is None:
        return found
    others = [c for c in pinned if c != current and certificate_matches_key(c, found.key)]
    older = [c for c in others if c.not_valid_before_utc <= current.not_valid_before_utc]
    newer = [c for c in others if c.not_valid_before_utc > current.not_valid_before_utc]
    return replace(
        found, previous=found.previous or _latest(older), next=found.next or _latest(newer)
    )


def _latest(certs: Sequence[x509.Certificate]) -> x509.Certificate | None:
    return max(certs, key=lambda c: c.not_valid_before_utc) if certs else None


def merged(primary: StoredMaterial, fallback: StoredMaterial) -> StoredMaterial:
    return StoredMaterial(
        key=primary.key or fallback.key,
        certificate=primary.certificate if primary.key else fallback.certificate,
        passwords=primary.passwords or fallback.passwords,
        previous=primary.previous,
        next=primary.next,
    )


def ca_from(data: Mapping[str, bytes]) -> CertificateAuthority:
    """The CA in a Secret with `tls.crt` and `tls.key`; PkiError says what is wrong."""
    if "tls.crt" not in data or "tls.key" not in data:
        raise PkiError("the CA Secret needs the keys tls.crt and tls.key")
    return load_ca(data["tls.crt"], data["tls.key"])


Decoder = Callable[[Mapping[str, bytes]], Any]
# (secret, what, decoder) -> decoder(secret's data), memoized while the Secret is unchanged
DecodeCache = Callable[[Mapping[str, Any] | None, str, Decoder], Any]


def uncached(secret: Mapping[str, Any] | None, what: str, decode: Decoder) -> Any:
    return decode(secret_manifests.decode_data(secret) if secret is not None else {})


class DecodedSecrets:
    """Decoding keys and keystores is the costly part of a pass: a Secret that has not changed
    (same uid and resourceVersion) is not decoded again. Thread-safe."""

    _MISSING = object()

    def __init__(self, limit: int = 20000) -> None:
        self._found: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def __call__(self, secret: Mapping[str, Any] | None, what: str, decode: Decoder) -> Any:
        if secret is None:
            return decode({})
        meta = secret["metadata"]
        key = (meta.get("uid", ""), meta.get("resourceVersion", ""), what)
        with self._lock:
            found = self._found.get(key, self._MISSING)
        if found is self._MISSING:
            found = uncached(secret, what, decode)
            with self._lock:
                if len(self._found) > self._limit:
                    self._found.clear()
                self._found[key] = found
        return found
