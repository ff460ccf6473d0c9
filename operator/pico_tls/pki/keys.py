"""Private keys: generation, PEM round trips, algorithm detection."""

from __future__ import annotations

from enum import StrEnum

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pico_tls.pki.errors import PkiError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyAlgorithm(StrEnum):
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"


_RSA_SIZES = {
    KeyAlgorithm.RSA_2048: 2048,
    KeyAlgorithm.RSA_3072: 3072,
    KeyAlgorithm.RSA_4096: 4096,
}
_CURVES: dict[KeyAlgorithm, type[ec.EllipticCurve]] = {
    KeyAlgorithm.EC_P256: ec.SECP256R1,
    KeyAlgorithm.EC_P384: ec.SECP384R1,
}


def generate_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm in _RSA_SIZES:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_SIZES[algorithm])
    return ec.generate_private_key(_CURVES[algorithm]())


def key_to_pem(key: PrivateKey) -> bytes:
    """PKCS#8, unencrypted."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def key_to_der(key: PrivateKey) -> bytes:
    """PKCS#8 DER, unencrypted."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _supported(loaded: object) -> PrivateKey:
    if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PkiError("unsupported private key type: only RSA and ECDSA keys are supported")
    key_algorithm_of(loaded)
    return loaded


def key_from_pem(data: bytes) -> PrivateKey:
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise PkiError("the private key is encrypted; an unencrypted PEM key is required") from None
    except (ValueError, UnsupportedAlgorithm):
        raise PkiError("not a readable PEM private key") from None
    return _supported(loaded)


def key_from_der(data: bytes, *, validate: bool = True) -> PrivateKey:
    """Unencrypted PKCS#8 DER (as found inside keystores). `validate=False` skips the costly
    RSA consistency check (~30 ms) for keys we wrote ourselves, read back from a keystore."""
    try:
        loaded = serialization.load_der_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=not validate
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise PkiError("not a readable DER private key") from None
    return _supported(loaded)


def key_algorithm_of(key: PrivateKey) -> KeyAlgorithm:
    if isinstance(key, rsa.RSAPrivateKey):
        for algorithm, size in _RSA_SIZES.items():
            if key.key_size == size:
                return algorithm
        raise PkiError(f"unsupported RSA key size {key.key_size} (2048, 3072 or 4096)")
    for algorithm, curve in _CURVES.items():
        if isinstance(key.curve, curve):
            return algorithm
    raise PkiError(f"unsupported elliptic curve {key.curve.name} (P-256 or P-384)")
