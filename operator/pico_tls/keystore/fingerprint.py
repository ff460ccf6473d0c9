"""A content hash of a keystore that re-encoding (new salts) does not change."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.serialization import Encoding

from pico_tls.keystore.model import KeystoreContent, StoreFormat, StoreOptions
from pico_tls.pki import key_to_der


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def content_fingerprint(content: KeystoreContent, options: StoreOptions) -> str:
    """SHA-256 hex over the format, profile (PKCS12 only), passwords, key entry and trusted
    entries: equal for equal content, whatever bytes an encoding produced."""
    profile = options.profile.value if options.format is StoreFormat.PKCS12 else ""
    parts = [
        b"pico-tls-keystore-v1",
        options.format.value.encode(),
        profile.encode(),
        options.store_password.encode(),
        options.key_password.encode(),
    ]
    entry = content.key_entry
    if entry is None:
        parts.append(b"no-key")
    else:
        parts += [
            b"key",
            entry.alias.encode(),
            key_to_der(entry.key),
            str(len(entry.chain)).encode(),
        ]
        parts += [c.public_bytes(Encoding.DER) for c in entry.chain]
    for alias, cert in content.trusted:
        parts += [b"trusted", alias.encode(), cert.public_bytes(Encoding.DER)]
    return hashlib.sha256(b"".join(_field(p) for p in parts)).hexdigest()
