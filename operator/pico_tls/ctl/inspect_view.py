"""`pico-tls inspect secret`, pure: a keystore's entries, its protection, and whether it is
what its custom resource expects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pico_tls.keystore import KeystoreContent, Pkcs12Profile, Pkcs12Protection, StoreFormat
from pico_tls.pki.certs import sha256_fingerprint
from pico_tls.pki.keys import KeyAlgorithm, key_algorithm_of

CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
JKS_READERS = "every Java version (JKS; Java 9 and later still read it)"


@dataclass(frozen=True)
class Expected:
    """What the owning custom resource asks of its keystore."""

    owner: str  # "platform/mz"
    format: StoreFormat
    profile: Pkcs12Profile
    key: KeyAlgorithm
    alias: str
    fingerprint: str | None  # status.certificateFingerprint
    ca_fingerprint: str | None  # status.caFingerprint (CA trust)


def key_type(cert: x509.Certificate) -> str:
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA {public.key_size}"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"EC {CURVES.get(public.curve.name, public.curve.name)}"
    return type(public).__name__


def cert_data(cert: x509.Certificate) -> dict[str, str]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "notBefore": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notAfter": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256": sha256_fingerprint(cert),
        "keyType": key_type(cert),
    }


def entries(content: KeystoreContent) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if content.key_entry is not None:
        chain = [cert_data(c) for c in content.key_entry.chain]
        out.append({"alias": content.key_entry.alias, "type": "PrivateKeyEntry", "chain": chain})
    out += [
        {"alias": alias, "type": "trustedCertEntry", "chain": [cert_data(c)]}
        for alias, c in content.trusted
    ]
    return out


def protection_data(fmt: StoreFormat, found: Pkcs12Protection | None) -> dict[str, Any]:
    if found is None:
        return {"format": "JKS", "readableBy": JKS_READERS}
    return {
        "format": "PKCS12",
        "profile": found.profile.value if found.profile else "other",
        "mac": found.mac,
        "certificates": found.certificates,
        "key": found.key or "-",
        "macIterations": found.mac_iterations,
        "readableBy": found.readers,
    }


def checks(
    expected: Expected,
    fmt: StoreFormat,
    found: Pkcs12Protection | None,
    content: KeystoreContent,
) -> list[tuple[bool, str]]:
    """(matches, what) for each thing the custom resource expects."""
    out = [(fmt is expected.format, f"format {expected.format.value.upper()}")]
    if expected.format is StoreFormat.PKCS12:
        profile = found.profile if found else None
        out.append((profile is expected.profile, f"PKCS12 profile {expected.profile.value}"))
    entry = content.key_entry
    if entry is None:
        return [*out, (False, "a private key entry")]
    out.append((entry.alias == expected.alias, f"key alias {expected.alias}"))
    out.append((key_algorithm_of(entry.key) is expected.key, f"key {expected.key.value}"))
    if expected.fingerprint:
        leaf = sha256_fingerprint(entry.chain[0])
        out.append((leaf == expected.fingerprint, "the certificate its status names"))
    if expected.ca_fingerprint:
        trusted = {sha256_fingerprint(c) for _, c in content.trusted}
        out.append((expected.ca_fingerprint in trusted, "trusts the CA its status names"))
    return out


def report(
    title: str, stored: Sequence[Mapping[str, Any]], protection: Mapping[str, Any],
    verdicts: Sequence[tuple[bool, str]] | None, owner: str | None,
) -> str:  # fmt: skip
    lines = [title, ""]
    for entry in stored:
        lines.append(f"{entry['alias']}  ({entry['type']})")
        for i, cert in enumerate(entry["chain"]):
            lead = "  " if i == 0 else "  chain: "
            lines += [
                f"{lead}subject  {cert['subject']}",
                f"  issuer   {cert['issuer']}",
                f"  valid    {cert['notBefore']} .. {cert['notAfter']}",
                f"  sha256   {cert['sha256']}",
                f"  key      {cert['keyType']}",
            ]
        lines.append("")
    lines += [f"{k}: {v}" for k, v in protection.items()]
    if verdicts is not None:
        lines += ["", f"matches {owner}:"]
        lines += [f"  {'ok      ' if ok else 'MISMATCH'}  {what}" for ok, what in verdicts]
    return "\n".join(lines)
