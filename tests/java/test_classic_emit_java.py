"""`pico-tls keystores --emit` read by a real JVM.

`EmitCheck` loads `rcp-tls.properties` (`$EMIT_PROPERTIES`) with `java.util.Properties.load`,
parses its arguments as `mzsh startup` parses `-e key=value`, requires both to hold exactly the
same settings, then opens the keystore at `pico.rcp.tls.keystore` with the emitted passwords
(base64-decoded when `$EMIT_ENCODING` says so) and gets the key entry the alias names (and,
with Web UI TLS, the `mz.httpd.security.*` ones). The arguments come from `startup-args` through
the documented shell line (`mapfile -t`), or from `tls.env` through the documented lines into
the public entrypoint's stand-in, so what the shell hands the JVM is what a user's install gets.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from pico_harness.java.fixtures import require_java
from pico_harness.support.entrypoints import PUBLIC_ENTRYPOINT
from pico_tls.cli import main

EMIT_CHECK = """
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.security.*;
import java.util.*;

public class EmitCheck {
    static char[] password(Map<String, String> s, String key, boolean b64) {
        String value = s.get(key);
        if (b64) value = new String(Base64.getDecoder().decode(value), StandardCharsets.UTF_8);
        return value.toCharArray();
    }

    static String openKey(Map<String, String> s, String prefix, String aliasKey, boolean b64)
            throws Exception {
        String path = s.get(prefix + ".keystore");
        KeyStore ks = KeyStore.getInstance(path.endsWith(".jks") ? "JKS" : "PKCS12");
        try (InputStream in = new FileInputStream(path)) {
            ks.load(in, password(s, prefix + ".keystore.password", b64));
        }
        Key key = ks.getKey(s.get(aliasKey), password(s, prefix + ".key.password", b64));
        if (key == null) throw new IllegalStateException("no key entry " + s.get(aliasKey));
        return key.getAlgorithm();
    }

    public static void main(String[] a) throws Exception {
        Properties file = new Properties();
        try (InputStream in = new FileInputStream(System.getenv("EMIT_PROPERTIES"))) {
            file.load(in);
        }
        boolean b64 = System.getenv("EMIT_ENCODING").equals("base64");
        Map<String, String> fromFile = new TreeMap<>();
        for (String k : file.stringPropertyNames()) fromFile.put(k, file.getProperty(k));
        Map<String, String> fromArgs = new TreeMap<>();
        for (int i = 0; i < a.length; i += 2) {
            if (!a[i].equals("-e") || i + 1 == a.length) throw new IllegalArgumentException(a[i]);
            String pair = a[i + 1];
            int eq = pair.indexOf('=');
            if (fromArgs.put(pair.substring(0, eq), pair.substring(eq + 1)) != null) {
                throw new IllegalArgumentException("twice: " + pair.substring(0, eq));
            }
        }
        if (!fromFile.equals(fromArgs)) {
            System.out.println("DIFFER file=" + fromFile.keySet() + " args=" + fromArgs.keySet());
            System.exit(3);
        }
        Base64.Encoder enc = Base64.getEncoder();
        for (Map.Entry<String, String> e : fromFile.entrySet()) {
            System.out.println(enc.encodeToString(e.getKey().getBytes(StandardCharsets.UTF_8))
                + " " + enc.encodeToString(e.getValue().getBytes(StandardCharsets.UTF_8)));
        }
        System.out.println("KEY rcp " + openKey(fromFile, "pico.rcp.tls",
            "pico.rcp.tls.keystore.alias", b64));
        if (fromFile.containsKey("mz.httpd.security.keystore")) {
            System.out.println("KEY httpd " + openKey(fromFile, "mz.httpd.security",
                "mz.httpd.security.key.alias", b64));
        }
    }
}
"""
# The documented way to hand startup-args to mzsh startup (here: to EmitCheck).
STARTUP = """#!/bin/bash
set -e
mapfile -t args < "$1"
exec java -cp "$CLASSES" EmitCheck "${args[@]}"
"""
# The documented way to hand tls.env to the public entrypoint (here: its stand-in).
ENV = """#!/bin/sh
set -e
. "$1"
eval "set -- $PICO_TLS_EXTRA_ARGS"
exec "$CLASSES/public-entrypoint.sh" "$@"
"""
# A keystore path with white space, quotes, $, a backslash and non-ASCII: the properties file
# escapes them and the argument vector carries them unchanged.
ARGS = "startup-args"
TRICKY_DIR = "tls dir $HOME 'q' \\ grüße"


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_java()
    out = tmp_path_factory.mktemp("emitcheck")
    (out / "EmitCheck.java").write_text(EMIT_CHECK)
    subprocess.run(["javac", "-d", str(out), str(out / "EmitCheck.java")], check=True)
    scripts = {"startup.sh": STARTUP, "env.sh": ENV, "public-entrypoint.sh": PUBLIC_ENTRYPOINT}
    for name, text in scripts.items():
        (out / name).write_text(text)
        (out / name).chmod(0o755)
    return out


def jvm_reads(
    classes: Path, folder: Path, encoding: str, script: str = "startup.sh", form: str = ARGS
) -> tuple[dict[str, str], list[str]]:
    result = subprocess.run(
        [str(classes / script), str(folder / form)],
        env={
            "PATH": "/usr/bin:/bin",
            "LC_ALL": "C.UTF-8",
            "CLASSES": str(classes),
            "MAIN_CLASS": "EmitCheck",
            "EMIT_PROPERTIES": str(folder / "rcp-tls.properties"),
            "EMIT_ENCODING": encoding,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    settings, keys = {}, []
    for line in result.stdout.splitlines():
        if line.startswith("KEY "):
            keys.append(line)
            continue
        key, value = line.split(" ")
        settings[base64.b64decode(key).decode()] = base64.b64decode(value).decode()
    return settings, keys


@pytest.mark.parametrize(
    ("fmt", "encoding", "web_ui"),
    [("pkcs12", "plain", False), ("jks", "base64", True), ("pkcs12", "base64", False)],
)
def test_the_jvm_reads_the_same_settings_from_both_forms_and_opens_the_keystore(
    classes: Path, tmp_path: Path, fmt: str, encoding: str, web_ui: bool
) -> None:
    out = tmp_path / "out"
    store_dir = tmp_path / TRICKY_DIR
    store_path = store_dir / f"keystore.{'jks' if fmt == 'jks' else 'p12'}"
    args = ["keystores", "--out", str(out), "--platform", "mz", "--container", "ec1"]
    args += ["--format", fmt, "--keystore-path", str(store_path), "--require-client-auth"]
    args += ["--hostname", "mz=mz.example.com", "--platform-port", "6790"]
    args += ["--emit", "properties,startup-args", "--password-encoding", encoding]
    assert main(args + (["--web-ui-tls"] if web_ui else [])) == 0
    store_dir.mkdir()
    for name in ("mz", "ec1"):
        folder = out / name
        shutil.copy(folder / store_path.name, store_path)  # where the host keeps it
        settings, keys = jvm_reads(classes, folder, encoding)

        store_pw = (folder / "keystore.password").read_text().rstrip("\n")
        key_pw = (folder / "key.password").read_text().rstrip("\n")
        if encoding == "base64":
            store_pw = base64.b64encode(store_pw.encode()).decode()
            key_pw = base64.b64encode(key_pw.encode()).decode()
        want = {
            "pico.rcp.tls.keystore": str(store_path),
            "pico.rcp.tls.keystore.alias": name,
            "pico.rcp.tls.require_clientauth": "true",
            "pico.rcp.tls.keystore.password": store_pw,
            "pico.rcp.tls.key.password": key_pw,
        }
        if name == "ec1":
            want |= {"pico.rcp.platform.host": "mz.example.com", "pico.rcp.platform.port": "6790"}
        if web_ui:
            want |= {
                "mz.httpd.security": "true",
                "mz.httpd.security.keystore": str(store_path),
                "mz.httpd.security.key.alias": name,
                "mz.httpd.security.keystore.password": store_pw,
                "mz.httpd.security.key.password": key_pw,
            }
        assert settings == want
        assert keys == ["KEY rcp RSA"] + (["KEY httpd RSA"] if web_ui else [])


def test_the_env_form_through_the_public_entrypoint_gives_the_properties_files_settings(
    classes: Path, tmp_path: Path
) -> None:
    """With --web-ui-tls (that entrypoint always sets mz.httpd.security.*) and base64."""
    out = tmp_path / "out"
    store_path = tmp_path / "tls" / "keystore.p12"  # that entrypoint word-splits: no spaces
    args = ["keystores", "--out", str(out), "--platform", "mz", "--container", "ec1"]
    args += ["--keystore-path", str(store_path), "--hostname", "mz=mz.example.com"]
    args += ["--emit", "properties,env", "--password-encoding", "base64", "--web-ui-tls"]
    assert main(args) == 0
    store_path.parent.mkdir()
    for name in ("mz", "ec1"):
        shutil.copy(out / name / "keystore.p12", store_path)
        settings, keys = jvm_reads(classes, out / name, "base64", "env.sh", "tls.env")
        assert settings["pico.rcp.tls.keystore.alias"] == name
        assert settings["mz.httpd.security.keystore"] == str(store_path)
        assert ("pico.rcp.platform.host" in settings) == (name == "ec1")
        assert keys == ["KEY rcp RSA", "KEY httpd RSA"]
