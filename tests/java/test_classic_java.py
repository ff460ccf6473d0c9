"""`pico-tls keystores` output, checked by keytool and a real JVM.

Per scenario (format x key x mode x trust) one DIR is written for platform `mz`, containers
`ec1`, `ec2` and desktops `alice`, `carol`, `bob`; then the command is run again without `bob`
(revoking him). Checks: `keytool -list` shows exactly the expected entries in every store; a JVM
TLS server configured from the platform's rcp-tls.properties (alias, client auth required)
accepts every container (configured from its own rcp-tls.properties) and desktop, presents the
key entry the properties name, and itself rejects bob's old store and a stranger's store (both
of which trust the platform, so the verdict is the server's).
All servers run in one JVM and all clients in one more.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509

from pico_harness.java.tools import (
    ClientStore,
    HandshakeResult,
    KeytoolEntry,
    PicoConfig,
    keytool_list,
    pico_configs,
    start_servers,
    tls_handshake_batch,
)
from pico_tls.classic.layout import read_store
from pico_tls.cli import main
from pico_tls.keystore import KeyEntry, KeystoreContent, StoreFormat, StoreOptions, encode_keystore
from pico_tls.pki import (
    KeyAlgorithm,
    cert_to_pem,
    certs_from_pem,
    create_ca,
    generate_key,
    key_to_pem,
    self_signed_certificate,
    sha256_fingerprint,
)

CONTAINERS = ("ec1", "ec2")
DESKTOPS = ("alice", "carol")
REVOKED = "bob"
STRANGER = "stranger"
YEAR = timedelta(days=365)


@dataclass(frozen=True)
class Scenario:
    fmt: StoreFormat
    profile: str
    key: KeyAlgorithm
    mode: str
    trust: str

    @property
    def id(self) -> str:
        return f"{self.fmt.value}-{self.profile}-{self.key.value}-{self.mode}-{self.trust}"

    @property
    def java_type(self) -> str:
        return "JKS" if self.fmt is StoreFormat.JKS else "PKCS12"

    @property
    def store_file(self) -> str:
        return "keystore.jks" if self.fmt is StoreFormat.JKS else "keystore.p12"


SCENARIOS = [
    Scenario(StoreFormat.PKCS12, "legacy-3des", KeyAlgorithm.RSA_2048, "per-container", "pinned"),
    Scenario(StoreFormat.JKS, "legacy-3des", KeyAlgorithm.EC_P256, "per-container", "ca"),
    Scenario(StoreFormat.PKCS12, "modern-aes", KeyAlgorithm.EC_P384, "shared", "ca"),
    Scenario(StoreFormat.JKS, "legacy-3des", KeyAlgorithm.RSA_2048, "shared", "pinned"),
    Scenario(StoreFormat.PKCS12, "legacy-3des", KeyAlgorithm.EC_P256, "per-container", "ca"),
]


@dataclass
class Written:
    scenario: Scenario
    out: Path
    platform: PicoConfig
    containers: dict[str, PicoConfig]
    clients: dict[str, ClientStore]  # containers, desktops, bob (revoked), stranger
    listings: dict[str, list[KeytoolEntry]]
    results: dict[str, HandshakeResult]


def _client(folder: Path, sc: Scenario) -> ClientStore:
    store = read_store(folder / sc.store_file)
    alias = store.content.key_entry.alias if store.content.key_entry else None
    return ClientStore(
        folder / sc.store_file, sc.java_type, store.passwords.store, store.passwords.key, alias
    )


def _stranger(folder: Path, sc: Scenario, trusted: x509.Certificate) -> ClientStore:
    """A store the platform never saw, named like a container, that trusts the platform."""
    folder.mkdir()
    key = generate_key(sc.key)
    cert = self_signed_certificate(key, common_name="ec1", duration=YEAR)
    content = KeystoreContent(KeyEntry("ec1", key, (cert,)), (("pico-platform", trusted),))
    path = folder / sc.store_file
    path.write_bytes(encode_keystore(content, StoreOptions(sc.fmt, "stranger-s", "stranger-k")))
    return ClientStore(path, sc.java_type, "stranger-s", "stranger-k", "ec1")


def _write(base: Path, sc: Scenario) -> tuple[Path, dict[str, ClientStore]]:
    out = base / "out"
    args = ["keystores", "--out", str(out), "--platform", "mz", "--require-client-auth"]
    args += ["--format", sc.fmt.value, "--pkcs12-profile", sc.profile, "--key", sc.key.value]
    args += ["--mode", sc.mode, "--hostname", "mz=mz.example.com"]
    for c in CONTAINERS:
        args += ["--container", c]
    if sc.trust == "ca":
        ca = create_ca("Classic CA", generate_key(KeyAlgorithm.EC_P256), duration=YEAR)
        (base / "ca.crt").write_bytes(cert_to_pem(ca.certificate))
        (base / "ca.key").write_bytes(key_to_pem(ca.key))
        args += ["--ca-cert", str(base / "ca.crt"), "--ca-key", str(base / "ca.key")]
    desktops = [a for d in DESKTOPS for a in ("--desktop", d)]
    assert main([*args, *desktops, "--desktop", REVOKED]) == 0
    shutil.copytree(out / REVOKED, base / REVOKED)
    assert main([*args, *desktops]) == 0  # bob left out: revoked
    assert not (out / REVOKED).exists()
    clients = {name: _client(out / name, sc) for name in (*CONTAINERS, *DESKTOPS)}
    clients[REVOKED] = _client(base / REVOKED, sc)
    anchor = certs_from_pem(
        (out / "ca.crt" if sc.trust == "ca" else out / "mz" / "tls.crt").read_bytes()
    )[0]
    clients[STRANGER] = _stranger(base / STRANGER, sc, anchor)
    return out, clients


def _expected_entries(sc: Scenario, name: str) -> dict[str, str]:
    """alias -> entry type, as keytool must list them."""
    ca, shared = sc.trust == "ca", sc.mode == "shared"
    anchor = {"pico-ca": "trustedCertEntry"} if ca else {"pico-platform": "trustedCertEntry"}
    if name == "mz" or (shared and name in CONTAINERS):
        entries = {"mz": "PrivateKeyEntry"}
        entries |= {f"desktop-{d}": "trustedCertEntry" for d in DESKTOPS}
        if ca:
            entries["pico-ca"] = "trustedCertEntry"
        elif not shared:
            entries |= {f"ec-{c}": "trustedCertEntry" for c in CONTAINERS}
        return entries
    return {name: "PrivateKeyEntry"} | anchor


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory, java_probe: Path
) -> Iterator[dict[str, Written]]:
    made = {sc.id: (sc, *_write(tmp_path_factory.mktemp(sc.id), sc)) for sc in SCENARIOS}
    instances = []
    for _, out, _ in made.values():
        instances.append((out / "mz", [out / "mz" / "rcp-tls.properties"]))
        instances += [(out / c, [out / c / "rcp-tls.properties"]) for c in CONTAINERS]
    configs = iter(pico_configs(java_probe, instances))
    result: dict[str, Written] = {}
    for sid, (sc, out, clients) in made.items():
        platform = next(configs)
        containers = {c: next(configs) for c in CONTAINERS}
        for c, config in containers.items():
            clients[c] = config.client()  # the container as its properties configure it
        result[sid] = Written(sc, out, platform, containers, clients, {}, {})

    def listing(job: tuple[str, str]) -> list[KeytoolEntry]:
        sid, name = job
        w = result[sid]
        store = read_store(w.out / name / w.scenario.store_file)
        return keytool_list(
            w.out / name / w.scenario.store_file, store.passwords.store, w.scenario.java_type
        )

    jobs = [(sid, n) for sid in result for n in ("mz", *CONTAINERS, *DESKTOPS)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for job, entries in zip(jobs, pool.map(listing, jobs), strict=True):
            result[job[0]].listings[job[1]] = entries

    servers = {sid: w.platform.server(java_probe) for sid, w in result.items()}
    pairs = [(sid, name) for sid, w in result.items() for name in w.clients]
    with start_servers(list(servers.values())):
        outcomes = tls_handshake_batch(
            [(servers[sid], result[sid].clients[name]) for sid, name in pairs]
        )
    for (sid, name), outcome in zip(pairs, outcomes, strict=True):
        result[sid].results[name] = outcome
    yield result


def _cases(names: tuple[str, ...]) -> list[pytest.ParameterSet]:
    return [pytest.param(sc, n, id=f"{sc.id}-{n}") for sc in SCENARIOS for n in names]


@pytest.mark.parametrize(("sc", "name"), _cases(("mz", *CONTAINERS, *DESKTOPS)))
def test_keytool_lists_exactly_the_expected_entries(
    written: dict[str, Written], sc: Scenario, name: str
) -> None:
    entries = written[sc.id].listings[name]
    assert {e.alias: e.entry_type for e in entries} == _expected_entries(sc, name)
    assert len(entries) == len(_expected_entries(sc, name))


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.id)
def test_properties_configure_a_client_auth_server_with_the_platform_key(
    written: dict[str, Written], sc: Scenario
) -> None:
    w = written[sc.id]
    assert w.platform.require_client_auth and w.platform.alias == "mz"
    assert w.platform.keystore == w.out / "mz" / sc.store_file
    for name, config in w.containers.items():
        assert config.require_client_auth
        assert config.alias == ("mz" if sc.mode == "shared" else name)


@pytest.mark.parametrize(("sc", "name"), _cases((*CONTAINERS, *DESKTOPS)))
def test_platform_accepts_every_container_and_desktop(
    written: dict[str, Written], sc: Scenario, name: str
) -> None:
    w = written[sc.id]
    result = w.results[name]
    assert result.ok, result.detail
    platform_cert = certs_from_pem((w.out / "mz" / "tls.crt").read_bytes())[0]
    assert result.server_fingerprint == sha256_fingerprint(platform_cert)  # the alias's entry
    assert result.server_event is not None and result.server_event.accepted
    client_cert = certs_from_pem((w.out / name / "tls.crt").read_bytes())[0]
    assert result.server_event.client_subject == client_cert.subject.rfc4514_string()


@pytest.mark.parametrize(("sc", "name"), _cases((REVOKED, STRANGER)))
def test_platform_rejects_a_revoked_desktop_and_a_stranger(
    written: dict[str, Written], sc: Scenario, name: str
) -> None:
    result = written[sc.id].results[name]
    assert not result.ok, result.detail
    assert result.connected
    assert result.server_event is not None and not result.server_event.accepted, (
        "the platform itself must refuse the client (the client trusts the platform)"
    )
