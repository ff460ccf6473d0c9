"""Keystores: round trips over formats x profiles x key types, fingerprints, errors."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12

from pico_tls.keystore import (
    KeyEntry,
    KeystoreContent,
    KeystoreError,
    Pkcs12Profile,
    StoreFormat,
    StoreOptions,
    content_fingerprint,
    decode_keystore,
    detect_format,
    encode_keystore,
    file_name,
    unique_alias,
)
from pico_tls.keystore import _der as der
from pico_tls.keystore import pkcs12 as p12
from pico_tls.keystore.pbe import pkcs12_kdf
from pico_tls.pki import (
    CertificateAuthority,
    KeyAlgorithm,
    PrivateKey,
    create_ca,
    generate_key,
    issue_certificate,
    key_to_der,
    self_signed_certificate,
)

YEAR = timedelta(days=365)
STORE_PW = "store-Password-1"
KEY_PW = "key-password-2"

# (format, profile): the profile only matters for PKCS12
FORMATS = [
    (StoreFormat.JKS, Pkcs12Profile.LEGACY_3DES),
    (StoreFormat.PKCS12, Pkcs12Profile.LEGACY_3DES),
    (StoreFormat.PKCS12, Pkcs12Profile.MODERN_AES),
]
FORMAT_IDS = [f"{f.value}-{p.value}" for f, p in FORMATS]


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return create_ca("Test CA", generate_key(KeyAlgorithm.EC_P256), duration=YEAR)


@pytest.fixture(scope="module")
def keys() -> dict[KeyAlgorithm, PrivateKey]:
    return {a: generate_key(a) for a in KeyAlgorithm}


def content_for(
    ca: CertificateAuthority, key: PrivateKey, *, alias: str = "platform", peers: int = 2
) -> KeystoreContent:
    leaf = issue_certificate(
        ca, key.public_key(), common_name=alias, dns_names=[f"{alias}.ns.svc"], duration=YEAR
    )
    trusted = [("ca", ca.certificate)]
    for n in range(peers):
        peer_key = generate_key(KeyAlgorithm.EC_P256)
        peer = self_signed_certificate(peer_key, common_name=f"peer{n}", duration=YEAR)
        trusted.append((f"peer-{n}", peer))
    return KeystoreContent(KeyEntry(alias, key, (leaf, ca.certificate)), tuple(trusted))


def ders(certs: tuple[x509.Certificate, ...]) -> list[bytes]:
    return [c.public_bytes(Encoding.DER) for c in certs]


def assert_same(a: KeystoreContent, b: KeystoreContent) -> None:
    assert (a.key_entry is None) == (b.key_entry is None)
    if a.key_entry is not None and b.key_entry is not None:
        assert a.key_entry.alias == b.key_entry.alias
        assert key_to_der(a.key_entry.key) == key_to_der(b.key_entry.key)
        assert ders(a.key_entry.chain) == ders(b.key_entry.chain)
    assert [alias for alias, _ in a.trusted] == [alias for alias, _ in b.trusted]
    assert ders(tuple(c for _, c in a.trusted)) == ders(tuple(c for _, c in b.trusted))


@pytest.mark.parametrize(("fmt", "profile"), FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("algorithm", list(KeyAlgorithm), ids=lambda a: a.value)
@pytest.mark.parametrize("key_password", [STORE_PW, KEY_PW], ids=["same-pw", "other-key-pw"])
def test_round_trip(
    ca: CertificateAuthority,
    keys: dict[KeyAlgorithm, PrivateKey],
    fmt: StoreFormat,
    profile: Pkcs12Profile,
    algorithm: KeyAlgorithm,
    key_password: str,
) -> None:
    content = content_for(ca, keys[algorithm])
    options = StoreOptions(fmt, STORE_PW, key_password, profile)
    data = encode_keystore(content, options)
    assert detect_format(data) is fmt
    decoded = decode_keystore(data, options)
    assert_same(decoded, content)
    assert content_fingerprint(decoded, options) == content_fingerprint(content, options)


@pytest.mark.parametrize(("fmt", "profile"), FORMATS, ids=FORMAT_IDS)
def test_trust_only_and_self_signed_chain(
    ca: CertificateAuthority, fmt: StoreFormat, profile: Pkcs12Profile
) -> None:
    options = StoreOptions(fmt, STORE_PW, KEY_PW, profile)
    trust_only = KeystoreContent(None, (("b", ca.certificate),))
    assert_same(decode_keystore(encode_keystore(trust_only, options), options), trust_only)
    key = generate_key(KeyAlgorithm.EC_P256)
    cert = self_signed_certificate(key, common_name="desktop", duration=YEAR)
    key_only = KeystoreContent(KeyEntry("desktop", key, (cert,)))
    assert_same(decode_keystore(encode_keystore(key_only, options), options), key_only)


@pytest.mark.parametrize(("fmt", "profile"), FORMATS, ids=FORMAT_IDS)
def test_reencoding_changes_bytes_not_fingerprint(
    ca: CertificateAuthority, fmt: StoreFormat, profile: Pkcs12Profile
) -> None:
    content = content_for(ca, generate_key(KeyAlgorithm.EC_P256))
    options = StoreOptions(fmt, STORE_PW, KEY_PW, profile)
    first, second = encode_keystore(content, options), encode_keystore(content, options)
    if fmt is StoreFormat.PKCS12:
        assert first != second  # fresh salts
    fingerprints = {
        content_fingerprint(decode_keystore(d, options), options) for d in (first, second)
    }
    assert fingerprints == {content_fingerprint(content, options)}


def test_fingerprint_changes_with_every_input(ca: CertificateAuthority) -> None:
    key = generate_key(KeyAlgorithm.EC_P256)
    content = content_for(ca, key, peers=1)
    options = StoreOptions(StoreFormat.PKCS12, STORE_PW, KEY_PW)
    assert content.key_entry is not None
    other_key = generate_key(KeyAlgorithm.EC_P256)
    other_peer = self_signed_certificate(other_key, common_name="x", duration=YEAR)
    variants = [
        (content, replace(options, store_password="other")),
        (content, replace(options, key_password="other")),
        (content, replace(options, profile=Pkcs12Profile.MODERN_AES)),
        (content, replace(options, format=StoreFormat.JKS)),
        (replace(content, key_entry=replace(content.key_entry, alias="renamed")), options),
        (replace(content, key_entry=content_for(ca, key, peers=0).key_entry), options),  # new cert
        (replace(content, key_entry=content_for(ca, other_key, peers=0).key_entry), options),
        (
            replace(
                content, key_entry=replace(content.key_entry, chain=content.key_entry.chain[:1])
            ),
            options,
        ),
        (replace(content, trusted=(*content.trusted, ("extra", other_peer))), options),
        (replace(content, trusted=content.trusted[:1]), options),
        (replace(content, trusted=(("renamed-ca", ca.certificate), content.trusted[1])), options),
        (replace(content, key_entry=None), options),
    ]
    prints = [content_fingerprint(c, o) for c, o in [(content, options), *variants]]
    assert len(set(prints)) == len(prints)


def test_fingerprint_ignores_profile_for_jks(ca: CertificateAuthority) -> None:
    content = content_for(ca, generate_key(KeyAlgorithm.EC_P256), peers=0)
    a = StoreOptions(StoreFormat.JKS, STORE_PW, KEY_PW, Pkcs12Profile.LEGACY_3DES)
    b = replace(a, profile=Pkcs12Profile.MODERN_AES)
    assert content_fingerprint(content, a) == content_fingerprint(content, b)


def test_trusted_entries_are_sorted_and_aliases_lower_case(ca: CertificateAuthority) -> None:
    key = generate_key(KeyAlgorithm.EC_P256)
    content = content_for(ca, key, alias="Platform", peers=0)
    assert content.key_entry is not None and content.key_entry.alias == "platform"
    content = replace(content, trusted=(("Zeta", ca.certificate), ("alpha", ca.certificate)))
    assert [a for a, _ in content.trusted] == ["alpha", "zeta"]


@pytest.mark.parametrize(
    "trusted",
    [(("ca", "x"), ("CA", "y")), (("platform", "x"),), (("", "x"),)],
    ids=["duplicate", "clashes-with-key", "empty"],
)
def test_bad_aliases_are_rejected(
    ca: CertificateAuthority, trusted: tuple[tuple[str, str], ...]
) -> None:
    content = content_for(ca, generate_key(KeyAlgorithm.EC_P256), peers=0)
    with pytest.raises(KeystoreError, match="alias"):
        replace(content, trusted=tuple((a, ca.certificate) for a, _ in trusted))


@pytest.mark.parametrize(("fmt", "profile"), FORMATS, ids=FORMAT_IDS)
def test_chain_keeps_only_linked_issuers(
    ca: CertificateAuthority, fmt: StoreFormat, profile: Pkcs12Profile
) -> None:
    """A CA behind a self-signed leaf is dropped (Java's PKCS12 reader would drop it too),
    so desired content and decoded content agree."""
    key = generate_key(KeyAlgorithm.EC_P256)
    leaf = self_signed_certificate(key, common_name="desktop", duration=YEAR)
    entry = KeyEntry("desktop", key, (leaf, ca.certificate))
    assert entry.chain == (leaf,)
    issued = content_for(ca, key, peers=0).key_entry
    assert issued is not None and len(issued.chain) == 2
    content = KeystoreContent(entry, (("ca", ca.certificate),))
    options = StoreOptions(fmt, STORE_PW, KEY_PW, profile)
    decoded = decode_keystore(encode_keystore(content, options), options)
    assert content_fingerprint(decoded, options) == content_fingerprint(content, options)


def test_key_entry_needs_its_certificate(ca: CertificateAuthority) -> None:
    with pytest.raises(KeystoreError, match="no certificate"):
        KeyEntry("a", generate_key(KeyAlgorithm.EC_P256), ())
    with pytest.raises(KeystoreError, match="does not match"):
        KeyEntry("a", generate_key(KeyAlgorithm.EC_P256), (ca.certificate,))


@pytest.mark.parametrize(("fmt", "profile"), FORMATS, ids=FORMAT_IDS)
def test_wrong_passwords_fail_without_revealing_them(
    ca: CertificateAuthority, fmt: StoreFormat, profile: Pkcs12Profile
) -> None:
    content = content_for(ca, generate_key(KeyAlgorithm.EC_P256), peers=1)
    options = StoreOptions(fmt, STORE_PW, KEY_PW, profile)
    data = encode_keystore(content, options)
    wrong_store = replace(options, store_password="Wrong-Store-Secret")
    wrong_key = replace(options, key_password="Wrong-Key-Secret")
    with pytest.raises(KeystoreError, match="store password") as store_error:
        decode_keystore(data, wrong_store)
    with pytest.raises(KeystoreError, match="key password") as key_error:
        decode_keystore(data, wrong_key)
    for error in (store_error, key_error):
        message = str(error.value)
        for secret in (STORE_PW, KEY_PW, "Wrong-Store-Secret", "Wrong-Key-Secret"):
            assert secret not in message
        assert error.value.__cause__ is None


@pytest.mark.parametrize(("fmt", "profile"), FORMATS, ids=FORMAT_IDS)
def test_tampered_and_foreign_data(
    ca: CertificateAuthority, fmt: StoreFormat, profile: Pkcs12Profile
) -> None:
    content = content_for(ca, generate_key(KeyAlgorithm.EC_P256), peers=1)
    options = StoreOptions(fmt, STORE_PW, KEY_PW, profile)
    data = bytearray(encode_keystore(content, options))
    data[len(data) // 2] ^= 0x01
    with pytest.raises(KeystoreError):
        decode_keystore(bytes(data), options)
    with pytest.raises(KeystoreError, match="neither JKS nor PKCS12"):
        decode_keystore(b"-----BEGIN CERTIFICATE-----", options)
    other = StoreFormat.JKS if fmt is StoreFormat.PKCS12 else StoreFormat.PKCS12
    with pytest.raises(KeystoreError, match=f"expected {fmt.value}"):
        decode_keystore(encode_keystore(content, replace(options, format=other)), options)


def test_non_ascii_passwords_only_for_jks(ca: CertificateAuthority) -> None:
    content = content_for(ca, generate_key(KeyAlgorithm.EC_P256), peers=0)
    jks = StoreOptions(StoreFormat.JKS, "störe-€", "kéy")
    assert_same(decode_keystore(encode_keystore(content, jks), jks), content)
    with pytest.raises(KeystoreError, match="ASCII") as info:
        encode_keystore(content, replace(jks, format=StoreFormat.PKCS12))
    assert "störe" not in str(info.value)


def test_empty_passwords_are_rejected(ca: CertificateAuthority) -> None:
    content = content_for(ca, generate_key(KeyAlgorithm.EC_P256), peers=0)
    with pytest.raises(KeystoreError, match="must not be empty"):
        encode_keystore(content, StoreOptions(StoreFormat.PKCS12, "", KEY_PW))


@pytest.mark.parametrize("profile", list(Pkcs12Profile))
def test_pkcs12_is_readable_by_cryptography(
    ca: CertificateAuthority, profile: Pkcs12Profile
) -> None:
    """An independent reader (OpenSSL via cryptography) sees the key, chain and trust anchors."""
    content = content_for(ca, generate_key(KeyAlgorithm.RSA_2048), peers=1)
    options = StoreOptions(StoreFormat.PKCS12, STORE_PW, STORE_PW, profile)
    loaded = pkcs12.load_pkcs12(encode_keystore(content, options), STORE_PW.encode())
    assert content.key_entry is not None and loaded.key is not None
    assert key_to_der(loaded.key) == key_to_der(content.key_entry.key)  # type: ignore[arg-type]
    assert loaded.cert is not None and loaded.cert.friendly_name == b"platform"
    names = sorted(c.friendly_name or b"" for c in loaded.additional_certs)
    assert names == [b"", b"ca", b"peer-0"]


def test_pkcs12_reads_a_cryptography_truststore(ca: CertificateAuthority) -> None:
    """A store written by another tool: trusted entries carry Oracle's attribute."""
    data = pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(ca.certificate, b"the-ca")],
        BestAvailableEncryption(STORE_PW.encode()),
    )
    decoded = decode_keystore(data, StoreOptions(StoreFormat.PKCS12, STORE_PW, STORE_PW))
    assert decoded.key_entry is None
    assert decoded.trusted == (("the-ca", ca.certificate),)


def test_pkcs12_kdf_matches_a_known_vector() -> None:
    # RFC 7292 KDF, SHA-1, password "smeg", salt 0A58CF64530D823F, ID 1, 1 iteration: the
    # widely used test vector (OpenSSL / BouncyCastle PKCS12 KDF tests).
    key = pkcs12_kdf("sha1", "smeg", bytes.fromhex("0A58CF64530D823F"), 1, 1, 24)
    assert key.hex().upper() == "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3"


def test_pkcs12_bags_have_the_java_attributes(ca: CertificateAuthority) -> None:
    content = content_for(ca, generate_key(KeyAlgorithm.EC_P256), peers=1)
    options = StoreOptions(StoreFormat.PKCS12, STORE_PW, KEY_PW)
    data = encode_keystore(content, options)
    fields = der.items(der.expect(data, der.SEQUENCE))
    _, wrapped = der.items(der.expect(fields[1], der.SEQUENCE))
    auth_safe = der.expect(der.expect(wrapped, 0xA0), der.OCTET_STRING)
    bags = list(
        itertools.chain.from_iterable(
            p12._safe_contents(ci, STORE_PW if i == 0 else KEY_PW)
            for i, ci in enumerate(der.items(der.expect(auth_safe, der.SEQUENCE)))
        )
    )
    trusted = [b for b in bags if p12.TRUSTED_KEY_USAGE in b.attributes]
    assert sorted(b.friendly_name or "" for b in trusted) == ["ca", "peer-0"]
    for bag in trusted:
        value = bag.attributes[p12.TRUSTED_KEY_USAGE]
        assert der.read_oid(value) == p12.ANY_EXTENDED_KEY_USAGE
    key_bag = next(b for b in bags if b.kind == p12.SHROUDED_KEY_BAG)
    leaf_bag = next(
        b for b in bags if b.local_key_id == key_bag.local_key_id and b.kind == p12.CERT_BAG
    )
    assert key_bag.friendly_name == leaf_bag.friendly_name == "platform"


@pytest.mark.parametrize(
    ("base", "taken", "expected"),
    [
        ("Platform", [], "platform"),
        ("CN=Jane Doe/ä", [], "cn-jane-doe"),
        ("ec", ["ec"], "ec-2"),
        ("ec", ["EC", "ec-2"], "ec-3"),
        ("***", [], "cert"),
        ("a.b_c-d", [], "a.b_c-d"),
    ],
)
def test_unique_alias(base: str, taken: list[str], expected: str) -> None:
    assert unique_alias(base, taken) == expected


def test_file_name() -> None:
    assert file_name(StoreFormat.JKS) == "keystore.jks"
    assert file_name(StoreFormat.PKCS12) == "keystore.p12"
