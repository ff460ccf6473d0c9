"""Format dispatch: encode, decode and detect keystores."""

from __future__ import annotations

from pico_tls.keystore import _der as der
from pico_tls.keystore.jks import MAGIC, decode_jks, encode_jks
from pico_tls.keystore.model import KeystoreContent, KeystoreError, StoreFormat, StoreOptions
from pico_tls.keystore.pkcs12 import decode_pkcs12, encode_pkcs12


def _check_passwords(options: StoreOptions) -> None:
    if not options.store_password or not options.key_password:
        raise KeystoreError("keystore and key passwords must not be empty")


def _check_pkcs12_passwords(options: StoreOptions) -> None:
    # Java's PKCS12 PBE keys refuse them ("Password is not ASCII"); JKS has no such limit.
    if not (options.store_password.isascii() and options.key_password.isascii()):
        raise KeystoreError("PKCS12 passwords must be ASCII: Java cannot read them otherwise")


def encode_keystore(content: KeystoreContent, options: StoreOptions) -> bytes:
    _check_passwords(options)
    if options.format is StoreFormat.JKS:
        return encode_jks(content, options)
    _check_pkcs12_passwords(options)
    return encode_pkcs12(content, options)


def decode_keystore(data: bytes, options: StoreOptions) -> KeystoreContent:
    """The content of a keystore of the expected format; KeystoreError if it is of another
    format, unreadable, or a password is wrong."""
    _check_passwords(options)
    found = detect_format(data)
    if found is not options.format:
        raise KeystoreError(f"the keystore is {found.value}, expected {options.format.value}")
    if found is StoreFormat.JKS:
        return decode_jks(data, options)
    return decode_pkcs12(data, options)


def detect_format(data: bytes) -> StoreFormat:
    """JKS by its magic number, PKCS12 by its outer DER structure; KeystoreError otherwise."""
    if data.startswith(MAGIC):
        return StoreFormat.JKS
    try:
        version = der.items(der.expect(data, der.SEQUENCE))[0]
        if der.read_int(version) == 3:
            return StoreFormat.PKCS12
    except (der.DerError, IndexError):
        pass
    raise KeystoreError("unrecognised keystore: neither JKS nor PKCS12")
