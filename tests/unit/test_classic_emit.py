"""`pico-tls keystores --emit`: every delivery form per platform and container, the same
settings in each, passwords in the chosen encoding, what a re-run keeps and what it refuses."""

from __future__ import annotations

import json
import shlex
import stat
from pathlib import Path

import pytest

from pico_harness.support import delivery as dt
from pico_harness.support.folders import snapshot
from pico_tls import javaprops
from pico_tls.cli import main

ALL = "properties,env,startup-args,topology"
FORM_FILES = {"rcp-tls.properties", "tls.env", "startup-args", "cell.conf", "container.conf"}
BASE = ["--container", "ec1", "--desktop", "alice", "--hostname", "mz=mz.example.com"]
BASE += ["--platform-port", "6790", "--require-client-auth"]


def run(out: Path, *extra: str) -> int:
    return main(["keystores", "--out", str(out), "--platform", "mz", *BASE, *extra])


def password(folder: Path, name: str) -> str:
    return (folder / name).read_text().rstrip("\n")


def expected(out: Path, name: str, *, b64: bool, web_ui: bool) -> dict[str, str]:
    """The settings of NAME from the files beside its keystore (not from the forms)."""
    folder = out / name
    store, key = password(folder, "keystore.password"), password(folder, "key.password")
    if b64:
        store, key = dt.b64(store), dt.b64(key)
    want = {
        "pico.rcp.tls.keystore": "/opt/pico/tls/keystore.p12",
        "pico.rcp.tls.keystore.alias": name,
        "pico.rcp.tls.require_clientauth": "true",
        "pico.rcp.tls.keystore.password": store,
        "pico.rcp.tls.key.password": key,
    }
    if name != "mz":
        want |= {"pico.rcp.platform.host": "mz.example.com", "pico.rcp.platform.port": "6790"}
    if web_ui:
        want |= {
            "mz.httpd.security": "true",
            "mz.httpd.security.keystore": "/opt/pico/tls/keystore.p12",
            "mz.httpd.security.key.alias": name,
            "mz.httpd.security.keystore.password": store,
            "mz.httpd.security.key.password": key,
        }
    return want


def read_env_form(text: str) -> dict[str, str]:
    """`. tls.env`, then the public entrypoint with "$PICO_TLS_EXTRA_ARGS" split as documented."""
    env = {}
    for line in text.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        (env[name],) = shlex.split(value)
    args = shlex.split(env.pop("PICO_TLS_EXTRA_ARGS"))
    return dt.read_entrypoint({"args": args}, env)


def every_form(folder: Path) -> dict[str, dict[str, str]]:
    files = {name: (folder / name).read_text(encoding="utf-8") for name in FORM_FILES}
    return {
        "properties": javaprops.load(files["rcp-tls.properties"]),
        "startup-args": dt.argv_pairs(files["startup-args"].splitlines()),
        "topology": dt.read_topology([files["cell.conf"], files["container.conf"]], {}),
        "env": read_env_form(files["tls.env"]),
    }


def test_default_is_todays_properties_file_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(out) == 0
    for name in ("mz", "ec1"):
        assert FORM_FILES & {p.name for p in (out / name).iterdir()} == {"rcp-tls.properties"}
        props = javaprops.load((out / name / "rcp-tls.properties").read_text())
        assert props == expected(out, name, b64=False, web_ui=False)
    assert not FORM_FILES & {p.name for p in (out / "alice").iterdir()}
    manifest = json.loads((out / "pico-tls.json").read_text())
    assert manifest["parties"]["ec1"]["files"] == ["rcp-tls.properties"]
    assert manifest["parties"]["alice"]["files"] == []
    assert manifest["passwordEncoding"] == "plain"


@pytest.mark.parametrize("mode", ["per-container", "shared"])
@pytest.mark.parametrize("web_ui", [False, True])
def test_every_form_carries_the_same_settings(tmp_path: Path, mode: str, web_ui: bool) -> None:
    out = tmp_path / "out"
    extra = ["--emit", ALL, "--password-encoding", "base64", "--mode", mode]
    assert run(out, *extra, *(["--web-ui-tls"] if web_ui else [])) == 0
    for name in ("mz", "ec1"):
        want = expected(out, name, b64=True, web_ui=web_ui)
        if mode == "shared" and name == "ec1":
            want["pico.rcp.tls.keystore.alias"] = "mz"  # the platform's store
            if web_ui:
                want["mz.httpd.security.key.alias"] = "mz"
        forms = every_form(out / name)
        for form in ("properties", "startup-args", "topology"):
            assert forms[form] == want, form
        # the public entrypoint sets mz.httpd.security.* itself, whatever --web-ui-tls says
        rcp = {k: v for k, v in want.items() if not k.startswith("mz.")}
        assert {k: v for k, v in forms["env"].items() if not k.startswith("mz.")} == rcp


@pytest.mark.parametrize("encoding", ["plain", "base64"])
def test_password_encoding_applies_to_every_form(tmp_path: Path, encoding: str) -> None:
    out = tmp_path / "out"
    forms = "properties,startup-args,topology"
    assert run(out, "--emit", forms, "--password-encoding", encoding) == 0
    want = expected(out, "ec1", b64=encoding == "base64", web_ui=False)
    got = every_form_but_env(out / "ec1")
    assert got == {f: want for f in ("properties", "startup-args", "topology")}


def every_form_but_env(folder: Path) -> dict[str, dict[str, str]]:
    (folder / "tls.env").write_text("export PICO_TLS_EXTRA_ARGS=''\n")  # not emitted here
    forms = every_form(folder)
    del forms["env"]
    return forms


def test_files_with_passwords_are_private_and_the_manifest_names_them_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(out, "--emit", ALL, "--password-encoding", "base64", "--web-ui-tls") == 0
    printed = capsys.readouterr()
    manifest_text = (out / "pico-tls.json").read_text()
    for name in ("mz", "ec1"):
        folder = out / name
        for file in FORM_FILES:
            mode = stat.S_IMODE((folder / file).stat().st_mode)
            assert mode == (0o644 if file == "cell.conf" else 0o600), (name, file)
        assert "password" not in (folder / "cell.conf").read_text()
        for secret_file in ("keystore.password", "key.password"):
            secret = password(folder, secret_file)
            for shown in (secret, dt.b64(secret)):
                assert shown not in manifest_text + printed.out + printed.err
    manifest = json.loads(manifest_text)
    assert manifest["parties"]["mz"]["files"] == sorted(FORM_FILES)
    assert manifest["passwordEncoding"] == "base64"
    assert "properties,env,startup-args,topology with base64 passwords" in printed.out


def test_rerun_keeps_every_byte_and_dropping_a_form_removes_only_its_files(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    args = ["--emit", ALL, "--password-encoding", "base64"]
    assert run(out, *args) == 0
    (out / "ec1" / "notes.txt").write_text("mine")
    before = snapshot(out)
    assert run(out, *args) == 0
    assert snapshot(out) == before

    assert run(out, "--emit", "startup-args", "--password-encoding", "base64") == 0
    after = snapshot(out)
    for name in ("mz", "ec1"):
        assert FORM_FILES & {p.name for p in (out / name).iterdir()} == {"startup-args"}
        for kept in ("keystore.p12", "keystore.password", "key.password", "startup-args"):
            assert after[f"{name}/{kept}"] == before[f"{name}/{kept}"], (name, kept)
    assert (out / "ec1" / "notes.txt").read_text() == "mine"


def test_a_file_of_the_users_where_a_form_goes_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(out) == 0
    (out / "ec1" / "cell.conf").write_text("common { mine = 1 }\n")
    before = snapshot(out)
    capsys.readouterr()
    assert run(out, "--emit", "topology") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{out / 'ec1' / 'cell.conf'} is not one pico-tls keystores wrote" in err
    assert snapshot(out) == before
    assert run(out) == 0  # not emitting topology: the user's file is carried over
    assert (out / "ec1" / "cell.conf").read_text() == "common { mine = 1 }\n"


def write_encrypted(out: Path, name: str, tag: str = "") -> tuple[str, str]:
    """Stand-ins for `mzsh encryptpassword` output (its scheme is the vendor's)."""
    store, key = f"DES:{tag}{name}:store+/=", f"DES:{tag}{name}:key+/="
    (out / name / "keystore.password.encrypted").write_text(store + "\n")
    (out / name / "key.password.encrypted").write_text(key + "\n")
    return store, key


def test_pre_encrypted_passwords_are_the_users_encryptpassword_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(out, "--web-ui-tls") == 0
    keys_before = {n: (out / n / "keystore.p12").read_bytes() for n in ("mz", "ec1")}
    encrypted = {n: write_encrypted(out, n) for n in ("mz", "ec1")}
    forms = "properties,startup-args,topology"
    assert run(out, "--emit", forms, "--password-encoding", "pre-encrypted", "--web-ui-tls") == 0
    for name, (store, key) in encrypted.items():
        want = expected(out, name, b64=False, web_ui=True)
        for prop in want:
            if prop.endswith("keystore.password"):
                want[prop] = store
            elif prop.endswith("key.password"):
                want[prop] = key
        assert every_form_but_env(out / name) == {
            f: want for f in ("properties", "startup-args", "topology")
        }
        assert (out / name / "keystore.p12").read_bytes() == keys_before[name]
        assert (out / name / "keystore.password.encrypted").read_text() == store + "\n"


BAD = {
    "unknown form": (["--emit", "properties,yaml"], "--emit"),
    "no form": (["--emit", ","], "--emit"),
    "unknown encoding": (["--password-encoding", "rot13"], "--password-encoding 'rot13'"),
    "env with plain": (["--emit", "env"], "--password-encoding base64"),
    "env with pre-encrypted": (
        ["--emit", "env", "--password-encoding", "pre-encrypted"],
        "--password-encoding base64",
    ),
    "pre-encrypted, files missing": (
        ["--password-encoding", "pre-encrypted"],
        "mz/keystore.password.encrypted and key.password.encrypted are missing",
    ),
    "pre-encrypted with --force": (
        ["--password-encoding", "pre-encrypted", "--force"],
        "--force makes new passwords",
    ),
    "a value the env form cannot carry": (
        ["--emit", "env", "--password-encoding", "base64", "--keystore-path", "/opt/my tls/ks.p12"],
        "mz: settings: property 'pico.rcp.tls.keystore' cannot be delivered as EntrypointEnv",
    ),
}


@pytest.mark.parametrize("problem", BAD, ids=list(BAD))
def test_bad_values_exit_2_with_one_line_and_leave_dir_unchanged(
    problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(out) == 0
    before = snapshot(out)
    capsys.readouterr()
    extra, message = BAD[problem]
    assert run(out, *extra) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert err.startswith("pico-tls keystores: error: ")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp folders


def test_pre_encrypted_refuses_passwords_made_in_this_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(out, "--password-encoding", "pre-encrypted") == 2
    assert "mz: its passwords are new in this run" in capsys.readouterr().err
    assert not out.exists()
    assert run(out) == 0
    for name in ("mz", "ec1"):
        write_encrypted(out, name)
    assert run(out, "--container", "ec2") == 0  # a new container: encrypt its passwords too
    before = snapshot(out)
    capsys.readouterr()
    assert run(out, "--container", "ec2", "--password-encoding", "pre-encrypted") == 2
    assert "ec2/keystore.password.encrypted and key.password.encrypted are missing" in (
        capsys.readouterr().err
    )
    assert snapshot(out) == before
    write_encrypted(out, "ec2")
    assert run(out, "--container", "ec2", "--password-encoding", "pre-encrypted") == 0


def test_the_env_form_refusal_says_what_to_do_in_cli_terms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--emit", "env", "--password-encoding", "base64", "--keystore-path", "/a b/ks.p12"]
    assert run(tmp_path / "out", *args) == 2
    err = capsys.readouterr().err
    assert "leave that form out of --emit" in err and "spec.delivery" not in err
    assert not (tmp_path / "out").exists()


def test_a_manifest_of_a_run_before_emit_is_still_read(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(out) == 0
    manifest = json.loads((out / "pico-tls.json").read_text())
    del manifest["passwordEncoding"]
    for record in manifest["parties"].values():
        del record["files"]
    (out / "pico-tls.json").write_text(json.dumps(manifest))
    keystore = (out / "ec1" / "keystore.p12").read_bytes()
    assert run(out, "--emit", "startup-args") == 0
    assert (out / "ec1" / "keystore.p12").read_bytes() == keystore
    assert {p.name for p in (out / "ec1").iterdir()} & FORM_FILES == {"startup-args"}
