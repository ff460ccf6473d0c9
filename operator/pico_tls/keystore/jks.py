"""JKS via pyjks: one PrivateKeyEntry and trusted certificate entries."""

from __future__ import annotations

import jks as pyjks
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from pico_tls.keystore.model import KeyEntry, KeystoreContent, KeystoreError, StoreOptions
from pico_tls.pki import PkiError, key_from_der, key_to_der

MAGIC = b"\xfe\xed\xfe\xed"


def encode_jks(content: KeystoreContent, options: StoreOptions) -> bytes:
    entries: list[object] = []
    entry = content.key_entry
    if entry is not None:
        chain = [c.public_bytes(Encoding.DER) for c in entry.chain]
        key_entry = pyjks.PrivateKeyEntry.new(entry.alias, chain, key_to_der(entry.key))
        key_entry.encrypt(options.key_password)  # saves() would use the store password
        entries.append(key_entry)
    for alias, cert in content.trusted:
        entries.append(pyjks.TrustedCertEntry.new(alias, cert.public_bytes(Encoding.DER)))
    store = pyjks.KeyStore.new("jks", entries)
    data: bytes = store.saves(options.store_password)
    return data


def decode_jks(data: bytes, options: StoreOptions) -> KeystoreContent:
    try:
        store = pyjks.KeyStore.loads(data, options.store_password, try_decrypt_keys=False)
    except pyjks.util.KeystoreSignatureException:
        raise KeystoreError(
            "keystore integrity check failed: wrong store password or tampered keystore"
        ) from None
    except (pyjks.util.KeystoreException, ValueError) as exc:
        raise KeystoreError(f"not a readable JKS keystore: {type(exc).__name__}") from None
    if store.store_type != "jks":
        raise KeystoreError(f"unsupported keystore type {store.store_type}")
    private = list(store.private_keys.items())
    if len(private) > 1:
        raise KeystoreError("the keystore holds more than one private key entry")
    key_entry = None
    if private:
        alias, item = private[0]
        try:
            item.decrypt(options.key_password)
        except pyjks.util.DecryptionFailureException:
            raise KeystoreError(
                "cannot decrypt the private key: wrong key password or corrupt keystore"
            ) from None
        try:
            key = key_from_der(item.pkey_pkcs8, validate=False)
            chain = tuple(x509.load_der_x509_certificate(c) for _, c in item.cert_chain)
        except (PkiError, ValueError) as exc:
            raise KeystoreError(f"unsupported key entry in keystore: {exc}") from None
        key_entry = KeyEntry(alias, key, chain)
    try:
        trusted = tuple(
            (alias, x509.load_der_x509_certificate(item.cert))
            for alias, item in store.certs.items()
        )
    except ValueError as exc:
        raise KeystoreError(f"unreadable trusted certificate in keystore: {exc}") from None
    return KeystoreContent(key_entry, trusted)
