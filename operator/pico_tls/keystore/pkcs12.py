"""PKCS#12 writer and reader that Java reads as one PrivateKeyEntry plus trustedCertEntry
entries (Oracle's trusted-key-usage bag attribute), which `cryptography` cannot write."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from pico_tls.keystore import _der as der
from pico_tls.keystore.model import (
    KeyEntry,
    KeystoreContent,
    KeystoreError,
    Pkcs12Profile,
    StoreOptions,
)
from pico_tls.keystore.pbe import PbeError, Scheme, decrypt, verify_mac
from pico_tls.pki import PkiError, key_from_der, key_to_der

DATA = "1.2.840.113549.1.7.1"
ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
CERT_BAG = "1.2.840.113549.1.12.10.1.3"
X509_CERT = "1.2.840.113549.1.9.22.1"
FRIENDLY_NAME = "1.2.840.113549.1.9.20"
LOCAL_KEY_ID = "1.2.840.113549.1.9.21"
TRUSTED_KEY_USAGE = "2.16.840.1.113894.746875.1.1"  # Oracle: marks a trustedCertEntry
ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0"


def _attribute(type_oid: str, value: bytes) -> bytes:
    return der.seq(der.oid(type_oid), der.set_of(value))


def _bag(bag_oid: str, value: bytes, attributes: list[bytes]) -> bytes:
    return der.seq(der.oid(bag_oid), der.explicit(0, value), der.set_of(*attributes))


def _cert_bag(cert: x509.Certificate, attributes: list[bytes]) -> bytes:
    cert_der = cert.public_bytes(Encoding.DER)
    value = der.seq(der.oid(X509_CERT), der.explicit(0, der.octets(cert_der)))
    return _bag(CERT_BAG, value, attributes)


def _encrypted_content(scheme: Scheme, password: str, safe_contents: bytes) -> bytes:
    algorithm, ciphertext = scheme.encrypt(password, safe_contents)
    encrypted_content_info = der.seq(der.oid(DATA), algorithm, der.tlv(0x80, ciphertext))
    encrypted_data = der.seq(der.integer(0), encrypted_content_info)
    return der.seq(der.oid(ENCRYPTED_DATA), der.explicit(0, encrypted_data))


def _data_content(safe_contents: bytes) -> bytes:
    return der.seq(der.oid(DATA), der.explicit(0, der.octets(safe_contents)))


def encode_pkcs12(content: KeystoreContent, options: StoreOptions) -> bytes:
    """Certificates are encrypted with the store password, the key with the key password."""
    scheme = Scheme(modern=options.profile is Pkcs12Profile.MODERN_AES)
    cert_bags: list[bytes] = []
    safes: list[bytes] = []
    entry = content.key_entry
    key_bag = b""
    if entry is not None:
        leaf = entry.chain[0]
        key_id = hashlib.sha1(leaf.public_bytes(Encoding.DER)).digest()
        name = _attribute(FRIENDLY_NAME, der.bmp(entry.alias))
        local_id = _attribute(LOCAL_KEY_ID, der.octets(key_id))
        cert_bags.append(_cert_bag(leaf, [name, local_id]))
        cert_bags.extend(_cert_bag(c, []) for c in entry.chain[1:])
        algorithm, ciphertext = scheme.encrypt(options.key_password, key_to_der(entry.key))
        shrouded = der.seq(algorithm, der.octets(ciphertext))
        key_bag = _bag(SHROUDED_KEY_BAG, shrouded, [name, local_id])
    trusted_usage = _attribute(TRUSTED_KEY_USAGE, der.oid(ANY_EXTENDED_KEY_USAGE))
    for alias, cert in content.trusted:
        cert_bags.append(
            _cert_bag(cert, [_attribute(FRIENDLY_NAME, der.bmp(alias)), trusted_usage])
        )
    if cert_bags:
        safes.append(_encrypted_content(scheme, options.store_password, der.seq(*cert_bags)))
    if key_bag:
        safes.append(_data_content(der.seq(key_bag)))
    auth_safe = der.seq(*safes)
    mac = scheme.mac(options.store_password, auth_safe)
    return der.seq(der.integer(3), _data_content(auth_safe), mac)


# --- reading ---------------------------------------------------------------


class _Bag:
    def __init__(self, encoded: bytes) -> None:
        fields = der.items(der.expect(encoded, der.SEQUENCE))
        self.kind = der.read_oid(fields[0])
        self.value = der.expect(fields[1], 0xA0)
        self.attributes: dict[str, bytes] = {}
        if len(fields) > 2:
            for attribute in der.items(der.expect(fields[2], der.SET)):
                type_der, values = der.items(der.expect(attribute, der.SEQUENCE))
                first = der.items(der.expect(values, der.SET))
                if first:
                    self.attributes[der.read_oid(type_der)] = first[0]

    @property
    def friendly_name(self) -> str | None:
        value = self.attributes.get(FRIENDLY_NAME)
        return der.expect(value, der.BMP_STRING).decode("utf-16-be") if value else None

    @property
    def local_key_id(self) -> bytes | None:
        value = self.attributes.get(LOCAL_KEY_ID)
        return der.expect(value, der.OCTET_STRING) if value else None

    def certificate(self) -> x509.Certificate:
        cert_type, cert_value = der.items(der.expect(self.value, der.SEQUENCE))
        if der.read_oid(cert_type) != X509_CERT:
            raise der.DerError("unsupported certificate type in certificate bag")
        return x509.load_der_x509_certificate(
            der.expect(der.expect(cert_value, 0xA0), der.OCTET_STRING)
        )


def _safe_contents(content_info: bytes, password: str) -> list[_Bag]:
    type_der, wrapped = der.items(der.expect(content_info, der.SEQUENCE))
    kind, inner = der.read_oid(type_der), der.expect(wrapped, 0xA0)
    if kind == DATA:
        plain = der.expect(inner, der.OCTET_STRING)
    elif kind == ENCRYPTED_DATA:
        _, encrypted_info = der.items(der.expect(inner, der.SEQUENCE))[:2]
        fields = list(der.children(der.expect(encrypted_info, der.SEQUENCE)))
        algorithm = fields[1][2]
        ciphertext = next(c for tag, c, _ in fields[2:] if tag in (0x80, 0xA0))
        plain = decrypt(algorithm, password, ciphertext)
    else:
        raise der.DerError(f"unsupported PKCS#12 content type {kind}")
    return [_Bag(b) for b in der.items(der.expect(plain, der.SEQUENCE))]


def _key(bag: _Bag, password: str) -> bytes:
    algorithm, encrypted = der.items(der.expect(bag.value, der.SEQUENCE))
    try:
        return decrypt(algorithm, password, der.expect(encrypted, der.OCTET_STRING))
    except PbeError:
        raise KeystoreError(
            "cannot decrypt the private key: wrong key password or corrupt keystore"
        ) from None


def _order_chain(leaf: x509.Certificate, others: list[x509.Certificate]) -> list[x509.Certificate]:
    """The leaf, then its issuers found among `others` (as Java builds the chain)."""
    chain, rest = [leaf], list(others)
    while chain[-1].issuer != chain[-1].subject:
        issuer = next((c for c in rest if c.subject == chain[-1].issuer), None)
        if issuer is None:
            break
        chain.append(issuer)
        rest.remove(issuer)
    return chain


def decode_pkcs12(data: bytes, options: StoreOptions) -> KeystoreContent:
    try:
        return _decode(data, options)
    except (der.DerError, IndexError, StopIteration, UnicodeDecodeError) as exc:
        raise KeystoreError(f"not a readable PKCS#12 keystore: {exc}") from None
    except PbeError:
        raise KeystoreError(
            "cannot decrypt the keystore: wrong store password or corrupt keystore"
        ) from None


def _decode(data: bytes, options: StoreOptions) -> KeystoreContent:
    fields = der.items(der.expect(data, der.SEQUENCE))
    if der.read_int(fields[0]) != 3:
        raise der.DerError("unsupported PFX version")
    type_der, wrapped = der.items(der.expect(fields[1], der.SEQUENCE))
    if der.read_oid(type_der) != DATA:
        raise der.DerError("only password-integrity PKCS#12 stores are supported")
    auth_safe = der.expect(der.expect(wrapped, 0xA0), der.OCTET_STRING)
    if len(fields) < 3:
        raise der.DerError("the keystore has no MAC")
    try:
        verify_mac(fields[2], options.store_password, auth_safe)
    except PbeError:
        raise KeystoreError(
            "keystore integrity check failed: wrong store password or tampered keystore"
        ) from None
    bags: list[_Bag] = []
    for content_info in der.items(der.expect(auth_safe, der.SEQUENCE)):
        bags.extend(_safe_contents(content_info, options.store_password))

    key_bags = [b for b in bags if b.kind == SHROUDED_KEY_BAG]
    if len(key_bags) > 1:
        raise KeystoreError("the keystore holds more than one private key entry")
    trusted: list[tuple[str, x509.Certificate]] = []
    chain_certs: list[x509.Certificate] = []
    leaf: x509.Certificate | None = None
    key_id = key_bags[0].local_key_id if key_bags else None
    for bag in bags:
        if bag.kind != CERT_BAG:
            continue
        cert = bag.certificate()
        if TRUSTED_KEY_USAGE in bag.attributes:
            trusted.append((bag.friendly_name or cert.subject.rfc4514_string(), cert))
        elif key_id is not None and bag.local_key_id == key_id:
            leaf = cert
        else:
            chain_certs.append(cert)

    key_entry = None
    if key_bags:
        if leaf is None:
            raise KeystoreError("the private key entry has no certificate")
        try:
            key = key_from_der(_key(key_bags[0], options.key_password), validate=False)
        except PkiError as exc:
            raise KeystoreError(f"unsupported private key in keystore: {exc}") from None
        alias = key_bags[0].friendly_name or "1"
        key_entry = KeyEntry(alias, key, tuple(_order_chain(leaf, chain_certs)))
    return KeystoreContent(key_entry, tuple(trusted))
