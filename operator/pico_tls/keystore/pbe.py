"""PKCS#12 password-based encryption and MAC (RFC 7292 Appendix B KDF, PBES2 of RFC 8018)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from pico_tls.keystore import _der as der

PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3"
# Read only: RC2 is what Java's and OpenSSL's legacy modes write for certificates.
PBE_SHA1_RC2 = {"1.2.840.113549.1.12.1.5": 16, "1.2.840.113549.1.12.1.6": 5}
PBES2 = "1.2.840.113549.1.5.13"
PBKDF2 = "1.2.840.113549.1.5.12"
HMAC_SHA256 = "1.2.840.113549.2.9"
HMAC_SHA1 = "1.2.840.113549.2.7"
AES_256_CBC = "2.16.840.1.101.3.4.1.42"
SHA1 = "1.3.14.3.2.26"
SHA256 = "2.16.840.1.101.3.4.2.1"

# OpenSSL's default (PKCS12_DEFAULT_ITER); Java accepts up to 5,000,000.
ITERATIONS = 2048
_MAX_ITERATIONS = 5_000_000
_HASHES = {SHA1: "sha1", SHA256: "sha256"}
_KEY_ID, _IV_ID, _MAC_ID = 1, 2, 3


class PbeError(ValueError):
    """Decryption or MAC failure (most likely a wrong password)."""


def _bmp_password(password: str) -> bytes:
    return password.encode("utf-16-be") + b"\x00\x00"


def _stretch(data: bytes, v: int) -> bytes:
    if not data:
        return b""
    n = v * ((len(data) + v - 1) // v)
    return (data * (n // len(data) + 1))[:n]


def pkcs12_kdf(
    hash_name: str, password: str, salt: bytes, purpose: int, iterations: int, size: int
) -> bytes:
    """RFC 7292 Appendix B.2."""
    v = 64  # block size of SHA-1 and SHA-256
    d = bytes([purpose]) * v
    i = bytearray(_stretch(salt, v) + _stretch(_bmp_password(password), v))
    new = getattr(hashlib, hash_name)  # hashlib.sha1 is much faster than hashlib.new
    out = b""
    while len(out) < size:
        a = new(d + i).digest()
        for _ in range(iterations - 1):
            a = new(a).digest()
        out += a
        if len(out) >= size:
            break
        b = int.from_bytes(_stretch(a, v), "big") + 1
        for j in range(0, len(i), v):
            block = (int.from_bytes(i[j : j + v], "big") + b) % (1 << (8 * v))
            i[j : j + v] = block.to_bytes(v, "big")
    return out[:size]


@dataclass(frozen=True)
class Scheme:
    """How bags are encrypted and how the store is MACed."""

    modern: bool

    def encrypt(self, password: str, plaintext: bytes) -> tuple[bytes, bytes]:
        """(AlgorithmIdentifier DER, ciphertext)."""
        salt = os.urandom(16 if self.modern else 8)
        if self.modern:
            iv = os.urandom(16)
            key = _pbkdf2(password, salt, ITERATIONS)
            algorithm = der.seq(
                der.oid(PBES2),
                der.seq(
                    der.seq(
                        der.oid(PBKDF2),
                        der.seq(
                            der.octets(salt),
                            der.integer(ITERATIONS),
                            der.seq(der.oid(HMAC_SHA256), der.null()),
                        ),
                    ),
                    der.seq(der.oid(AES_256_CBC), der.octets(iv)),
                ),
            )
            return algorithm, _cbc(algorithms.AES(key), iv, plaintext, encrypt=True)
        key = pkcs12_kdf("sha1", password, salt, _KEY_ID, ITERATIONS, 24)
        iv = pkcs12_kdf("sha1", password, salt, _IV_ID, ITERATIONS, 8)
        algorithm = der.seq(
            der.oid(PBE_SHA1_3DES), der.seq(der.octets(salt), der.integer(ITERATIONS))
        )
        return algorithm, _cbc(TripleDES(key), iv, plaintext, encrypt=True)

    def mac(self, password: str, data: bytes) -> bytes:
        """MacData DER over `data`."""
        digest_oid, name = (SHA256, "sha256") if self.modern else (SHA1, "sha1")
        salt = os.urandom(32 if self.modern else 20)
        value = _mac_value(name, password, salt, ITERATIONS, data)
        return der.seq(
            der.seq(der.seq(der.oid(digest_oid), der.null()), der.octets(value)),
            der.octets(salt),
            der.integer(ITERATIONS),
        )


def _pbkdf2(password: str, salt: bytes, iterations: int, prf: str = HMAC_SHA256) -> bytes:
    algorithm: hashes.HashAlgorithm = hashes.SHA256() if prf == HMAC_SHA256 else hashes.SHA1()
    kdf = PBKDF2HMAC(algorithm=algorithm, length=32, salt=salt, iterations=iterations)
    return kdf.derive(password.encode("utf-8"))


def _cbc(algorithm: algorithms.AES | TripleDES, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(algorithm, modes.CBC(iv))
    block = algorithm.block_size
    if encrypt:
        padder = padding.PKCS7(block).padder()
        enc = cipher.encryptor()
        return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()
    dec = cipher.decryptor()
    try:
        padded = dec.update(data) + dec.finalize()
        unpadder = padding.PKCS7(block).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise PbeError("decryption failed") from None


def _rc2_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    from Cryptodome.Cipher import ARC2  # pyjks's dependency; imported only when needed

    if not data or len(data) % 8:
        raise PbeError("decryption failed")
    cipher = ARC2.new(key, ARC2.MODE_CBC, iv=iv, effective_keylen=len(key) * 8)  # type: ignore[call-arg]
    padded = cipher.decrypt(data)
    pad = padded[-1]
    if not 0 < pad <= 8 or padded[-pad:] != bytes([pad]) * pad:
        raise PbeError("decryption failed")
    return padded[:-pad]


def _mac_value(name: str, password: str, salt: bytes, iterations: int, data: bytes) -> bytes:
    size = hashlib.new(name).digest_size
    key = pkcs12_kdf(name, password, salt, _MAC_ID, iterations, size)
    return hmac.new(key, data, name).digest()


def _iterations(encoded: bytes) -> int:
    count = der.read_int(encoded)
    if not 0 < count <= _MAX_ITERATIONS:
        raise der.DerError("unsupported iteration count")
    return count


def decrypt(algorithm: bytes, password: str, ciphertext: bytes) -> bytes:
    """Decrypt with the scheme named by an AlgorithmIdentifier (3DES or PBES2/AES)."""
    alg_oid, params = der.items(der.expect(algorithm, der.SEQUENCE))[:2]
    name = der.read_oid(alg_oid)
    if name == PBE_SHA1_3DES:
        salt_der, count_der = der.items(der.expect(params, der.SEQUENCE))
        salt, count = der.expect(salt_der, der.OCTET_STRING), _iterations(count_der)
        key = pkcs12_kdf("sha1", password, salt, _KEY_ID, count, 24)
        iv = pkcs12_kdf("sha1", password, salt, _IV_ID, count, 8)
        return _cbc(TripleDES(key), iv, ciphertext, encrypt=False)
    if name in PBE_SHA1_RC2:
        salt_der, count_der = der.items(der.expect(params, der.SEQUENCE))
        salt, count = der.expect(salt_der, der.OCTET_STRING), _iterations(count_der)
        size = PBE_SHA1_RC2[name]
        key = pkcs12_kdf("sha1", password, salt, _KEY_ID, count, size)
        iv = pkcs12_kdf("sha1", password, salt, _IV_ID, count, 8)
        return _rc2_decrypt(key, iv, ciphertext)
    if name == PBES2:
        kdf, scheme = der.items(der.expect(params, der.SEQUENCE))
        kdf_oid, kdf_params = der.items(der.expect(kdf, der.SEQUENCE))
        scheme_oid, iv_der = der.items(der.expect(scheme, der.SEQUENCE))
        if der.read_oid(kdf_oid) != PBKDF2 or der.read_oid(scheme_oid) != AES_256_CBC:
            raise der.DerError("unsupported PBES2 parameters (PBKDF2 with AES-256-CBC only)")
        fields = der.items(der.expect(kdf_params, der.SEQUENCE))
        salt, count = der.expect(fields[0], der.OCTET_STRING), _iterations(fields[1])
        prf = HMAC_SHA1
        for field in fields[2:]:
            if field[0] == der.SEQUENCE:
                prf = der.read_oid(der.items(der.expect(field, der.SEQUENCE))[0])
        if prf not in (HMAC_SHA1, HMAC_SHA256):
            raise der.DerError("unsupported PBKDF2 pseudo-random function")
        key = _pbkdf2(password, salt, count, prf)
        iv = der.expect(iv_der, der.OCTET_STRING)
        return _cbc(algorithms.AES(key), iv, ciphertext, encrypt=False)
    raise der.DerError(f"unsupported PKCS#12 encryption algorithm {name}")


def verify_mac(mac_data: bytes, password: str, data: bytes) -> None:
    fields = der.items(der.expect(mac_data, der.SEQUENCE))
    digest_info, salt_der = fields[0], fields[1]
    count = _iterations(fields[2]) if len(fields) > 2 else 1
    algorithm, value_der = der.items(der.expect(digest_info, der.SEQUENCE))
    digest_oid = der.read_oid(der.items(der.expect(algorithm, der.SEQUENCE))[0])
    if digest_oid not in _HASHES:
        raise der.DerError("unsupported PKCS#12 MAC algorithm")
    salt = der.expect(salt_der, der.OCTET_STRING)
    expected = der.expect(value_der, der.OCTET_STRING)
    actual = _mac_value(_HASHES[digest_oid], password, salt, count, data)
    if not hmac.compare_digest(expected, actual):
        raise PbeError("MAC verification failed")
