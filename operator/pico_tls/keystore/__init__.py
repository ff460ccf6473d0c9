"""Keystores, bytes in and bytes out: JKS and PKCS12 with a key entry and trusted entries."""

from pico_tls.keystore.codec import decode_keystore, detect_format, encode_keystore
from pico_tls.keystore.fingerprint import content_fingerprint
from pico_tls.keystore.model import (
    KeyEntry,
    KeystoreContent,
    KeystoreError,
    Pkcs12Profile,
    StoreFormat,
    StoreOptions,
    file_name,
    unique_alias,
)
from pico_tls.keystore.protection import Pkcs12Protection, pkcs12_protection

__all__ = [
    "KeyEntry",
    "KeystoreContent",
    "KeystoreError",
    "Pkcs12Profile",
    "Pkcs12Protection",
    "StoreFormat",
    "StoreOptions",
    "content_fingerprint",
    "decode_keystore",
    "detect_format",
    "encode_keystore",
    "file_name",
    "pkcs12_protection",
    "unique_alias",
]
