"""Secret manifests: mounted keystore Secrets, unmounted state Secrets, the CA Secret."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509

from pico_tls.builders import names, properties
from pico_tls.keystore import StoreFormat, file_name
from pico_tls.material import Identity
from pico_tls.pki.certs import CertificateAuthority, cert_to_pem
from pico_tls.pki.keys import key_to_pem


def _b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def decode_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def _secret(
    meta: dict[str, Any], data: Mapping[str, bytes | str], **annotations: str
) -> dict[str, Any]:
    if annotations:
        meta = {**meta, "annotations": dict(annotations)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "data": {k: _b64(v) for k, v in sorted(data.items())},
    }


def keystore_secret_data(
    fmt: StoreFormat,
    keystore: bytes,
    identity: Identity,
    ca: CertificateAuthority | None,
    *,
    previous_cas: Sequence[x509.Certificate] = (),
    with_properties: bool = True,
    extra_certs: Mapping[str, x509.Certificate] | None = None,
) -> dict[str, bytes | str]:
    """The keys of a mounted keystore Secret (or a desktop's key Secret). `ca.crt` holds the
    CA, then any older CAs still trusted during a rotation."""
    data: dict[str, bytes | str] = {
        file_name(fmt): keystore,
        names.STORE_PASSWORD_KEY: identity.passwords.store,
        names.KEY_PASSWORD_KEY: identity.passwords.key,
        "tls.crt": cert_to_pem(identity.certificate),
    }
    if ca is not None:
        data[names.CA_BUNDLE_KEY] = b"".join(map(cert_to_pem, (ca.certificate, *previous_cas)))
    for key, cert in (extra_certs or {}).items():
        data[key] = cert_to_pem(cert)
    if with_properties:
        data |= password_files(identity.passwords.store, identity.passwords.key)
    return data


def password_files(store: str, key: str) -> dict[str, bytes | str]:
    """The passwords in every encoding the delivery forms read from the mounted Secret:
    base64 values (for `$(VAR)` references) and the password properties files."""
    store64, key64 = _b64(store), _b64(key)
    plain, encoded = properties.SECRET_HEADER, properties.BASE64_SECRET_HEADER
    return {
        names.STORE_PASSWORD_BASE64_KEY: store64,
        names.KEY_PASSWORD_BASE64_KEY: key64,
        names.SECRET_PROPERTIES_FILE: properties.render(
            properties.password_properties(store, key), plain
        ),
        names.BASE64_SECRET_PROPERTIES_FILE: properties.render(
            properties.password_properties(store64, key64), encoded
        ),
        names.HTTPD_SECRET_PROPERTIES_FILE: properties.render(
            properties.httpd_password_properties(store, key), plain
        ),
        names.HTTPD_BASE64_SECRET_PROPERTIES_FILE: properties.render(
            properties.httpd_password_properties(store64, key64), encoded
        ),
    }


def keystore_secret(
    meta: dict[str, Any], data: Mapping[str, bytes | str], fingerprint: str
) -> dict[str, Any]:
    return _secret(meta, data, **{names.CONTENT_FINGERPRINT: fingerprint})


def state_secret(meta: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """The private key, certificate and passwords that let a deleted Secret come back, and
    the certificate a renewal replaced (still pinned by peers until it expires)."""
    data: dict[str, bytes | str] = {
        "tls.key": key_to_pem(identity.key),
        "tls.crt": cert_to_pem(identity.certificate),
        names.STORE_PASSWORD_KEY: identity.passwords.store,
        names.KEY_PASSWORD_KEY: identity.passwords.key,
    }
    if identity.previous is not None:
        data[names.PREVIOUS_CERT_KEY] = cert_to_pem(identity.previous)
    if identity.next is not None:
        data[names.NEXT_CERT_KEY] = cert_to_pem(identity.next)
    return _secret(meta, data)


def ca_secret(
    meta: dict[str, Any],
    ca: CertificateAuthority,
    previous: CertificateAuthority | None = None,
    handled_request: str | None = None,
) -> dict[str, Any]:
    """The operator's CA; after a rotation the old one stays as `previous.*` for recovery."""
    data = {"tls.crt": cert_to_pem(ca.certificate), "tls.key": key_to_pem(ca.key)}
    if previous is not None:
        data |= {
            "previous.crt": cert_to_pem(previous.certificate),
            "previous.key": key_to_pem(previous.key),
        }
    if handled_request is None:
        return _secret(meta, data)
    return _secret(meta, data, **{names.ROTATE_CA_HANDLED: handled_request})
