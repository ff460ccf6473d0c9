"""The harness itself: with stores made by the real keytool it must both pass and fail.

Stores (made once per session):
- server.p12 (PKCS12): key entries srv-a (RSA) and srv-b (EC), trusted entry "client".
- server.jks (JKS, keytool -importkeystore of server.p12): store password != key password.
- client.jks (JKS, store password != key password): key entry "client" (EC), trusts srv-a, srv-b.
- stranger.p12 (PKCS12): key entry "stranger" (RSA), trusts srv-a only; not trusted by the server.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from pico_harness.java.tools import (
    ClientStore,
    JavaToolError,
    TlsServer,
    keytool,
    keytool_list,
    keytool_listing,
    start_servers,
    tls_handshake,
    tls_handshake_batch,
    tls_handshakes,
)

SERVER_PW = "server-store-pw"
SERVER_JKS_PW = "server-jks-pw"
CLIENT_STORE_PW = "client-store-pw"
CLIENT_KEY_PW = "client-key-pw"
STRANGER_PW = "stranger-pw"


@dataclass(frozen=True)
class Stores:
    server_p12: Path
    server_jks: Path
    client: ClientStore
    stranger: ClientStore
    fingerprints: dict[str, str]  # alias -> SHA-256 of its certificate, from keytool


def _gen(
    path: Path, store_type: str, store_pw: str, key_pw: str, alias: str, dname: str, *keyalg: str
) -> None:
    keytool(
        "-genkeypair",
        "-keystore",
        str(path),
        "-storetype",
        store_type,
        "-storepass",
        store_pw,
        "-keypass",
        key_pw,
        "-alias",
        alias,
        "-dname",
        dname,
        "-validity",
        "30",
        *keyalg,
        "-noprompt",
    )


def _export(path: Path, store_type: str, store_pw: str, alias: str, out: Path) -> None:
    keytool(
        "-exportcert",
        "-rfc",
        "-keystore",
        str(path),
        "-storetype",
        store_type,
        "-storepass",
        store_pw,
        "-alias",
        alias,
        "-file",
        str(out),
    )


def _import(path: Path, store_type: str, store_pw: str, alias: str, cert: Path) -> None:
    keytool(
        "-importcert",
        "-noprompt",
        "-keystore",
        str(path),
        "-storetype",
        store_type,
        "-storepass",
        store_pw,
        "-alias",
        alias,
        "-file",
        str(cert),
    )


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory, java_probe: Path) -> Stores:
    d = tmp_path_factory.mktemp("keytool-stores")
    server, server_jks = d / "server.p12", d / "server.jks"
    client, stranger = d / "client.jks", d / "stranger.p12"
    rsa = ("-keyalg", "RSA", "-keysize", "2048")
    ec = ("-keyalg", "EC", "-groupname", "secp256r1")
    pem = {name: d / f"{name}.pem" for name in ("srv-a", "srv-b", "client", "stranger")}

    def server_chain() -> None:
        _gen(server, "PKCS12", SERVER_PW, SERVER_PW, "srv-a", "CN=server-a,O=pico", *rsa)
        _gen(server, "PKCS12", SERVER_PW, SERVER_PW, "srv-b", "CN=server-b,O=pico", *ec)
        _export(server, "PKCS12", SERVER_PW, "srv-a", pem["srv-a"])
        _export(server, "PKCS12", SERVER_PW, "srv-b", pem["srv-b"])

    def client_chain() -> None:
        _gen(client, "JKS", CLIENT_STORE_PW, CLIENT_KEY_PW, "client", "CN=client,O=pico", *ec)
        _export(client, "JKS", CLIENT_STORE_PW, "client", pem["client"])

    def stranger_chain() -> None:
        _gen(stranger, "PKCS12", STRANGER_PW, STRANGER_PW, "stranger", "CN=stranger", *rsa)

    def run(*steps: Callable[[], None]) -> None:
        with ThreadPoolExecutor(len(steps)) as pool:
            for future in [pool.submit(s) for s in steps]:
                future.result()

    run(server_chain, client_chain, stranger_chain)

    def server_rest() -> None:
        _import(server, "PKCS12", SERVER_PW, "client", pem["client"])
        keytool(
            "-importkeystore",
            "-noprompt",
            "-srckeystore",
            str(server),
            "-srcstoretype",
            "PKCS12",
            "-srcstorepass",
            SERVER_PW,
            "-destkeystore",
            str(server_jks),
            "-deststoretype",
            "JKS",
            "-deststorepass",
            SERVER_JKS_PW,
        )

    def client_rest() -> None:
        _import(client, "JKS", CLIENT_STORE_PW, "srv-a", pem["srv-a"])
        _import(client, "JKS", CLIENT_STORE_PW, "srv-b", pem["srv-b"])

    def stranger_rest() -> None:
        _import(stranger, "PKCS12", STRANGER_PW, "srv-a", pem["srv-a"])

    run(server_rest, client_rest, stranger_rest)
    listed = {e.alias: e for e in keytool_list(server, SERVER_PW, "PKCS12")}
    return Stores(
        server_p12=server,
        server_jks=server_jks,
        client=ClientStore(client, "JKS", CLIENT_STORE_PW, CLIENT_KEY_PW, "client"),
        stranger=ClientStore(stranger, "PKCS12", STRANGER_PW, STRANGER_PW, "stranger"),
        fingerprints={alias: e.fingerprints[0] for alias, e in listed.items()},
    )


def _server(probe: Path, stores: Stores, fmt: str, alias: str, require: bool) -> TlsServer:
    if fmt == "PKCS12":
        return TlsServer(probe, stores.server_p12, "PKCS12", SERVER_PW, SERVER_PW, alias, require)
    # keytool -importkeystore keeps the source key password: store pw != key pw in the JKS copy
    return TlsServer(probe, stores.server_jks, "JKS", SERVER_JKS_PW, SERVER_PW, alias, require)


def test_keytool_list_sees_entry_types(stores: Stores) -> None:
    listing = keytool_listing(stores.server_p12, SERVER_PW, "PKCS12")
    assert listing.store_type == "PKCS12"
    types = {e.alias: e.entry_type for e in listing.entries}
    assert types == {
        "srv-a": "PrivateKeyEntry",
        "srv-b": "PrivateKeyEntry",
        "client": "trustedCertEntry",
    }
    by_alias = listing.by_alias()
    assert by_alias["srv-a"].owners == ("CN=server-a, O=pico",)
    assert len(by_alias["srv-a"].fingerprints[0].split(":")) == 32

    jks = keytool_listing(stores.server_jks, SERVER_JKS_PW, "JKS")
    assert jks.store_type == "JKS"
    assert {e.alias: e.fingerprints for e in jks.entries} == {
        e.alias: e.fingerprints for e in listing.entries
    }


@pytest.mark.parametrize("fmt", ["PKCS12", "JKS"])
def test_required_client_auth_accepts_trusted_and_rejects_stranger(
    java_probe: Path, stores: Stores, fmt: str
) -> None:
    with _server(java_probe, stores, fmt, "srv-a", require=True) as server:
        good, stranger = tls_handshakes(server, [stores.client, stores.stranger])

    assert good.ok, good.detail
    assert good.server_subject == "CN=server-a,O=pico"
    assert good.server_fingerprint == stores.fingerprints["srv-a"]
    assert good.server_event is not None and good.server_event.accepted
    assert good.server_event.client_subject == "CN=client,O=pico"

    # the stranger trusts the server; only the server's check of its certificate fails
    assert not stranger.ok, stranger.detail
    assert stranger.server_event is not None and not stranger.server_event.accepted
    assert "SSLHandshakeException" in stranger.server_event.detail


def test_single_client_mode_detects_rejection(java_probe: Path, stores: Stores) -> None:
    with _server(java_probe, stores, "PKCS12", "srv-a", require=True) as server:
        c, s = stores.client, stores.stranger
        good = tls_handshake(
            server, c.path, c.store_type, c.store_password, c.key_password, c.alias
        )
        bad = tls_handshake(server, s.path, s.store_type, s.store_password, s.key_password, s.alias)
    assert good.ok and good.server_fingerprint == stores.fingerprints["srv-a"], good.detail
    assert not bad.ok and bad.detail.startswith("FAIL ")
    assert bad.server_event is not None and not bad.server_event.accepted
    assert [e.accepted for e in server.events] == [True, False]


@pytest.mark.parametrize("fmt", ["PKCS12", "JKS"])
def test_configured_alias_is_presented(java_probe: Path, stores: Stores, fmt: str) -> None:
    with _server(java_probe, stores, fmt, "srv-b", require=False) as server:
        good, untrusting = tls_handshakes(server, [stores.client, stores.stranger])
    assert good.ok, good.detail
    assert good.server_subject == "CN=server-b,O=pico"
    assert good.server_fingerprint == stores.fingerprints["srv-b"]
    assert good.server_event is not None and good.server_event.detail == "NONE"
    # the stranger does not trust srv-b: the client side fails
    assert not untrusting.ok
    assert "PKIX" in untrusting.detail or "certification path" in untrusting.detail


def test_client_setup_errors_fail_without_connecting(java_probe: Path, stores: Stores) -> None:
    c = stores.client
    with _server(java_probe, stores, "PKCS12", "srv-a", require=True) as server:
        results = tls_handshakes(
            server,
            [
                ClientStore(c.path, c.store_type, c.store_password, c.store_password, c.alias),
                ClientStore(c.path, "PKCS12", c.store_password, c.key_password, c.alias),
                ClientStore(c.path, c.store_type, "wrong", c.key_password, c.alias),
            ],
        )
    wrong_key_pw, wrong_type, wrong_store_pw = results
    assert not wrong_key_pw.ok and "UnrecoverableKeyException" in wrong_key_pw.detail
    assert not wrong_type.ok
    assert not wrong_store_pw.ok
    assert not any(r.connected for r in results)
    assert server.events == []


def test_server_start_errors_are_reported(java_probe: Path, stores: Stores) -> None:
    with pytest.raises(JavaToolError, match="not a key entry"):
        TlsServer(java_probe, stores.server_p12, "PKCS12", SERVER_PW, SERVER_PW, "client").start()
    with pytest.raises(JavaToolError, match="UnrecoverableKeyException"):
        TlsServer(
            java_probe, stores.server_jks, "JKS", SERVER_JKS_PW, SERVER_JKS_PW, "srv-a"
        ).start()


@pytest.mark.parametrize("one_jvm", [True, False], ids=["one-jvm", "jvm-each"])
def test_start_servers_hosts_several_servers(
    java_probe: Path, stores: Stores, one_jvm: bool
) -> None:
    servers = [
        _server(java_probe, stores, "PKCS12", "srv-a", require=True),
        _server(java_probe, stores, "JKS", "srv-b", require=True),
    ]
    with start_servers(servers, one_jvm=one_jvm):
        a_good, b_good, a_bad = tls_handshake_batch(
            [
                (servers[0], stores.client),
                (servers[1], stores.client),
                (servers[0], stores.stranger),
            ]
        )
    assert a_good.ok and a_good.server_fingerprint == stores.fingerprints["srv-a"], a_good.detail
    assert b_good.ok and b_good.server_fingerprint == stores.fingerprints["srv-b"], b_good.detail
    assert not a_bad.ok
    assert [e.accepted for e in servers[0].events] == [True, False]
    assert [e.accepted for e in servers[1].events] == [True]


def test_start_servers_reports_a_bad_server(java_probe: Path, stores: Stores) -> None:
    servers = [
        _server(java_probe, stores, "PKCS12", "srv-a", require=True),
        _server(java_probe, stores, "PKCS12", "client", require=True),
    ]
    with (
        pytest.raises(JavaToolError, match="alias client.*not a key entry"),
        start_servers(servers),
    ):
        pass
