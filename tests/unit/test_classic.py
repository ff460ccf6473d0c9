"""`pico-tls keystores`: what it writes, what a re-run keeps, and how it refuses bad input."""

from __future__ import annotations

import itertools
import json
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pico_harness.support.folders import snapshot
from pico_tls.classic.layout import read_store
from pico_tls.cli import main
from pico_tls.keystore import (
    KeyEntry,
    KeystoreContent,
    StoreFormat,
    StoreOptions,
    encode_keystore,
    file_name,
)
from pico_tls.pki import (
    CertificateAuthority,
    KeyAlgorithm,
    PrivateKey,
    cert_to_pem,
    create_ca,
    generate_key,
    key_algorithm_of,
    key_to_pem,
    self_signed_certificate,
)

YEAR = timedelta(days=365)


@pytest.fixture(scope="module")
def ca_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, CertificateAuthority]:
    ca = create_ca("Pico Test CA", generate_key(KeyAlgorithm.EC_P256), duration=YEAR * 5)
    folder = tmp_path_factory.mktemp("ca")
    (folder / "ca.crt").write_bytes(cert_to_pem(ca.certificate))
    (folder / "ca.key").write_bytes(key_to_pem(ca.key))
    return folder / "ca.crt", folder / "ca.key", ca


def run(out: Path, *extra: str, platform: str = "mz") -> int:
    return main(["keystores", "--out", str(out), "--platform", platform, *extra])


def load(folder: Path):  # -> FoundStore
    stores = [folder / file_name(f) for f in StoreFormat if (folder / file_name(f)).exists()]
    assert len(stores) == 1, stores
    return read_store(stores[0])


def public(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def properties(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    fmt: StoreFormat
    key: KeyAlgorithm
    mode: str
    trust: str  # "ca" | "pinned"

    @property
    def id(self) -> str:
        return f"{self.fmt.value}-{self.key.value}-{self.mode}-{self.trust}"


CASES = [
    Case(f, k, m, t)
    for f, k, m, t in itertools.product(
        StoreFormat, KeyAlgorithm, ("per-container", "shared"), ("pinned", "ca")
    )
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_writes_every_store_with_the_expected_entries(case: Case, tmp_path: Path, ca_files):
    ca_cert, ca_key, ca = ca_files
    out = tmp_path / "out"
    args = ["--container", "ec1", "--desktop", "alice", "--mode", case.mode]
    args += ["--format", case.fmt.value, "--key", case.key.value, "--require-client-auth"]
    args += ["--hostname", "mz=mz.example.com"]
    if case.trust == "ca":
        args += ["--ca-cert", str(ca_cert), "--ca-key", str(ca_key)]
    assert run(out, *args) == 0

    shared = case.mode == "shared"
    uses_ca = case.trust == "ca"
    platform, container, desktop = load(out / "mz"), load(out / "ec1"), load(out / "alice")
    for store in (platform, container, desktop):
        assert store.format is case.fmt
        assert store.content.key_entry is not None
        assert key_algorithm_of(store.content.key_entry.key) is case.key

    # The platform: its key, the CA or each container, and every desktop pinned.
    assert platform.content.key_entry is not None and desktop.content.key_entry is not None
    expected = {"desktop-alice"} | ({"pico-ca"} if uses_ca else set())
    if not uses_ca and not shared:
        expected.add("ec-ec1")
    assert {a for a, _ in platform.content.trusted} == expected
    assert platform.content.key_entry.alias == "mz"
    pinned = dict(platform.content.trusted)["desktop-alice"]
    assert pinned == desktop.content.key_entry.chain[0]
    desktop_cert = desktop.content.key_entry.chain[0]
    assert desktop_cert.issuer == desktop_cert.subject  # never issued by the CA: revocable

    platform_cert = platform.content.key_entry.chain[0]
    if uses_ca:
        assert issued_by(platform_cert, ca.certificate)
        assert platform.content.key_entry.chain[1] == ca.certificate
        assert (out / "ca.crt").read_bytes() == cert_to_pem(ca.certificate)
    else:
        assert platform_cert.issuer == platform_cert.subject
        assert not (out / "ca.crt").exists()
    san = platform_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mz.example.com"]

    # A container: the platform's store (shared), or its own key trusting the platform or CA.
    if shared:
        assert (out / "ec1" / file_name(case.fmt)).read_bytes() == (
            out / "mz" / file_name(case.fmt)
        ).read_bytes()
        assert container.passwords == platform.passwords
    else:
        assert container.content.key_entry is not None
        assert container.content.key_entry.alias == "ec1"
        trusted = dict(container.content.trusted)
        assert trusted == (
            {"pico-ca": ca.certificate} if uses_ca else {"pico-platform": platform_cert}
        )
    desktop_trust = dict(desktop.content.trusted)
    assert desktop_trust == (
        {"pico-ca": ca.certificate} if uses_ca else {"pico-platform": platform_cert}
    )

    # Properties: aliases of the key entries, the path for this format, both passwords.
    for name, store, alias in (
        ("mz", platform, "mz"),
        ("ec1", container, "mz" if shared else "ec1"),
    ):
        props = properties(out / name / "rcp-tls.properties")
        assert props["pico.rcp.tls.keystore"] == f"/opt/pico/tls/{file_name(case.fmt)}"
        assert props["pico.rcp.tls.keystore.alias"] == alias
        assert props["pico.rcp.tls.require_clientauth"] == "true"
        assert props["pico.rcp.tls.keystore.password"] == store.passwords.store
        assert props["pico.rcp.tls.key.password"] == store.passwords.key
        assert store.passwords.store != store.passwords.key
    assert properties(out / "ec1" / "rcp-tls.properties")["pico.rcp.platform.host"] == (
        "mz.example.com"
    )
    assert "pico.rcp.platform.host" not in properties(out / "mz" / "rcp-tls.properties")
    assert not (out / "alice" / "rcp-tls.properties").exists()


def test_platform_port_goes_to_the_containers_only(tmp_path: Path):
    out = tmp_path / "out"
    assert run(out, "--container", "ec1", "--platform-port", "6791") == 0
    assert properties(out / "ec1" / "rcp-tls.properties")["pico.rcp.platform.port"] == "6791"
    assert "pico.rcp.platform.port" not in properties(out / "mz" / "rcp-tls.properties")


def test_secret_files_are_private_and_certificates_public(tmp_path: Path):
    out = tmp_path / "out"
    assert run(out, "--container", "ec1", "--desktop", "alice") == 0
    for name in ("mz", "ec1", "alice"):
        folder = out / name
        for secret in ("keystore.p12", "keystore.password", "key.password"):
            assert stat.S_IMODE((folder / secret).stat().st_mode) == 0o600, (name, secret)
        assert stat.S_IMODE((folder / "tls.crt").stat().st_mode) == 0o644
    for name in ("mz", "ec1"):
        assert stat.S_IMODE((out / name / "rcp-tls.properties").stat().st_mode) == 0o600


def test_output_never_shows_a_password_or_key(tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert run(out, "--container", "ec1", "--desktop", "alice") == 0
    printed = capsys.readouterr()
    for name in ("mz", "ec1", "alice"):
        store = load(out / name)
        for secret in (store.passwords.store, store.passwords.key):
            assert secret not in printed.out + printed.err
    assert "PRIVATE KEY" not in printed.out + printed.err
    assert "keystore.password" not in json.dumps(json.loads((out / "pico-tls.json").read_text()))


# --------------------------------------------------------------------------- re-runs


@pytest.mark.parametrize("mode", ["per-container", "shared"])
@pytest.mark.parametrize("trust", ["pinned", "ca"])
def test_rerun_keeps_every_key_password_and_byte(tmp_path: Path, trust: str, mode: str, ca_files):
    ca_cert, ca_key, _ = ca_files
    out = tmp_path / "out"
    args = ["--container", "ec1", "--container", "ec2", "--desktop", "alice", "--mode", mode]
    if trust == "ca":
        args += ["--ca-cert", str(ca_cert), "--ca-key", str(ca_key)]
    assert run(out, *args) == 0
    before = snapshot(out)
    assert run(out, *args) == 0
    assert snapshot(out) == before


@pytest.mark.parametrize("trust", ["pinned", "ca"])
def test_adding_a_container_changes_only_the_trust_that_must_change(
    tmp_path: Path, trust: str, ca_files
):
    ca_cert, ca_key, _ = ca_files
    out = tmp_path / "out"
    ca_args = ["--ca-cert", str(ca_cert), "--ca-key", str(ca_key)] if trust == "ca" else []
    assert run(out, "--container", "ec1", "--desktop", "alice", *ca_args) == 0
    before = {n: load(out / n) for n in ("mz", "ec1", "alice")}
    files_before = snapshot(out)
    assert run(out, "--container", "ec1", "--container", "ec2", "--desktop", "alice", *ca_args) == 0
    after = {n: load(out / n) for n in ("mz", "ec1", "alice", "ec2")}
    files_after = snapshot(out)

    for name in ("ec1", "alice"):  # untouched, to the byte
        for f in ("keystore.p12", "keystore.password", "key.password", "tls.crt"):
            assert files_after[f"{name}/{f}"] == files_before[f"{name}/{f}"], (name, f)
    platform_before, platform_after = before["mz"].content, after["mz"].content
    assert platform_before.key_entry is not None and platform_after.key_entry is not None
    assert public(platform_after.key_entry.key) == public(platform_before.key_entry.key)
    assert platform_after.key_entry.chain == platform_before.key_entry.chain
    assert after["mz"].passwords == before["mz"].passwords
    added = {a for a, _ in platform_after.trusted} - {a for a, _ in platform_before.trusted}
    if trust == "ca":  # the CA already vouches for the new container: the platform is unchanged
        assert added == set()
        assert files_after["mz/keystore.p12"] == files_before["mz/keystore.p12"]
    else:
        assert added == {"ec-ec2"}
        assert dict(platform_after.trusted)["ec-ec2"] == after["ec2"].content.key_entry.chain[0]
        assert set(platform_before.trusted) <= set(platform_after.trusted)


def test_leaving_out_a_desktop_revokes_it_and_removes_its_folder(tmp_path: Path, ca_files):
    ca_cert, ca_key, _ = ca_files
    out = tmp_path / "out"
    ca_args = ["--ca-cert", str(ca_cert), "--ca-key", str(ca_key)]
    assert run(out, "--desktop", "alice", "--desktop", "bob", *ca_args) == 0
    assert run(out, "--desktop", "alice", *ca_args) == 0
    assert {a for a, _ in load(out / "mz").content.trusted} == {"pico-ca", "desktop-alice"}
    assert not (out / "bob").exists()


def test_another_key_algorithm_applies_to_new_keys_only(tmp_path: Path):
    out = tmp_path / "out"
    assert run(out, "--container", "ec1") == 0
    before = load(out / "mz").content.key_entry
    assert run(out, "--container", "ec1", "--container", "ec2", "--key", "ec-p256") == 0
    kept, new = load(out / "mz").content.key_entry, load(out / "ec2").content.key_entry
    assert before is not None and kept is not None and new is not None
    assert public(kept.key) == public(before.key)
    assert key_algorithm_of(new.key) is KeyAlgorithm.EC_P256


def test_force_makes_new_keys_and_passwords(tmp_path: Path):
    out = tmp_path / "out"
    assert run(out, "--container", "ec1") == 0
    before = load(out / "ec1")
    assert run(out, "--container", "ec1", "--force") == 0
    after = load(out / "ec1")
    assert before.content.key_entry is not None and after.content.key_entry is not None
    assert public(after.content.key_entry.key) != public(before.content.key_entry.key)
    assert after.passwords != before.passwords


def test_a_new_ca_reissues_certificates_with_the_same_keys(tmp_path: Path, ca_files):
    ca_cert, ca_key, ca = ca_files
    out = tmp_path / "out"
    assert run(out, "--container", "ec1") == 0
    before = load(out / "ec1")
    assert run(out, "--container", "ec1", "--ca-cert", str(ca_cert), "--ca-key", str(ca_key)) == 0
    after = load(out / "ec1")
    assert before.content.key_entry is not None and after.content.key_entry is not None
    assert public(after.content.key_entry.key) == public(before.content.key_entry.key)
    assert issued_by(after.content.key_entry.chain[0], ca.certificate)
    assert dict(after.content.trusted) == {"pico-ca": ca.certificate}


def test_switching_to_per_container_gives_containers_their_own_keys(tmp_path: Path):
    out = tmp_path / "out"
    assert run(out, "--container", "ec1", "--mode", "shared") == 0
    platform_key = load(out / "mz").content.key_entry
    assert run(out, "--container", "ec1") == 0
    own = load(out / "ec1").content.key_entry
    assert platform_key is not None and own is not None
    assert own.alias == "ec1" and public(own.key) != public(platform_key.key)
    kept = load(out / "mz").content.key_entry
    assert kept is not None and public(kept.key) == public(platform_key.key)


def test_adopts_a_keystore_the_user_brings(tmp_path: Path):
    """Their key, alias and own trusted entries are kept; the store is converted to --format."""
    out = tmp_path / "out"
    folder = out / "ec1"
    folder.mkdir(parents=True)
    key = generate_key(KeyAlgorithm.RSA_2048)
    cert = self_signed_certificate(key, common_name="legacy-ec1", duration=YEAR)
    corp_key = generate_key(KeyAlgorithm.EC_P256)
    corp = self_signed_certificate(corp_key, common_name="Corp Root", duration=YEAR)
    content = KeystoreContent(KeyEntry("mykey", key, (cert,)), (("corp-root", corp),))
    options = StoreOptions(StoreFormat.JKS, "store-secret", "key-secret")
    (folder / "keystore.jks").write_bytes(encode_keystore(content, options))
    (folder / "keystore.password").write_text("store-secret\n")
    (folder / "key.password").write_text("key-secret\n")
    (folder / "notes.txt").write_text("mine")

    assert run(out, "--container", "ec1") == 0
    adopted = load(folder)
    assert adopted.format is StoreFormat.PKCS12 and not (folder / "keystore.jks").exists()
    assert adopted.content.key_entry is not None
    assert adopted.content.key_entry.alias == "mykey"
    assert public(adopted.content.key_entry.key) == public(key)
    assert adopted.content.key_entry.chain[0] == cert  # self-signed: fits pinned trust
    assert {a for a, _ in adopted.content.trusted} == {"corp-root", "pico-platform"}
    assert adopted.passwords.store == "store-secret"
    assert properties(folder / "rcp-tls.properties")["pico.rcp.tls.keystore.alias"] == "mykey"
    assert (folder / "notes.txt").read_text() == "mine"
    assert dict(load(out / "mz").content.trusted)["ec-ec1"] == cert


def test_aliases_stay_unique_when_names_collide(tmp_path: Path):
    out = tmp_path / "out"
    assert run(out, "--container", "ec_1", "--container", "EC-1", "--desktop", "ec-1") == 0
    platform = load(out / "mz").content
    aliases = [a for a, _ in platform.trusted]
    assert len(aliases) == len(set(aliases)) == 3
    assert (
        run(
            out,
            "--container",
            "ec_1",
            "--container",
            "EC-1",
            "--container",
            "ec.1",
            "--desktop",
            "ec-1",
        )
        == 0
    )
    again = load(out / "mz").content
    assert set(aliases) <= {a for a, _ in again.trusted}  # existing aliases are stable


def test_unknown_files_in_dir_are_kept(tmp_path: Path):
    out = tmp_path / "out"
    assert run(out) == 0
    (out / "README.txt").write_text("ours")
    assert run(out, "--container", "ec1") == 0
    assert (out / "README.txt").read_text() == "ours"


# --------------------------------------------------------------------------- refusals


def _corrupt_password(out: Path) -> None:
    (out / "ec1" / "keystore.password").write_text("wrong\n")


def _corrupt_store(out: Path) -> None:
    (out / "ec1" / "keystore.p12").write_bytes(b"not a keystore")


def _remove_password(out: Path) -> None:
    (out / "ec1" / "keystore.password").unlink()


BAD_INPUTS = {
    "ca key does not match": (
        None,
        ["--ca-cert", "{ca}", "--ca-key", "{other_key}"],
        "does not match",
    ),
    "ca cert without key": (None, ["--ca-cert", "{ca}"], "--ca-key"),
    "wrong password": (_corrupt_password, [], "ec1"),
    "unreadable keystore": (_corrupt_store, [], "ec1"),
    "missing password file": (_remove_password, [], "keystore.password"),
    "duplicate names": (None, ["--desktop", "ec1"], "duplicate name 'ec1'"),
    "platform named as container": (None, ["--container", "mz"], "duplicate name 'mz'"),
    "unknown key": (None, ["--key", "rsa-1024"], "--key"),
    "unknown format": (None, ["--format", "pem"], "--format"),
    "unknown mode": (None, ["--mode", "both"], "--mode"),
    "hostname of unknown name": (None, ["--hostname", "nope=a.example"], "nope"),
    "bad hostname": (None, ["--hostname", "mz=not a host"], "DNS"),
    "bad platform port": (None, ["--platform-port", "70000"], "--platform-port 70000"),
    "zero days": (None, ["--days", "0"], "--days"),
    "bad name": (None, ["--desktop", "../escape"], "invalid desktop name"),
    "reserved name": (None, ["--desktop", "ca.crt"], "invalid desktop name"),
    "missing ca file": (
        None,
        ["--ca-cert", "/nonexistent.pem", "--ca-key", "{other_key}"],
        "nonexistent",
    ),
}


@pytest.mark.parametrize("problem", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_leaves_dir_unchanged(
    problem: str, tmp_path: Path, ca_files, capsys
):
    ca_cert, _, _ = ca_files
    other_key = tmp_path / "other.key"
    other_key.write_bytes(key_to_pem(generate_key(KeyAlgorithm.EC_P256)))
    out = tmp_path / "out"
    assert run(out, "--container", "ec1", "--desktop", "alice") == 0
    corrupt, extra, expected = BAD_INPUTS[problem]
    if corrupt is not None:
        corrupt(out)
    before = snapshot(out)
    capsys.readouterr()

    args = [a.format(ca=ca_cert, other_key=other_key) for a in extra]
    assert run(out, "--container", "ec1", "--desktop", "alice", *args) == 2

    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err and err.startswith("pico-tls keystores: error: ")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.key", "out"]  # no temp folders


def test_a_ca_dir_rerun_without_the_ca_is_refused(tmp_path: Path, ca_files, capsys):
    ca_cert, ca_key, _ = ca_files
    out = tmp_path / "out"
    assert run(out, "--container", "ec1", "--ca-cert", str(ca_cert), "--ca-key", str(ca_key)) == 0
    before = snapshot(out)
    assert run(out, "--container", "ec1") == 2
    assert "--ca-cert" in capsys.readouterr().err
    assert snapshot(out) == before
    assert run(out, "--container", "ec1", "--force") == 0
    assert not (out / "ca.crt").exists()


def test_a_file_in_place_of_dir_is_refused(tmp_path: Path, capsys):
    out = tmp_path / "out"
    out.write_text("x")
    assert run(out) == 2
    assert "not a folder" in capsys.readouterr().err
    assert out.read_text() == "x"


def _rerun_status(options: Any, at_days: float) -> str:
    """cert_status of the platform on a re-run `at_days` after the first run."""
    from pico_tls.classic.folder_plan import FolderContents, plan_folder
    from pico_tls.classic.identity import FoundStore
    from pico_tls.keystore import StoreOptions, decode_keystore

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = plan_folder(options, FolderContents(), now=t0)
    found = {}
    for out in first.parties:
        store_options = StoreOptions(out.format, out.passwords.store, out.passwords.key)
        content = decode_keystore(out.store, store_options)
        found[out.name] = FoundStore(content, out.passwords, out.format, out.store)
    again = plan_folder(
        options, FolderContents(found, first.manifest), now=t0 + timedelta(days=at_days)
    )
    return again.party("mz").cert_status


def test_renewal_follows_renew_before_like_the_operator() -> None:
    from pico_tls.classic.options import Options

    ec = KeyAlgorithm.EC_P256
    default = Options(platform="mz", key=ec)  # 365 days, renewBefore 720h
    assert _rerun_status(default, 365 - 31) == "kept"
    assert _rerun_status(default, 365 - 29) == "reissued: expires soon"
    longer = Options(platform="mz", key=ec, renew_before=timedelta(days=60))
    assert _rerun_status(longer, 365 - 61) == "kept"
    assert _rerun_status(longer, 365 - 59) == "reissued: expires soon"
    short = Options(platform="mz", key=ec, days=30)  # at most a third: 10 days
    assert _rerun_status(short, 19) == "kept"
    assert _rerun_status(short, 21) == "reissued: expires soon"


def test_renew_before_must_be_shorter_than_the_lifetime(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "keystores",
            "--out",
            str(tmp_path / "o"),
            "--platform",
            "mz",
            "--days",
            "10",
            "--renew-before",
            "240h",
        ]
    )
    assert code == 2
    assert "--renew-before" in capsys.readouterr().err


def test_a_certificate_capped_by_its_ca_is_not_reissued_on_every_run() -> None:
    """As in the operator: reissuing would not extend a certificate that ends with its CA."""
    from pico_tls.classic.options import Options

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    short_ca = create_ca("short CA", generate_key(KeyAlgorithm.EC_P256), duration=YEAR, now=t0)
    options = Options(platform="mz", key=KeyAlgorithm.EC_P256, ca=short_ca, days=730)
    assert _rerun_status(options, 360) == "kept"  # inside renewBefore of the CA-capped end
