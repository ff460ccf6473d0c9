"""What the pods mount is what a JVM needs: planned Secrets and ConfigMaps, read like pico does.

For a few platform groups (trust mode x keystore mode x format x key), ``plan.build_plan`` gives
the Secrets and ConfigMaps exactly as the operator writes them. Each Secret's data is written to a
directory (as the kubelet mounts it); the ConfigMap's ``rcp-tls.properties`` and the Secret's
``rcp-tls-secret.properties`` are read by ``java.util.Properties`` (TlsProbe ``props`` mode); the
platform server and the container clients run with exactly those settings (keystore, store type
from the file name, both passwords, alias, require_clientauth). The desktop uses its key Secret
(``keystore.*``, ``keystore.password``, ``key.password``), as the Desktop Launcher import does.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pico_harness.java.tools import (
    ClientStore,
    HandshakeResult,
    PicoConfig,
    pico_configs,
    start_servers,
    tls_handshake_batch,
)
from pico_tls.material import Identity, StoredMaterial, resolve_identity
from pico_tls.parties import (
    Member,
    cert_request_container,
    cert_request_desktop,
    cert_request_platform,
    identity_key,
)
from pico_tls.pki import CertificateAuthority, KeyAlgorithm, create_ca, generate_key
from pico_tls.pki import sha256_fingerprint as fingerprint
from pico_tls.plan import build_plan
from pico_tls.spec import parse_container, parse_desktop, parse_platform

NOW = datetime.now(UTC)  # the clock of these tests

API = "picotls.dev/v1alpha1"
NS = "pico"
CONTAINERS = ("ec-1", "ec-2")
DESKTOP = "alice"
PROPERTIES_FILE = "rcp-tls.properties"
SECRET_PROPERTIES_FILE = "rcp-tls-secret.properties"
YEAR = timedelta(days=365)


@dataclass(frozen=True)
class Case:
    id: str
    tls: dict[str, Any]


CASES = [
    Case("ca-percontainer-pkcs12-rsa", {}),  # every default
    Case(
        "pinned-percontainer-jks-ecdsa",
        {"trust": {"mode": "Pinned"}, "format": {"type": "JKS"}, "key": {"algorithm": "ECDSA"}},
    ),
    Case(
        "ca-shared-modernaes-ecdsa384",
        {
            "keystoreMode": "Shared",
            "format": {"type": "PKCS12", "profile": "ModernAES"},
            "key": {"algorithm": "ECDSA", "size": 384},
            "alias": "mz.platform-1",
        },
    ),
    Case(
        "pinned-shared-jks-rsa",
        {"keystoreMode": "Shared", "trust": {"mode": "Pinned"}, "format": {"type": "JKS"}},
    ),
]


def _body(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": NS, "uid": f"uid-{kind}-{name}"}
    return {"apiVersion": API, "kind": kind, "metadata": meta, "spec": spec}


def _members(case: Case) -> tuple[Member, list[Member], list[Member]]:
    platform = _body("Platform", "mz", {"image": "pico:1", "tls": case.tls})
    containers = [
        _body("ExecutionContainer", c, {"platformRef": {"name": "mz"}, "image": "pico:1"})
        for c in CONTAINERS
    ]
    desktop = _body("DesktopClient", DESKTOP, {"platformRef": {"name": "mz"}, "user": "Alice"})
    return (
        Member(platform, parse_platform(platform)),
        [Member(c, parse_container(c)) for c in containers],
        [Member(desktop, parse_desktop(desktop))],
    )


def _identities(
    platform: Member, containers: list[Member], desktops: list[Member]
) -> tuple[CertificateAuthority | None, dict[str, Identity]]:
    p = platform.spec
    pinned = p.tls.trust_mode.value == "Pinned"
    shared = p.tls.keystore_mode.value == "Shared"
    ca = None if pinned else create_ca("mz CA", generate_key(KeyAlgorithm.EC_P256), duration=YEAR)
    ids = {
        identity_key("platform", p.name): resolve_identity(
            cert_request_platform(p), ca, StoredMaterial(), now=NOW
        )[0]
    }
    if not shared:
        for c in containers:
            request = cert_request_container(c.spec, p)
            ids[identity_key("container", c.spec.name)] = resolve_identity(
                request, ca, StoredMaterial(), now=NOW
            )[0]
    for d in desktops:  # desktops are always self-signed and pinned
        ids[identity_key("desktop", d.spec.name)] = resolve_identity(
            cert_request_desktop(d.spec), None, StoredMaterial(), now=NOW
        )[0]
    return ca, ids


def _mount(directory: Path, data: Mapping[str, str]) -> Path:
    directory.mkdir(parents=True)
    for key, value in data.items():
        (directory / key).write_bytes(base64.b64decode(value))
    return directory


@dataclass(frozen=True)
class Pending:
    """A group written to disk; ``instances`` (mount root, properties files) still to be read."""

    case: Case
    instances: list[tuple[Path, list[Path]]]
    desktop: ClientStore
    identities: dict[str, Identity]
    shared: bool


@dataclass(frozen=True)
class Built:
    case: Case
    platform_config: PicoConfig
    container_configs: dict[str, PicoConfig]
    desktop: ClientStore
    identities: dict[str, Identity]
    shared: bool


def _build(directory: Path, case: Case) -> Pending:
    platform, containers, desktops = _members(case)
    ca, ids = _identities(platform, containers, desktops)
    group = build_plan(
        platform, containers, desktops, ca=ca, identities=ids, require_client_auth=True
    )
    secrets = {s.name: s.encode() for s in group.stores}
    configmaps = {c["metadata"]["name"]: c for c in group.configmaps}
    instances: list[tuple[Path, list[Path]]] = []
    for name in ("mz", *CONTAINERS):
        secret = secrets[f"{name}-rcp-tls"]
        assert "stringData" not in secret
        root = _mount(directory / name / "secret", secret["data"])
        cm_dir = directory / name / "configmap"
        cm_dir.mkdir(parents=True)
        (cm_dir / PROPERTIES_FILE).write_text(
            configmaps[f"{name}-rcp-tls"]["data"][PROPERTIES_FILE], encoding="iso-8859-1"
        )
        instances.append((root, [cm_dir / PROPERTIES_FILE, root / SECRET_PROPERTIES_FILE]))
    desk = _mount(directory / DESKTOP, secrets[f"{DESKTOP}-desktop-key"]["data"])
    (store_file,) = [p for p in desk.iterdir() if p.suffix in (".jks", ".p12")]
    desktop = ClientStore(
        store_file,
        "JKS" if store_file.suffix == ".jks" else "PKCS12",
        (desk / "keystore.password").read_text(),
        (desk / "key.password").read_text(),
    )
    shared = platform.spec.tls.keystore_mode.value == "Shared"
    return Pending(case, instances, desktop, ids, shared)


@dataclass(frozen=True)
class Outcome:
    built: dict[str, Built]
    results: dict[tuple[str, str], HandshakeResult]  # (case id, client name)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory, java_probe: Path) -> Iterator[Outcome]:
    pending = [_build(tmp_path_factory.mktemp(case.id), case) for case in CASES]
    configs = pico_configs(java_probe, [inst for p in pending for inst in p.instances])
    built: dict[str, Built] = {}
    per_group = 1 + len(CONTAINERS)
    for n, b in enumerate(pending):
        mine = configs[n * per_group : (n + 1) * per_group]
        built[b.case.id] = Built(
            b.case,
            mine[0],
            dict(zip(CONTAINERS, mine[1:], strict=True)),
            b.desktop,
            b.identities,
            b.shared,
        )
    servers = {cid: done.platform_config.server(java_probe) for cid, done in built.items()}
    pairs = []
    for cid, done in built.items():
        pairs += [((cid, c), servers[cid], done.container_configs[c].client()) for c in CONTAINERS]
        pairs.append(((cid, DESKTOP), servers[cid], done.desktop))
    with start_servers(list(servers.values())):
        results = tls_handshake_batch([(server, client) for _, server, client in pairs])
    yield Outcome(built, {key: r for (key, _, _), r in zip(pairs, results, strict=True)})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_properties_name_the_mounted_store(outcome: Outcome, case: Case) -> None:
    b = outcome.built[case.id]
    assert b.platform_config.require_client_auth
    assert b.platform_config.alias == case.tls.get("alias", "platform")
    for name, config in b.container_configs.items():
        assert config.require_client_auth
        assert config.keystore.is_file()
        expected = b.platform_config.alias if b.shared else name
        assert config.alias == expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("client", [*CONTAINERS, DESKTOP])
def test_platform_accepts_what_the_members_mount(outcome: Outcome, case: Case, client: str) -> None:
    b = outcome.built[case.id]
    result = outcome.results[(case.id, client)]
    assert result.ok, result.detail
    platform = b.identities[identity_key("platform", "mz")]
    assert result.server_fingerprint == fingerprint(platform.certificate)
    assert result.server_event is not None and result.server_event.accepted
    if client == DESKTOP:
        who = b.identities[identity_key("desktop", DESKTOP)]
    elif b.shared:
        who = platform
    else:
        who = b.identities[identity_key("container", client)]
    assert result.server_event.client_subject == who.certificate.subject.rfc4514_string()
