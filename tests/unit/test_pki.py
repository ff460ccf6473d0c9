"""PKI: keys, CAs (created and loaded), issued and self-signed leaf certificates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from pico_tls.pki import (
    CertificateAuthority,
    KeyAlgorithm,
    PkiError,
    cert_to_pem,
    certificate_matches_key,
    certs_from_pem,
    create_ca,
    generate_key,
    issue_certificate,
    key_algorithm_of,
    key_from_pem,
    key_to_pem,
    load_ca,
    self_signed_certificate,
    sha256_fingerprint,
)

YEAR = timedelta(days=365)
NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return create_ca("Pico Test CA", generate_key(KeyAlgorithm.EC_P256), duration=YEAR, now=NOW)


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_generate_key_round_trips_through_pem(algorithm: KeyAlgorithm) -> None:
    key = generate_key(algorithm)
    assert key_algorithm_of(key) is algorithm
    pem = key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = key_from_pem(pem)
    assert key_to_pem(again) == pem
    expected = (
        rsa.RSAPrivateKey if algorithm.value.startswith("rsa") else ec.EllipticCurvePrivateKey
    )
    assert isinstance(again, expected)


def test_key_from_pem_rejects_garbage_and_unsupported_keys() -> None:
    with pytest.raises(PkiError, match="not a readable PEM private key"):
        key_from_pem(b"nonsense")
    small = rsa.generate_private_key(65537, 1024)
    pem = small.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(PkiError, match="1024"):
        key_from_pem(pem)
    encrypted = small.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret-pw"),
    )
    with pytest.raises(PkiError, match="encrypted") as info:
        key_from_pem(encrypted)
    assert "secret-pw" not in str(info.value)


def test_create_ca(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    assert cert.subject == cert.issuer
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert cert.not_valid_after_utc == NOW + YEAR
    assert certificate_matches_key(cert, ca.key)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P384])
def test_issue_certificate(ca: CertificateAuthority, algorithm: KeyAlgorithm) -> None:
    key = generate_key(algorithm)
    cert = issue_certificate(
        ca,
        key.public_key(),
        common_name="platform",
        dns_names=["platform.ns.svc", "Platform.ns.svc", "platform"],
        duration=timedelta(days=30),
        now=NOW,
    )
    assert certificate_matches_key(cert, key)
    assert cert.issuer == ca.certificate.subject
    cert.verify_directly_issued_by(ca.certificate)
    ext = cert.extensions
    assert not ext.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["platform.ns.svc", "platform"]
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert ski.digest != ca_ski.digest
    usage = ext.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment == (algorithm is KeyAlgorithm.RSA_2048)
    assert cert.not_valid_after_utc == NOW + timedelta(days=30)


def test_issued_certificate_never_outlives_its_ca(ca: CertificateAuthority) -> None:
    key = generate_key(KeyAlgorithm.EC_P256)
    cert = issue_certificate(ca, key.public_key(), common_name="x", duration=YEAR * 3, now=NOW)
    assert cert.not_valid_after_utc == ca.certificate.not_valid_after_utc


def test_self_signed_certificate() -> None:
    key = generate_key(KeyAlgorithm.EC_P256)
    cert = self_signed_certificate(
        key, common_name="ec-1", dns_names=["ec-1.ns.svc"], duration=YEAR, now=NOW
    )
    assert cert.subject == cert.issuer
    cert.verify_directly_issued_by(cert)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_load_ca(ca: CertificateAuthority) -> None:
    loaded = load_ca(cert_to_pem(ca.certificate), key_to_pem(ca.key))
    assert loaded.certificate == ca.certificate
    assert certificate_matches_key(loaded.certificate, loaded.key)


def test_load_ca_rejects_a_foreign_key(ca: CertificateAuthority) -> None:
    other = generate_key(KeyAlgorithm.EC_P256)
    with pytest.raises(PkiError, match="does not match"):
        load_ca(cert_to_pem(ca.certificate), key_to_pem(other))


def test_load_ca_rejects_a_leaf() -> None:
    key = generate_key(KeyAlgorithm.EC_P256)
    leaf = self_signed_certificate(key, common_name="leaf", duration=YEAR)
    with pytest.raises(PkiError, match="not a CA"):
        load_ca(cert_to_pem(leaf), key_to_pem(key))


def test_load_ca_rejects_garbage() -> None:
    with pytest.raises(PkiError, match="no readable PEM certificate"):
        load_ca(b"nope", b"nope")


def test_pem_bundle_and_fingerprint(ca: CertificateAuthority) -> None:
    leaf = self_signed_certificate(
        generate_key(KeyAlgorithm.EC_P256), common_name="a", duration=YEAR
    )
    bundle = cert_to_pem(leaf) + cert_to_pem(ca.certificate)
    assert certs_from_pem(bundle) == [leaf, ca.certificate]
    fingerprint = sha256_fingerprint(leaf)
    assert len(fingerprint) == 32 * 3 - 1
    assert fingerprint == fingerprint.upper()
    assert fingerprint.replace(":", "") == leaf.fingerprint(hashes.SHA256()).hex().upper()
