"""Our keystores as the JDK sees them: keytool listings, key recovery with a separate key
password, and TLS handshakes (CA trust and pinned self-signed trust) for every format/profile."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509

from pico_harness.java.tools import (
    ClientStore,
    KeytoolListing,
    StoreSpec,
    TlsServer,
    inspect_stores,
    keytool_listing,
    start_servers,
    tls_handshake_batch,
)
from pico_tls.keystore import (
    KeyEntry,
    KeystoreContent,
    Pkcs12Profile,
    StoreFormat,
    StoreOptions,
    encode_keystore,
    file_name,
)
from pico_tls.pki import (
    CertificateAuthority,
    KeyAlgorithm,
    PrivateKey,
    create_ca,
    generate_key,
    issue_certificate,
    self_signed_certificate,
    sha256_fingerprint,
)

pytestmark = pytest.mark.java

YEAR = timedelta(days=365)
STORE_PW = "store-pw-1"
KEY_PW = "key-pw-2"  # differs from the store password, as pico allows
FORMATS = [
    (StoreFormat.JKS, Pkcs12Profile.LEGACY_3DES),
    (StoreFormat.PKCS12, Pkcs12Profile.LEGACY_3DES),
    (StoreFormat.PKCS12, Pkcs12Profile.MODERN_AES),
]
FORMAT_IDS = [f"{f.value}-{p.value}" for f, p in FORMATS]
JAVA_TYPE = {StoreFormat.JKS: "JKS", StoreFormat.PKCS12: "PKCS12"}


@dataclass(frozen=True)
class Written:
    path: Path
    content: KeystoreContent
    options: StoreOptions

    @property
    def java_type(self) -> str:
        return JAVA_TYPE[self.options.format]

    def client(self, alias: str) -> ClientStore:
        return ClientStore(self.path, self.java_type, STORE_PW, KEY_PW, alias)

    def server(self, classpath: Path, alias: str) -> TlsServer:
        return TlsServer(classpath, self.path, self.java_type, STORE_PW, KEY_PW, alias, True)


def write(directory: Path, name: str, content: KeystoreContent, options: StoreOptions) -> Written:
    path = directory / f"{name}-{file_name(options.format)}"
    path.write_bytes(encode_keystore(content, options))
    return Written(path, content, options)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return create_ca("Pico Java Test CA", generate_key(KeyAlgorithm.RSA_2048), duration=YEAR)


@pytest.fixture(scope="module")
def keys() -> dict[KeyAlgorithm, PrivateKey]:
    with ThreadPoolExecutor() as pool:
        return dict(zip(KeyAlgorithm, pool.map(generate_key, KeyAlgorithm), strict=True))


@pytest.fixture(scope="module")
def matrix(
    tmp_path_factory: pytest.TempPathFactory,
    ca: CertificateAuthority,
    keys: dict[KeyAlgorithm, PrivateKey],
) -> list[Written]:
    """A store per format/profile x key type: key entry 'platform' (chain leaf + CA) and the
    trusted entries 'ca' and 'desktop-jane' (a self-signed peer)."""
    directory = tmp_path_factory.mktemp("stores")
    peer_key = generate_key(KeyAlgorithm.EC_P256)
    peer = self_signed_certificate(peer_key, common_name="jane", duration=YEAR)
    stores = []
    for fmt, profile in FORMATS:
        for algorithm, key in keys.items():
            leaf = issue_certificate(
                ca, key.public_key(), common_name="platform", dns_names=["p"], duration=YEAR
            )
            content = KeystoreContent(
                KeyEntry("platform", key, (leaf, ca.certificate)),
                (("ca", ca.certificate), ("desktop-jane", peer)),
            )
            options = StoreOptions(fmt, STORE_PW, KEY_PW, profile)
            stores.append(write(directory, f"{fmt}-{profile}-{algorithm}", content, options))
    return stores


def test_keytool_lists_one_key_entry_and_the_trusted_entries(matrix: list[Written]) -> None:
    def listing(store: Written) -> tuple[Written, KeytoolListing]:
        return store, keytool_listing(store.path, STORE_PW, store.java_type)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(listing, matrix))
    for store, result in results:
        entries = result.by_alias()
        assert sorted(entries) == ["ca", "desktop-jane", "platform"], store.path.name
        key_entry = store.content.key_entry
        assert key_entry is not None
        platform = entries["platform"]
        assert platform.entry_type == "PrivateKeyEntry", store.path.name
        assert list(platform.fingerprints) == [sha256_fingerprint(c) for c in key_entry.chain]
        for alias, cert in store.content.trusted:
            assert entries[alias].entry_type == "trustedCertEntry", (store.path.name, alias)
            assert entries[alias].fingerprints[0] == sha256_fingerprint(cert)


def test_java_recovers_the_key_with_the_key_password(
    java_probe: Path, matrix: list[Written]
) -> None:
    specs = [StoreSpec(s.path, s.java_type, STORE_PW, KEY_PW) for s in matrix]
    for store, seen in zip(matrix, inspect_stores(java_probe, specs), strict=True):
        assert seen.loaded, (store.path.name, seen.detail)
        entries = seen.by_alias()
        assert entries["platform"].entry_type == "PrivateKeyEntry"
        assert entries["platform"].key_recovered, store.path.name
        assert entries["platform"].chain_length == 2
        assert {entries[a].entry_type for a in ("ca", "desktop-jane")} == {"trustedCertEntry"}
    wrong = [StoreSpec(s.path, s.java_type, STORE_PW, "wrong-key-pw") for s in matrix[:3]]
    for seen in inspect_stores(java_probe, wrong):
        assert seen.by_alias()["platform"].key_recovered is False


@pytest.mark.parametrize(("fmt", "profile"), FORMATS, ids=FORMAT_IDS)
def test_handshakes_with_ca_and_pinned_trust(
    java_probe: Path,
    tmp_path: Path,
    ca: CertificateAuthority,
    keys: dict[KeyAlgorithm, PrivateKey],
    fmt: StoreFormat,
    profile: Pkcs12Profile,
) -> None:
    """Required client auth: a CA-issued client and a pinned self-signed client get in, a
    stranger (self-signed, not trusted by the platform) is rejected."""
    options = StoreOptions(fmt, STORE_PW, KEY_PW, profile)
    ec_key, desk_key = keys[KeyAlgorithm.EC_P256], keys[KeyAlgorithm.EC_P384]
    stranger_key = keys[KeyAlgorithm.RSA_2048]

    def issued(key: PrivateKey, name: str) -> KeyEntry:
        cert = issue_certificate(ca, key.public_key(), common_name=name, duration=YEAR)
        return KeyEntry(name, key, (cert, ca.certificate))

    def pinned(key: PrivateKey, name: str) -> KeyEntry:
        cert = self_signed_certificate(key, common_name=name, dns_names=[name], duration=YEAR)
        return KeyEntry(name, key, (cert,))

    trust_ca = (("ca", ca.certificate),)
    # CA mode: the platform and the EC trust the CA.
    ca_platform = write(
        tmp_path,
        "ca-platform",
        KeystoreContent(issued(keys[KeyAlgorithm.RSA_3072], "platform"), trust_ca),
        options,
    )
    ca_client = write(tmp_path, "ca-ec", KeystoreContent(issued(ec_key, "ec-1"), trust_ca), options)
    # Pinned mode: every party trusts exactly the others' self-signed leaf certificates.
    p_platform, p_ec, p_desk = (
        pinned(keys[KeyAlgorithm.RSA_2048], "platform"),
        pinned(ec_key, "ec-1"),
        pinned(desk_key, "desktop"),
    )
    p_stranger = pinned(stranger_key, "stranger")

    def leaf(entry: KeyEntry) -> tuple[str, x509.Certificate]:
        return entry.alias, entry.chain[0]

    pin_platform = write(
        tmp_path, "pin-platform", KeystoreContent(p_platform, (leaf(p_ec), leaf(p_desk))), options
    )
    pin_ec = write(tmp_path, "pin-ec", KeystoreContent(p_ec, (leaf(p_platform),)), options)
    pin_desk = write(tmp_path, "pin-desk", KeystoreContent(p_desk, (leaf(p_platform),)), options)
    stranger = write(
        tmp_path, "stranger", KeystoreContent(p_stranger, (leaf(p_platform), *trust_ca)), options
    )

    ca_server = ca_platform.server(java_probe, "platform")
    pin_server = pin_platform.server(java_probe, "platform")
    with start_servers([ca_server, pin_server]):
        results = tls_handshake_batch(
            [
                (ca_server, ca_client.client("ec-1")),
                (ca_server, stranger.client("stranger")),
                (pin_server, pin_ec.client("ec-1")),
                (pin_server, pin_desk.client("desktop")),
                (pin_server, stranger.client("stranger")),
            ]
        )
    expected = [True, False, True, True, False]
    assert [r.ok for r in results] == expected, [r.detail for r in results]
    accepted = [r.server_event.accepted if r.server_event else None for r in results]
    assert accepted == expected, [r.server_event for r in results]
    assert results[0].server_fingerprint == sha256_fingerprint(
        ca_platform.content.key_entry.chain[0]  # type: ignore[union-attr]
    )
    assert results[2].server_fingerprint == sha256_fingerprint(p_platform.chain[0])


def test_decodes_stores_written_by_keytool(tmp_path: Path, ca: CertificateAuthority) -> None:
    """PKCS12 from keytool's defaults (PBES2/AES, HMAC-SHA256) and legacy mode (RC2-40 certs,
    3DES key, HMAC-SHA1), and JKS with a separate key password, read with our decoder."""
    from pico_harness.java.tools import keytool
    from pico_tls.keystore import decode_keystore
    from pico_tls.pki import cert_to_pem

    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(cert_to_pem(ca.certificate))
    modern, legacy, jks = tmp_path / "m.p12", tmp_path / "l.p12", tmp_path / "k.jks"
    common = ("-storepass", STORE_PW, "-noprompt")
    keytool(
        "-genkeypair",
        "-keystore",
        str(modern),
        "-storetype",
        "PKCS12",
        "-alias",
        "Server",
        "-keyalg",
        "EC",
        "-dname",
        "CN=server",
        *common,
    )
    keytool(
        "-importcert",
        "-keystore",
        str(modern),
        "-storetype",
        "PKCS12",
        "-alias",
        "the-ca",
        "-file",
        str(ca_pem),
        *common,
    )
    keytool(
        "-importkeystore",
        "-J-Dkeystore.pkcs12.legacy",
        "-srckeystore",
        str(modern),
        "-srcstoretype",
        "PKCS12",
        "-srcstorepass",
        STORE_PW,
        "-destkeystore",
        str(legacy),
        "-deststoretype",
        "PKCS12",
        "-deststorepass",
        STORE_PW,
        "-noprompt",
    )
    keytool(
        "-importkeystore",
        "-srckeystore",
        str(modern),
        "-srcstoretype",
        "PKCS12",
        "-srcstorepass",
        STORE_PW,
        "-destkeystore",
        str(jks),
        "-deststoretype",
        "JKS",
        "-deststorepass",
        STORE_PW,
        "-destkeypass",
        KEY_PW,
        "-noprompt",
    )
    # (keytool -importkeystore with -destkeypass skips trusted entries: import it separately)
    keytool(
        "-importcert",
        "-keystore",
        str(jks),
        "-storetype",
        "JKS",
        "-alias",
        "the-ca",
        "-file",
        str(ca_pem),
        *common,
    )
    for path, fmt, key_pw in [
        (modern, StoreFormat.PKCS12, STORE_PW),
        (legacy, StoreFormat.PKCS12, STORE_PW),
        (jks, StoreFormat.JKS, KEY_PW),
    ]:
        content = decode_keystore(path.read_bytes(), StoreOptions(fmt, STORE_PW, key_pw))
        assert content.key_entry is not None, path.name
        assert content.key_entry.alias == "server"
        assert content.key_entry.chain[0].subject.rfc4514_string() == "CN=server"
        assert content.trusted == (("the-ca", ca.certificate),), path.name
