"""The pico stand-in (harness/pico_harness/images/standin) on loopback, without Kubernetes.

Stores come from the project's own core (``pico_tls.material``, ``builders.stores``,
``encode_keystore``) and the properties files from ``builders.properties``, as the operator writes
them. Each test starts real stand-in JVMs: a Platform and Execution Containers that connect
several times a second, or a desktop that connects once; outcomes are read from ``/stats`` and
from the desktop's exit code and JSON line.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from pico_harness.images.standin_local import Standin, compile_standin
from pico_harness.support.identities import new_identity
from pico_tls.builders import properties as props
from pico_tls.builders import stores as store_builders
from pico_tls.keystore import KeystoreContent, StoreFormat, StoreOptions, encode_keystore
from pico_tls.material import Identity
from pico_tls.pki import CertificateAuthority, KeyAlgorithm, create_ca, generate_key

YEAR = timedelta(days=365)
LOOPBACK = ("-e", "standin.bind=127.0.0.1", "-e", "standin.http.port=0")


@dataclass(frozen=True)
class Store:
    path: Path
    identity: Identity
    alias: str

    @property
    def subject(self) -> str:
        return self.identity.certificate.subject.rfc4514_string()


@dataclass(frozen=True)
class Pki:
    directory: Path
    platform: Store
    ec: Store
    stranger: Store  # signed by another CA of the same name: not trusted by the platform
    desktop_dir: Path  # pinned in the platform's store
    revoked_desktop_dir: Path  # not pinned
    lost_desktop_dir: Path  # pinned, but trusts another platform


def _identity(name: str, issuer: CertificateAuthority | None, n: int) -> Identity:
    return new_identity(name, issuer, f"store:{name}-{n}", f"key:{name}-{n}")


def _write(path: Path, content: KeystoreContent, identity: Identity, fmt: StoreFormat) -> Path:
    options = StoreOptions(fmt, identity.passwords.store, identity.passwords.key)
    path.write_bytes(encode_keystore(content, options))
    return path


def _desktop_dir(directory: Path, content: KeystoreContent, identity: Identity) -> Path:
    """The files of a ``<name>-desktop-key`` Secret, as mounted."""
    directory.mkdir()
    _write(directory / "keystore.p12", content, identity, StoreFormat.PKCS12)
    (directory / "keystore.password").write_text(identity.passwords.store)
    (directory / "key.password").write_text(identity.passwords.key)
    return directory


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory, require_java_tools: None) -> Path:
    return compile_standin(tmp_path_factory.mktemp("standin-classes"))


@pytest.fixture(scope="module")
def require_java_tools() -> None:
    from pico_harness.java.fixtures import require_java

    require_java()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("standin-pki")
    ca = create_ca("pico-ca", generate_key(KeyAlgorithm.EC_P256), duration=YEAR)
    impostor = create_ca("pico-ca", generate_key(KeyAlgorithm.EC_P256), duration=YEAR)
    platform = _identity("platform", ca, 1)
    ec = _identity("ec-1", ca, 2)
    stranger = _identity("ec-1", impostor, 3)
    desktop = _identity("alice", None, 4)
    revoked = _identity("mallory", None, 5)
    other_platform = _identity("platform", impostor, 6)
    platform_content = store_builders.platform_store(
        "platform", platform, ca, [], [("alice", desktop.certificate)]
    )
    return Pki(
        d,
        Store(
            _write(d / "keystore.p12", platform_content, platform, StoreFormat.PKCS12),
            platform,
            "platform",
        ),
        Store(
            _write(
                d / "ec.jks",
                store_builders.peer_store("ec-1", ec, ca, platform),
                ec,
                StoreFormat.JKS,
            ),
            ec,
            "ec-1",
        ),
        Store(
            _write(
                d / "stranger.p12",
                store_builders.peer_store("ec-1", stranger, ca, platform),
                stranger,
                StoreFormat.PKCS12,
            ),
            stranger,
            "ec-1",
        ),
        _desktop_dir(
            d / "alice", store_builders.peer_store("desktop", desktop, ca, platform), desktop
        ),
        _desktop_dir(
            d / "mallory", store_builders.peer_store("desktop", revoked, ca, platform), revoked
        ),
        _desktop_dir(
            d / "lost",
            store_builders.peer_store("desktop", desktop, impostor, other_platform),
            desktop,
        ),
    )


def _properties_files(directory: Path, store: Store, require: bool, **extra: str) -> str:
    """The operator's PropertiesFile output: public file + password file; PICO_PROPERTIES_FILES."""
    directory.mkdir(exist_ok=True)
    public = directory / "rcp-tls.properties"
    secret = directory / "rcp-tls-secret.properties"
    public.write_text(
        props.render(
            props.rcp_properties(
                keystore_path=str(store.path),
                alias=store.alias,
                require_client_auth=require,
                extra={"standin.bind": "127.0.0.1", "standin.http.port": "0", **extra},
            ),
            props.PUBLIC_HEADER,
        )
    )
    passwords = store.identity.passwords
    secret.write_text(
        props.render(props.password_properties(passwords.store, passwords.key), "secret")
    )
    return f"{public}:{secret}"


def _platform(classes: Path, pki: Pki, require: bool, name: str) -> Standin:
    files = _properties_files(
        pki.directory / name, pki.platform, require, **{"pico.rcp.platform.port": "0"}
    )
    return Standin(classes, ["platform"], {"PICO_PROPERTIES_FILES": files})


def _ec(classes: Path, pki: Pki, store: Store, platform: Standin, name: str) -> Standin:
    """An EC from properties files, with its passwords in the environment (no password file)."""
    files = _properties_files(
        pki.directory / name,
        store,
        False,
        **{"pico.rcp.platform.host": "127.0.0.1", "pico.rcp.platform.port": str(platform.rcp_port)},
    )
    public_only = files.split(":")[0]
    env = {
        "PICO_PROPERTIES_FILES": public_only,  # no role given: ec, as the platform host is set
        "PICO_RCP_TLS_KEYSTORE_PASSWORD": store.identity.passwords.store,
        "PICO_RCP_TLS_KEY_PASSWORD": store.identity.passwords.key,
    }
    return Standin(classes, ["-e", "standin.interval.ms=100"], env)


@pytest.fixture
def required_platform(classes: Path, pki: Pki) -> Iterator[Standin]:
    with _platform(classes, pki, True, "platform-required") as platform:
        yield platform.wait_ready()


def test_mutual_tls_between_platform_and_ec(
    classes: Path, pki: Pki, required_platform: Standin
) -> None:
    with _ec(classes, pki, pki.ec, required_platform, "ec-ok") as ec:
        stats = ec.wait_ready().wait_stats("ok", 5)
    assert set(stats["outcomes"]) == {"ok"}, stats
    assert stats["peers"] == {pki.platform.subject: {"ok": stats["outcomes"]["ok"]["count"]}}
    assert stats["changes"][0]["to"] == "ok"
    served = required_platform.stats()
    assert served["peers"][pki.ec.subject]["ok"] >= 5, served
    assert "require_clientauth=true" in required_platform.output
    assert "type=PKCS12" in required_platform.output and "type=JKS" in ec.output


def test_untrusted_ec_is_refused_when_client_auth_is_required(
    classes: Path, pki: Pki, required_platform: Standin
) -> None:
    with _ec(classes, pki, pki.stranger, required_platform, "ec-stranger") as ec:
        stats = ec.wait_ready().wait_stats("tls_rejected_by_peer", 3)
    assert "ok" not in stats["outcomes"], stats
    assert stats["state"] == "tls_rejected_by_peer"
    served = required_platform.stats()
    assert served["outcomes"]["tls_rejected_peer"]["count"] >= 3, served
    assert set(served["peers"][pki.stranger.subject]) == {"tls_rejected_peer"}, served
    assert "STATE ec start -> tls_rejected_by_peer" in ec.output


def test_client_certificates_are_not_requested_when_not_required(classes: Path, pki: Pki) -> None:
    with _platform(classes, pki, False, "platform-relaxed") as platform:
        platform.wait_ready()
        with _ec(classes, pki, pki.stranger, platform, "ec-stranger-relaxed") as ec:
            stats = ec.wait_ready().wait_stats("ok", 3)
        assert set(stats["outcomes"]) == {"ok"}, stats
        assert set(platform.stats()["peers"]) == {"NONE"}  # no certificate was asked for


def test_ec_counts_refused_connections_and_recovers(classes: Path, pki: Pki) -> None:
    platform = _platform(classes, pki, True, "platform-late")
    platform.rcp_port = _free_port()
    with _ec(classes, pki, pki.ec, platform, "ec-early") as ec:
        ec.wait_ready().wait_stats("refused", 2)
        platform.command += ["-e", f"pico.rcp.platform.port={platform.rcp_port}"]
        with platform:
            platform.wait_ready()
            stats = ec.wait_stats("ok", 2)
    assert [c["to"] for c in stats["changes"]] == ["refused", "ok"], stats
    refused = stats["outcomes"]["refused"]
    assert refused["first"] <= refused["last"] < stats["outcomes"]["ok"]["first"]


def test_wrong_alias_fails_loudly(classes: Path, pki: Pki) -> None:
    platform = _platform(classes, pki, True, "platform-bad-alias")
    platform.command += ["-e", "pico.rcp.tls.keystore.alias=nope"]
    with platform:
        code = platform.wait_exit()
    assert code == 3, platform.output
    assert "FATAL" in platform.output and "no key entry 'nope'" in platform.output
    assert "[platform]" in platform.output  # the key entries it does have
    _assert_no_password(platform.output, pki.platform)


def test_wrong_password_fails_without_printing_it(classes: Path, pki: Pki) -> None:
    args = [
        "platform",
        *LOOPBACK,
        "-e",
        f"pico.rcp.tls.keystore={pki.platform.path}",
        "-e",
        "pico.rcp.tls.keystore.alias=platform",
        "-e",
        "pico.rcp.platform.port=0",
    ]
    env = {"PICO_RCP_TLS_KEYSTORE_PASSWORD": "not-the-password"}
    with Standin(classes, args, env) as platform:
        assert platform.wait_exit() == 3, platform.output
    assert "cannot open keystore" in platform.output
    assert "not-the-password" not in platform.output


def test_entrypoint_env_form_and_startup_args_form(classes: Path, pki: Pki) -> None:
    """Platform through the public-entrypoint imitation (TLS_* env, base64 passwords, the alias
    and the flag as extra -e arguments); EC with every setting as -e (passwords base64)."""
    passwords = pki.platform.identity.passwords
    env = {
        "PICO_ROLE": "platform",
        "TLS_ENABLED": "true",
        "TLS_KEYSTORE": str(pki.platform.path),
        "TLS_KEYSTORE_PASSWORD": passwords.store,
        "TLS_KEY_PASSWORD": passwords.key,
        "TLS_KEY_ALIAS": "platform",
    }
    args = [
        *LOOPBACK,
        "-e",
        "pico.rcp.tls.keystore.alias=platform",
        "-e",
        "pico.rcp.tls.require_clientauth=true",
        "-e",
        "pico.rcp.platform.port=0",
    ]
    with Standin(classes, args, env, entrypoint=True) as platform:
        platform.wait_ready()
        assert "opened with the store password base64-decoded" in platform.output
        ec_passwords = pki.ec.identity.passwords
        ec_args = [
            "ec",
            *LOOPBACK,
            "-e",
            f"pico.rcp.tls.keystore={pki.ec.path}",
            "-e",
            "pico.rcp.tls.keystore.alias=ec-1",
            "-e",
            f"pico.rcp.tls.keystore.password={_b64(ec_passwords.store)}",
            "-e",
            f"pico.rcp.tls.key.password={_b64(ec_passwords.key)}",
            "-e",
            "pico.rcp.platform.host=127.0.0.1",
            "-e",
            f"pico.rcp.platform.port={platform.rcp_port}",
        ]
        with Standin(classes, ec_args, {}, entrypoint=True) as ec:
            stats = ec.wait_ready().wait_stats("ok", 3)
        assert set(stats["outcomes"]) == {"ok"}, stats
        assert platform.stats()["peers"][pki.ec.subject]["ok"] >= 3
    _assert_no_password(platform.output + ec.output, pki.platform)


def test_entrypoint_without_alias_argument_uses_the_only_key_entry(classes: Path, pki: Pki) -> None:
    passwords = pki.platform.identity.passwords
    env = {  # no PICO_ROLE: platform, as no platform host is set
        "TLS_ENABLED": "true",
        "TLS_KEYSTORE": str(pki.platform.path),
        "TLS_KEYSTORE_PASSWORD": passwords.store,
        "TLS_KEY_PASSWORD": passwords.key,
        "TLS_KEY_ALIAS": "not-used-for-rcp",
    }
    with Standin(
        classes, [*LOOPBACK, "-e", "pico.rcp.platform.port=0"], env, entrypoint=True
    ) as platform:
        platform.wait_ready()
    assert "not set: using the only key entry 'platform'" in platform.output
    assert "role platform (no role given" in platform.output


@pytest.mark.parametrize(
    ("desktop", "code", "outcome"),
    [
        ("desktop_dir", 0, "ok"),
        ("revoked_desktop_dir", 10, "tls_rejected_by_peer"),
        ("lost_desktop_dir", 11, "tls_rejected_peer"),
    ],
)
def test_desktop_reports_its_handshake(
    classes: Path, pki: Pki, required_platform: Standin, desktop: str, code: int, outcome: str
) -> None:
    result, exit_code = _desktop(
        classes, getattr(pki, desktop), "127.0.0.1", required_platform.rcp_port
    )
    assert (exit_code, result["outcome"]) == (code, outcome), result


def test_desktop_connection_refused_and_dns_failure(
    classes: Path, pki: Pki, tmp_path: Path
) -> None:
    result, code = _desktop(classes, pki.desktop_dir, "127.0.0.1", _free_port())
    assert (code, result["outcome"]) == (20, "refused"), result
    hosts = tmp_path / "hosts"  # the JVM resolves from this file only: no DNS query leaves
    hosts.write_text("127.0.0.1 localhost\n")
    result, code = _desktop(
        classes,
        pki.desktop_dir,
        "platform.pico.invalid",
        6790,
        jvm_options=[f"-Djdk.net.hosts.file={hosts}"],
    )
    assert (code, result["outcome"]) == (23, "dns"), result


def _desktop(
    classes: Path,
    directory: Path,
    host: str,
    port: int | None,
    jvm_options: list[str] | None = None,
) -> tuple[dict[str, object], int]:
    args = [
        "desktop",
        "-e",
        f"pico.rcp.platform.host={host}",
        "-e",
        f"pico.rcp.platform.port={port}",
    ]
    env = {"PICO_DESKTOP_KEY_DIR": str(directory)}
    with Standin(classes, args, env, jvm_options=jvm_options or []) as desktop:
        code = desktop.wait_exit()
    lines = [line for line in desktop.lines if line.startswith("{")]
    assert len(lines) == 1, desktop.output
    result: dict[str, object] = json.loads(lines[0])
    assert result["exit"] == code
    return result, code


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _assert_no_password(output: str, store: Store) -> None:
    passwords = store.identity.passwords
    for secret in (passwords.store, passwords.key, _b64(passwords.store), _b64(passwords.key)):
        assert secret not in output


def _hocon(entries: dict[str, str]) -> str:
    """A System Topology Registry fragment as the TopologyFiles form writes it."""
    lines = [f"  {json.dumps(k)} = {v}" for k, v in sorted(entries.items())]
    return "# fragment\ncommon {\n" + "".join(line + "\n" for line in lines) + "}\n"


def _topology(root: Path, cell: dict[str, str], container: dict[str, str]) -> dict[str, str]:
    """/etc/config/{common,container,pico} as mounted, and the env of the entrypoint."""
    for folder, text in (
        ("common", _hocon(cell)),
        ("container", _hocon(container)),
        ("pico", "# the pico's own file\n"),
    ):
        (root / "config" / folder).mkdir(parents=True)
        name = {"common": "cell.conf", "container": "container.conf", "pico": "x.conf"}[folder]
        (root / "config" / folder / name).write_text(text)
    return {
        "STANDIN_CONFIG_DIR": str(root / "config"),
        "MZ_HOME": str(root / "mz"),
        "HOSTNAME": root.name,
    }


def _topology_store(store: Store, env_prefix: str = "PICO_RCP_TLS", **extra: str) -> dict[str, str]:
    return {
        "pico.rcp.tls.keystore": json.dumps(str(store.path)),
        "pico.rcp.tls.keystore.alias": json.dumps(store.alias),
        "pico.rcp.tls.keystore.password": "${?" + env_prefix + "_KEYSTORE_PASSWORD}",
        "pico.rcp.tls.key.password": "${?" + env_prefix + "_KEY_PASSWORD}",
        "standin.bind": '"127.0.0.1"',
        "standin.http.port": '"0"',
        **{k: json.dumps(v) for k, v in extra.items()},
    }


def test_topology_files_form(classes: Path, pki: Pki, tmp_path: Path) -> None:
    """cell.conf / container.conf (HOCON, passwords as ${?VAR}) copied by the entrypoint into
    the active registry, as the public EC entrypoint does, and read by the stand-in."""
    platform_env = _topology(
        tmp_path / "platform-0",
        {"pico.rcp.tls.require_clientauth": '"true"'},
        _topology_store(pki.platform, "TOPO", **{"pico.rcp.platform.port": "0"}),
    )
    passwords = pki.platform.identity.passwords
    platform_env |= {  # only the substitution can bring these (no PICO_RCP_TLS_* fallback)
        "MZ_CONTAINER": "platform",
        "TOPO_KEYSTORE_PASSWORD": passwords.store,
        "TOPO_KEY_PASSWORD": passwords.key,
    }
    with Standin(classes, [], platform_env, entrypoint=True) as platform:
        platform.wait_ready()
        assert "require_clientauth=true" in platform.output, platform.output
        assert (tmp_path / "platform-0/mz/common/config/cell/.active/cell.conf").is_file()
        ec_env = _topology(
            tmp_path / "ec-1-abc",
            {
                "pico.rcp.tls.require_clientauth": '"true"',
                "pico.rcp.platform.host": '"127.0.0.1"',
                "pico.rcp.platform.port": json.dumps(str(platform.rcp_port)),
            },
            _topology_store(pki.ec),
        )
        ec_env |= {
            "MZ_CONTAINER": "ec-1",
            "PICO_RCP_TLS_KEYSTORE_PASSWORD": _b64(pki.ec.identity.passwords.store),
            "PICO_RCP_TLS_KEY_PASSWORD": _b64(pki.ec.identity.passwords.key),
        }
        with Standin(classes, [], ec_env, entrypoint=True) as ec:
            stats = ec.wait_ready().wait_stats("ok", 3)
        assert set(stats["outcomes"]) == {"ok"}, stats
        assert "read topology" in ec.output and "role ec" in ec.output
    _assert_no_password(platform.output + ec.output, pki.platform)


def test_topology_entrypoint_wants_exactly_one_pico_file(
    classes: Path, pki: Pki, tmp_path: Path
) -> None:
    env = _topology(tmp_path / "p", {}, _topology_store(pki.platform))
    (tmp_path / "p" / "config" / "pico" / "second.conf").write_text("# another\n")
    with Standin(classes, [], {**env, "MZ_CONTAINER": "platform"}, entrypoint=True) as platform:
        code = platform.wait_exit()
    assert code != 0 and "must hold exactly one file (2 found)" in platform.output


def test_tcp_probe_is_counted_but_changes_no_state(
    classes: Path, pki: Pki, required_platform: Standin
) -> None:
    import socket
    import time

    with _ec(classes, pki, pki.ec, required_platform, "ec-probed") as ec:
        ec.wait_ready().wait_stats("ok", 2)
        for _ in range(3):  # what a kubelet's tcpSocket readiness probe does
            socket.create_connection(("127.0.0.1", required_platform.rcp_port), timeout=5).close()
        deadline = time.monotonic() + 20
        served = required_platform.stats()
        while served["outcomes"].get("no_hello", {}).get("count", 0) < 3:
            assert time.monotonic() < deadline, served
            time.sleep(0.1)
            served = required_platform.stats()
    assert served["state"] == "ok", served
    assert "no_hello" not in [c["to"] for c in served["changes"]], served


def test_desktop_trusts_the_platform_crt_of_its_secret(
    classes: Path, pki: Pki, required_platform: Standin, tmp_path: Path
) -> None:
    """A desktop whose keystore does not trust the Platform connects once platform.crt (a key of
    the ``<name>-desktop-key`` Secret) is beside it."""
    from pico_tls.pki.certs import cert_to_pem

    desktop = tmp_path / "desktop-with-crt"
    shutil.copytree(pki.lost_desktop_dir, desktop)
    (desktop / "platform.crt").write_bytes(cert_to_pem(pki.platform.identity.certificate))
    result, code = _desktop(classes, desktop, "127.0.0.1", required_platform.rcp_port)
    assert (code, result["outcome"]) == (0, "ok"), result
