"""Certificates: CAs (operator-managed or the user's), issued and self-signed leaf certificates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pico_tls.clock import system_clock
from pico_tls.pki.errors import PkiError
from pico_tls.pki.keys import PrivateKey, key_from_pem

__all__ = [
    "CertificateAuthority",
    "PkiError",
    "cert_to_pem",
    "certificate_matches_key",
    "certs_from_pem",
    "create_ca",
    "issue_certificate",
    "load_ca",
    "self_signed_certificate",
    "sha256_fingerprint",
]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# Backdating absorbs clock skew between the operator and the pods.
_BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: PrivateKey


def _now(now: datetime | None) -> datetime:
    return (now or system_clock()).astimezone(UTC)


def _hash_for(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _name(common_name: str) -> x509.Name:
    if not common_name:
        raise PkiError("a certificate needs a non-empty common name")
    try:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    except ValueError as exc:
        raise PkiError(f"invalid common name: {exc}") from None


def _public(key: PrivateKey) -> PublicKey:
    return key.public_key()


def _leaf_key_usage(public_key: PublicKey) -> x509.KeyUsage:
    rsa_key = isinstance(public_key, rsa.RSAPublicKey)
    return x509.KeyUsage(
        digital_signature=True,
        key_encipherment=rsa_key,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_builder(
    public_key: PublicKey,
    *,
    common_name: str,
    dns_names: Sequence[str],
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(public_key), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    names = list(dict.fromkeys(n.lower() for n in dns_names if n))
    if names:
        try:
            san = x509.SubjectAlternativeName([x509.DNSName(n) for n in names])
        except ValueError as exc:
            raise PkiError(f"invalid DNS name: {exc}") from None
        builder = builder.add_extension(san, critical=False)
    return builder


def _sign(builder: x509.CertificateBuilder, key: PrivateKey) -> x509.Certificate:
    try:
        return builder.sign(key, _hash_for(key))
    except ValueError as exc:
        raise PkiError(f"cannot sign certificate: {exc}") from None


def create_ca(
    common_name: str,
    key: PrivateKey,
    *,
    duration: timedelta,
    now: datetime | None = None,
) -> CertificateAuthority:
    start = _now(now)
    public_key = _public(key)
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - _BACKDATE)
        .not_valid_after(start + duration)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return CertificateAuthority(_sign(builder, key), key)


def load_ca(cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
    """The user's CA; PkiError unless the certificate is a CA and the key is its key."""
    certs = certs_from_pem(cert_pem)
    cert = certs[0]
    key = key_from_pem(key_pem)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise PkiError("the CA certificate has no basicConstraints extension") from None
    if not constraints.ca:
        raise PkiError("the certificate is not a CA certificate (basicConstraints CA:false)")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise PkiError("the CA certificate's key usage does not allow signing certificates")
    if not certificate_matches_key(cert, key):
        raise PkiError("the CA private key does not match the CA certificate")
    return CertificateAuthority(cert, key)


def _authority_key_identifier(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        public = ca_cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise PkiError("unsupported CA public key type") from None
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(public)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def issue_certificate(
    ca: CertificateAuthority,
    public_key: PublicKey,
    *,
    common_name: str,
    dns_names: Sequence[str] = (),
    duration: timedelta,
    now: datetime | None = None,
) -> x509.Certificate:
    """A leaf for serverAuth and clientAuth; its notAfter never passes the CA's."""
    start = _now(now)
    not_after = min(start + duration, ca.certificate.not_valid_after_utc)
    builder = _leaf_builder(
        public_key,
        common_name=common_name,
        dns_names=dns_names,
        not_before=start - _BACKDATE,
        not_after=not_after,
    )
    builder = builder.issuer_name(ca.certificate.subject).add_extension(
        _authority_key_identifier(ca.certificate), critical=False
    )
    return _sign(builder, ca.key)


def self_signed_certificate(
    key: PrivateKey,
    *,
    common_name: str,
    dns_names: Sequence[str] = (),
    duration: timedelta,
    now: datetime | None = None,
) -> x509.Certificate:
    """A self-signed leaf (CA:false) for pinned trust: Java's PKIX trust manager accepts a
    peer whose leaf certificate is itself a trusted entry."""
    start = _now(now)
    public_key = _public(key)
    builder = _leaf_builder(
        public_key,
        common_name=common_name,
        dns_names=dns_names,
        not_before=start - _BACKDATE,
        not_after=start + duration,
    )
    builder = builder.issuer_name(_name(common_name)).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
    )
    return _sign(builder, key)


def certificate_matches_key(cert: x509.Certificate, key: PrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, fmt) == key.public_key().public_bytes(der, fmt)


def signed_by(certificate: x509.Certificate, signer: x509.Certificate) -> bool:
    """True when `signer`'s key signed `certificate` and names match."""
    if certificate.issuer != signer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(signer)
    except Exception:  # any failure (signature, algorithm, names) means "not signed by"
        return False
    return True


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def certs_from_pem(data: bytes) -> list[x509.Certificate]:
    """All certificates of a PEM bundle, in order; PkiError if there is none."""
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PkiError("no readable PEM certificate found") from None


def sha256_fingerprint(cert: x509.Certificate) -> str:
    """Upper-case hex pairs separated by colons, as keytool prints them."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()
