"""The leak check of pico_harness.support.leaks finds a password or private key in every form a
careless log line, Event or manifest would carry it, and nothing else."""

from __future__ import annotations

import base64
import json
import textwrap
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from pico_harness.support.leaks import find_leaks, sensitive_in
from pico_tls.pki.certs import self_signed_certificate
from pico_tls.pki.keys import KeyAlgorithm, generate_key

PASSWORD = b"Zq3-pXr7_kLm9sTu2vWx"


def pem(algorithm: KeyAlgorithm) -> bytes:
    key = generate_key(algorithm)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def secret(**data: bytes) -> dict[str, object]:
    return {
        "metadata": {"namespace": "ns", "name": "mz-rcp-tls-state"},
        "data": {k.replace("_", "."): base64.b64encode(v).decode() for k, v in data.items()},
    }


KEY = pem(KeyAlgorithm.EC_P256)
RSA_KEY = pem(KeyAlgorithm.RSA_2048)
ITEMS = list(sensitive_in(secret(keystore_password=PASSWORD, tls_key=KEY)))
RSA_ITEMS = list(sensitive_in(secret(tls_key=RSA_KEY)))


def b64_lines(data: bytes, width: int) -> str:
    return "\n".join(textwrap.wrap(base64.b64encode(data).decode(), width))


LEAKS = {
    "password-clear": f"INFO connecting with password {PASSWORD.decode()} to mz",
    "password-base64": f"data: {base64.b64encode(PASSWORD).decode()}",
    "password-inside-a-base64-blob": base64.b64encode(b"xy" + PASSWORD + b"z").decode(),
    "password-urlsafe": base64.urlsafe_b64encode(b"a" + PASSWORD).decode(),
    "key-pem": KEY.decode(),
    # the 2nd body line: the 1st of an EC key is mostly its public ASN.1 header
    "key-one-pem-line": KEY.decode().splitlines()[2],
    "rsa-key-one-pem-line": RSA_KEY.decode().splitlines()[12],
    "key-pem-json-escaped": json.dumps({"message": KEY.decode()}),
    "key-as-secret-data": json.dumps(secret(tls_key=KEY)),
    "key-secret-data-with-line-breaks": b64_lines(KEY, 76),
    "key-base64-of-pem-in-a-blob": base64.b64encode(b"tls.key=" + KEY).decode(),
    "key-der-traditional": base64.b64encode(
        serialization.load_pem_private_key(KEY, None).private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    ).decode(),
    "key-private-number": str(
        serialization.load_pem_private_key(KEY, None).private_numbers().private_value  # type: ignore[union-attr]
    ),
}


def test_sensitive_in_finds_passwords_and_keys() -> None:
    assert {i.kind for i in ITEMS} == {"password", "private key"}
    assert {i.origin for i in ITEMS} == {
        "ns/mz-rcp-tls-state:keystore.password",
        "ns/mz-rcp-tls-state:tls.key",
    }


@pytest.mark.parametrize("form", list(LEAKS))
def test_every_form_is_found(form: str) -> None:
    leaks = find_leaks(ITEMS + RSA_ITEMS, {"operator log": f"before\n{LEAKS[form]}\nafter"})
    assert leaks, form
    assert all(str(PASSWORD) not in leak and "PRIVATE" not in leak for leak in leaks)


def test_rsa_key_with_pem_line_breaks_in_json() -> None:
    blob = json.dumps({"data": b64_lines(RSA_KEY, 64)})
    assert find_leaks(RSA_ITEMS, {"events": blob}) == [
        "private key from ns/mz-rcp-tls-state:tls.key in the events"
    ]


def certificate_pem(key_pem: bytes) -> str:
    key = serialization.load_pem_private_key(key_pem, None)
    cert = self_signed_certificate(key, common_name="mz", duration=timedelta(days=1))  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_no_false_positive() -> None:
    """Other keys, and the public parts of these keys (their certificates) are no leak."""
    other = pem(KeyAlgorithm.EC_P256)
    public = certificate_pem(KEY) + certificate_pem(RSA_KEY)
    texts = {
        "status": json.dumps({"previousCertificates": public}),
        "secret data": base64.b64encode(public.encode()).decode(),
        "configmaps": json.dumps(
            {"key": other.decode(), "pw": base64.b64encode(b"other-password").decode()}
        ),
        "events": "certificateFingerprint: " + "ab" * 32,
    }
    assert find_leaks(ITEMS + RSA_ITEMS, texts) == []
