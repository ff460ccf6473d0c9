"""Keystores of two controllers' Secrets checked the same way (bench_certmanager.py): all
decoded by one JVM (pico_harness's TlsProbe), and the key types of their certificates."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from pico_harness.java.tools import StoreSpec, compile_probe, inspect_stores


@dataclass(frozen=True)
class Keystore:
    """One keystore of a Secret, as a JVM would be configured to read it."""

    secret: str
    file: str  # the data key
    store_type: str
    store_password: str
    key_password: str


def leaf_fingerprint(pem: bytes) -> str:
    der = x509.load_pem_x509_certificates(pem)[0].public_bytes(Encoding.DER)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def key_kind(pem: bytes) -> str:
    key = x509.load_pem_x509_certificates(pem)[0].public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}"
    return type(key).__name__


def validate(
    work: Path, data: Mapping[str, Mapping[str, bytes]], stores: Sequence[Keystore]
) -> dict[str, Any]:
    """Every keystore loaded by one JVM (strict store type): valid when it loads, holds exactly
    one key entry whose key the key password recovers, and that entry's certificate is the
    Secret's tls.crt."""
    folder = work / f"stores-{time.monotonic_ns()}"
    folder.mkdir()
    specs = []
    for i, st in enumerate(stores):
        path = folder / f"{i}-{st.file}"
        path.write_bytes(data[st.secret][st.file])
        specs.append(StoreSpec(path, st.store_type, st.store_password, st.key_password))
    began = time.monotonic()
    seen = inspect_stores(compile_probe(work), specs)
    jvm_seconds = time.monotonic() - began
    invalid = []
    for st, found in zip(stores, seen, strict=True):
        keys = [e for e in found.entries if e.entry_type == "PrivateKeyEntry"]
        leaf = leaf_fingerprint(data[st.secret]["tls.crt"])
        if not (found.loaded and len(keys) == 1 and keys[0].key_recovered) or (
            keys[0].fingerprint != leaf
        ):
            invalid.append(f"{st.secret}/{st.file}: {found.detail or found.entries}")
    kinds = Counter(key_kind(data[s]["tls.crt"]) for s in {st.secret for st in stores})
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return {
        "stores": len(stores),
        "valid": len(stores) - len(invalid),
        "invalid": invalid[:5],
        "key_types": dict(kinds),
        "jvm_seconds": round(jvm_seconds, 1),
    }
