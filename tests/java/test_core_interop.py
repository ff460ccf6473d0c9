"""Stores built with our own pico_tls API, checked by a real JVM.

For every format x PKCS12 profile x key algorithm x trust mode, one "platform group" is built the
way the operator builds it (``material.resolve_identity`` and ``builders.stores``, then
``encode_keystore``): a platform store, a container store, a desktop store, a stranger's store
(trusts the platform, but is not trusted by it) and, for the Shared keystore mode, the platform's
own store used by a container. Store password != key password everywhere.

All platform servers (client auth required) run at once, and all client handshakes run in one JVM,
so the whole table costs a few JVM starts. The results are computed once per module; each table
row is its own test. (tests/java/test_keystore_java.py covers the keystore API on its own; this
module covers what the operator composes: identities, trust rules, aliases, desktop pinning.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pico_harness.java.tools import (
    ClientStore,
    HandshakeResult,
    StoreInspection,
    StoreSpec,
    TlsServer,
    inspect_stores,
    start_servers,
    tls_handshake_batch,
)
from pico_tls.builders import stores as store_builders
from pico_tls.keystore import (
    KeystoreContent,
    Pkcs12Profile,
    StoreFormat,
    StoreOptions,
    encode_keystore,
    file_name,
)
from pico_tls.material import CertRequest, Identity, Passwords, StoredMaterial, resolve_identity
from pico_tls.pki import (
    CertificateAuthority,
    KeyAlgorithm,
    create_ca,
    generate_key,
    sha256_fingerprint,
)

NOW = datetime.now(UTC)  # the clock of these tests

YEAR = timedelta(days=365)
PLATFORM_ALIAS = "platform"  # the CRD default of spec.tls.alias
CONTAINER = "ec-1"
DESKTOP_USER = "alice"
DESKTOP_ALIAS = "desktop"  # the CRD default of DesktopClient spec.alias


@dataclass(frozen=True)
class Scenario:
    fmt: StoreFormat
    profile: Pkcs12Profile
    key: KeyAlgorithm
    trust: str  # "ca" | "pinned"

    @property
    def id(self) -> str:
        fmt = "jks" if self.fmt is StoreFormat.JKS else f"p12-{self.profile.value}"
        return f"{fmt}-{self.key.value}-{self.trust}"

    @property
    def java_type(self) -> str:
        return "JKS" if self.fmt is StoreFormat.JKS else "PKCS12"


FORMATS = [
    (StoreFormat.JKS, Pkcs12Profile.LEGACY_3DES),
    (StoreFormat.PKCS12, Pkcs12Profile.LEGACY_3DES),
    (StoreFormat.PKCS12, Pkcs12Profile.MODERN_AES),
]
SCENARIOS = [
    Scenario(fmt, profile, key, trust)
    for fmt, profile in FORMATS
    for key in (KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256)
    for trust in ("ca", "pinned")
] + [
    Scenario(StoreFormat.PKCS12, Pkcs12Profile.LEGACY_3DES, KeyAlgorithm.EC_P384, "ca"),
    Scenario(StoreFormat.JKS, Pkcs12Profile.LEGACY_3DES, KeyAlgorithm.RSA_3072, "pinned"),
]
ROLES = ("container", "desktop", "shared", "stranger")


@dataclass(frozen=True)
class BuiltStore:
    path: Path
    content: KeystoreContent
    options: StoreOptions
    java_type: str

    def spec(self) -> StoreSpec:
        return StoreSpec(
            self.path, self.java_type, self.options.store_password, self.options.key_password
        )

    def client(self) -> ClientStore:
        assert self.content.key_entry is not None
        return ClientStore(
            self.path,
            self.java_type,
            self.options.store_password,
            self.options.key_password,
            self.content.key_entry.alias,
        )


@dataclass(frozen=True)
class Group:
    scenario: Scenario
    platform: BuiltStore
    clients: dict[str, BuiltStore]  # role -> store
    identities: dict[str, Identity]


def _identity(
    name: str, key: KeyAlgorithm, issuer: CertificateAuthority | None, n: int
) -> Identity:
    request = CertRequest(
        common_name=name,
        dns_names=(name,),
        key_algorithm=key,
        duration=YEAR,
        renew_before=timedelta(days=30),
    )
    passwords = Passwords(f"store-{name}-{n}", f"key-{name}-{n}")
    identity, _ = resolve_identity(request, issuer, StoredMaterial(), passwords=passwords, now=NOW)
    return identity


def _write(
    directory: Path, name: str, content: KeystoreContent, identity: Identity, sc: Scenario
) -> BuiltStore:
    options = StoreOptions(
        format=sc.fmt,
        store_password=identity.passwords.store,
        key_password=identity.passwords.key,
        profile=sc.profile,
    )
    data = encode_keystore(content, options)
    path = directory / f"{name}-{file_name(sc.fmt)}"
    path.write_bytes(data)
    return BuiltStore(path, content, options, sc.java_type)


def _build_group(directory: Path, sc: Scenario, n: int) -> Group:
    ca = create_ca("pico-ca", generate_key(sc.key), duration=YEAR) if sc.trust == "ca" else None
    platform = _identity("platform", sc.key, ca, n)
    container = _identity(CONTAINER, sc.key, ca, n)
    desktop = _identity(DESKTOP_USER, sc.key, None, n)  # desktops are always self-signed
    if ca is not None:
        # same subject as the real CA, another key: must not be trusted
        impostor_ca = create_ca("pico-ca", generate_key(sc.key), duration=YEAR)
        stranger = _identity(CONTAINER, sc.key, impostor_ca, n + 1000)
    else:
        stranger = _identity(CONTAINER, sc.key, None, n + 1000)  # same CN as the container

    pinned = [(CONTAINER, container.certificate)] if ca is None else []
    platform_content = store_builders.platform_store(
        PLATFORM_ALIAS, platform, ca, pinned, [(DESKTOP_USER, desktop.certificate)]
    )
    platform_store = _write(directory, "platform", platform_content, platform, sc)
    clients = {
        "container": _write(
            directory,
            "container",
            store_builders.peer_store(CONTAINER, container, ca, platform),
            container,
            sc,
        ),
        "desktop": _write(
            directory,
            "desktop",
            store_builders.peer_store(DESKTOP_ALIAS, desktop, ca, platform),
            desktop,
            sc,
        ),
        # KeystoreMode Shared: the container mounts the platform's own store
        "shared": platform_store,
        "stranger": _write(
            directory,
            "stranger",
            store_builders.peer_store(CONTAINER, stranger, ca, platform),
            stranger,
            sc,
        ),
    }
    identities = {
        "platform": platform,
        "container": container,
        "desktop": desktop,
        "shared": platform,
        "stranger": stranger,
    }
    return Group(sc, platform_store, clients, identities)


@dataclass(frozen=True)
class Outcome:
    groups: dict[str, Group]
    handshakes: dict[tuple[str, str], HandshakeResult]  # (scenario id, role) -> result
    inspections: dict[tuple[str, str], StoreInspection]  # (scenario id, store name)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory, java_probe: Path) -> Iterator[Outcome]:
    groups: dict[str, Group] = {}
    for n, sc in enumerate(SCENARIOS):
        directory = tmp_path_factory.mktemp(sc.id)
        groups[sc.id] = _build_group(directory, sc, n)

    to_inspect: list[tuple[tuple[str, str], StoreSpec]] = []
    for sid, g in groups.items():
        to_inspect.append(((sid, "platform"), g.platform.spec()))
        for role in ("container", "desktop"):
            to_inspect.append(((sid, role), g.clients[role].spec()))
    inspected = inspect_stores(java_probe, [spec for _, spec in to_inspect])

    servers = {
        sid: TlsServer(
            java_probe,
            g.platform.path,
            g.platform.java_type,
            g.platform.options.store_password,
            g.platform.options.key_password,
            PLATFORM_ALIAS,
            require_client_auth=True,
        )
        for sid, g in groups.items()
    }
    with start_servers(list(servers.values())):
        pairs = [
            ((sid, role), servers[sid], groups[sid].clients[role].client())
            for sid in groups
            for role in ROLES
        ]
        results = tls_handshake_batch([(server, client) for _, server, client in pairs])
    yield Outcome(
        groups,
        {key: result for (key, _, _), result in zip(pairs, results, strict=True)},
        {key: ins for (key, _), ins in zip(to_inspect, inspected, strict=True)},
    )


def _subject(identity: Identity) -> str:
    return identity.certificate.subject.rfc4514_string()


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.id)
def test_java_reads_entries_as_written(outcome: Outcome, sc: Scenario) -> None:
    group = outcome.groups[sc.id]
    for name, store in [("platform", group.platform)] + [
        (role, group.clients[role]) for role in ("container", "desktop")
    ]:
        seen = outcome.inspections[(sc.id, name)]
        assert seen.loaded, f"{name}: {seen.detail}"
        expected = {alias: ("trustedCertEntry", cert) for alias, cert in store.content.trusted}
        key_entry = store.content.key_entry
        assert key_entry is not None
        expected[key_entry.alias] = ("PrivateKeyEntry", key_entry.chain[0])
        got = seen.by_alias()
        assert {a: e.entry_type for a, e in got.items()} == {
            a: t for a, (t, _) in expected.items()
        }, name
        for alias, (_, cert) in expected.items():
            assert got[alias].fingerprint == sha256_fingerprint(cert), f"{name}/{alias}"
        assert got[key_entry.alias].key_recovered, f"{name}: key password does not recover key"


def _chain_cases() -> list[object]:
    # Regression: desktops are self-signed but peer_store appends the CA; KeyEntry keeps only the
    # issuer-linked part, as Java's PKCS12 reader does, so the chains must agree.
    return [
        pytest.param(sc, name, id=f"{sc.id}-{name}")
        for sc in SCENARIOS
        for name in ("platform", "container", "desktop")
    ]


@pytest.mark.parametrize(("sc", "name"), _chain_cases())
def test_java_sees_the_chain_we_wrote(outcome: Outcome, sc: Scenario, name: str) -> None:
    group = outcome.groups[sc.id]
    store = group.platform if name == "platform" else group.clients[name]
    key_entry = store.content.key_entry
    assert key_entry is not None
    seen = outcome.inspections[(sc.id, name)].by_alias()[key_entry.alias]
    assert seen.chain_length == len(key_entry.chain)


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.id)
@pytest.mark.parametrize("role", ["container", "desktop", "shared"])
def test_platform_accepts_group_member(outcome: Outcome, sc: Scenario, role: str) -> None:
    result = outcome.handshakes[(sc.id, role)]
    platform = outcome.groups[sc.id].identities["platform"]
    assert result.ok, result.detail
    # the key entry named by the alias is the one presented
    assert result.server_fingerprint == sha256_fingerprint(platform.certificate)
    assert result.server_subject == _subject(platform)
    assert result.server_event is not None and result.server_event.accepted
    client = outcome.groups[sc.id].identities[role]
    assert result.server_event.client_subject == _subject(client)


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.id)
def test_platform_rejects_stranger(outcome: Outcome, sc: Scenario) -> None:
    result = outcome.handshakes[(sc.id, "stranger")]
    assert not result.ok, result.detail
    assert result.connected
    assert result.server_event is not None and not result.server_event.accepted, (
        "the stranger must be rejected by the platform, not by its own trust"
    )
