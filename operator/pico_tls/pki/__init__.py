"""PKI: keys, CAs and certificates (cryptography only; no keystores, no Kubernetes)."""

from pico_tls.pki.certs import (
    CertificateAuthority,
    cert_to_pem,
    certificate_matches_key,
    certs_from_pem,
    create_ca,
    issue_certificate,
    load_ca,
    self_signed_certificate,
    sha256_fingerprint,
    signed_by,
)
from pico_tls.pki.errors import PkiError
from pico_tls.pki.keys import (
    KeyAlgorithm,
    PrivateKey,
    generate_key,
    key_algorithm_of,
    key_from_der,
    key_from_pem,
    key_to_der,
    key_to_pem,
)

__all__ = [
    "CertificateAuthority",
    "KeyAlgorithm",
    "PkiError",
    "PrivateKey",
    "cert_to_pem",
    "certificate_matches_key",
    "certs_from_pem",
    "create_ca",
    "generate_key",
    "issue_certificate",
    "key_algorithm_of",
    "key_from_der",
    "key_from_pem",
    "key_to_der",
    "key_to_pem",
    "load_ca",
    "self_signed_certificate",
    "sha256_fingerprint",
    "signed_by",
]
