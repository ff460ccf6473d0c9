"""How a PKCS#12 file is protected, read without its password (the algorithm identifiers
are in clear), and which Java versions can open it."""

from __future__ import annotations

from dataclasses import dataclass

from pico_tls.keystore import _der as der
from pico_tls.keystore.model import KeystoreError, Pkcs12Profile
from pico_tls.keystore.pbe import PBE_SHA1_3DES, PBE_SHA1_RC2, PBES2, SHA1, SHA256
from pico_tls.keystore.pkcs12 import DATA, ENCRYPTED_DATA, SHROUDED_KEY_BAG

NAMES = {
    PBE_SHA1_3DES: "PBEWithSHA1AndDESede (3DES)",
    PBES2: "PBES2 (PBKDF2, AES-256-CBC)",
    SHA1: "HmacSHA1",
    SHA256: "HmacSHA256",
    **{oid: "PBEWithSHA1AndRC2" for oid in PBE_SHA1_RC2},
}
EVERY_JAVA = "every Java version (8, 11, 17, 21 and later)"
MODERN_JAVA = "Java 8u301+, 11.0.12+, 17 and later (older ones cannot open it)"


@dataclass(frozen=True)
class Pkcs12Protection:
    mac: str  # "HmacSHA1", "HmacSHA256"
    certificates: str  # how the certificate bags are encrypted ("none": in clear)
    key: str | None  # how the private key is encrypted (None: no key, or not visible)
    mac_iterations: int

    @property
    def profile(self) -> Pkcs12Profile | None:
        """The operator's profile this protection is, if any."""
        algorithms = {self.mac, self.certificates, self.key or self.certificates}
        if algorithms <= {NAMES[SHA1], NAMES[PBE_SHA1_3DES], "PBEWithSHA1AndRC2", "none"}:
            return Pkcs12Profile.LEGACY_3DES
        if algorithms <= {NAMES[SHA256], NAMES[PBES2], "none"}:
            return Pkcs12Profile.MODERN_AES
        return None

    @property
    def readers(self) -> str:
        modern = {self.mac, self.certificates, self.key} & {NAMES[SHA256], NAMES[PBES2]}
        return MODERN_JAVA if modern else EVERY_JAVA


def _algorithm(identifier: bytes) -> str:
    oid = der.read_oid(der.items(der.expect(identifier, der.SEQUENCE))[0])
    return NAMES.get(oid, oid)


def pkcs12_protection(data: bytes) -> Pkcs12Protection:
    """The MAC and encryption algorithms of a PKCS#12 store (KeystoreError if unreadable)."""
    try:
        fields = der.items(der.expect(data, der.SEQUENCE))
        mac_fields = der.items(der.expect(fields[2], der.SEQUENCE))
        digest_info = der.items(der.expect(mac_fields[0], der.SEQUENCE))
        mac = _algorithm(digest_info[0])
        iterations = der.read_int(mac_fields[2]) if len(mac_fields) > 2 else 1
        _, wrapped = der.items(der.expect(fields[1], der.SEQUENCE))
        auth_safe = der.expect(der.expect(wrapped, 0xA0), der.OCTET_STRING)
        certificates, key = "none", None
        for info in der.items(der.expect(auth_safe, der.SEQUENCE)):
            kind_der, inner = der.items(der.expect(info, der.SEQUENCE))
            content = der.expect(inner, 0xA0)
            kind = der.read_oid(kind_der)
            if kind == ENCRYPTED_DATA:
                encrypted_info = der.items(der.expect(content, der.SEQUENCE))[1]
                certificates = _algorithm(der.items(der.expect(encrypted_info, der.SEQUENCE))[1])
            elif kind == DATA:
                key = _key_algorithm(der.expect(content, der.OCTET_STRING)) or key
    except (der.DerError, IndexError, ValueError) as exc:
        raise KeystoreError(f"not a readable PKCS#12 keystore: {exc}") from None
    return Pkcs12Protection(mac, certificates, key, iterations)


def _key_algorithm(safe_contents: bytes) -> str | None:
    for bag in der.items(der.expect(safe_contents, der.SEQUENCE)):
        fields = der.items(der.expect(bag, der.SEQUENCE))
        if der.read_oid(fields[0]) == SHROUDED_KEY_BAG:
            shrouded = der.expect(fields[1], 0xA0)
            return _algorithm(der.items(der.expect(shrouded, der.SEQUENCE))[0])
    return None
