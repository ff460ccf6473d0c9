"""The output folder of `pico-tls keystores`: reading what it holds, replacing it atomically.

DIR/
  ca.crt                      the CA certificate (CA trust only)
  pico-tls.json               what the last run wrote (names, roles, aliases; no secrets)
  NAME/keystore.p12|.jks      0600
  NAME/keystore.password      0600
  NAME/key.password           0600
  NAME/tls.crt                0644
  NAME/rcp-tls.properties     0600 (platform and containers; holds the passwords)
  NAME/tls.env, startup-args, container.conf  0600, cell.conf 0644: the other --emit forms
  NAME/keystore.password.encrypted, key.password.encrypted: yours (read with pre-encrypted)
Anything else in DIR or in a NAME folder is carried over untouched; an --emit file of the last
run (recorded in pico-tls.json) that this run does not emit is removed, and a file of that name
that pico-tls.json does not record is never replaced (the run is refused). The new content is
built in a temporary folder next to DIR and swapped in by rename, so a failure leaves DIR as it
was.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

from pico_tls.builders.classic_forms import files_of, holds_passwords
from pico_tls.classic.folder_plan import FolderContents, FolderPlan
from pico_tls.classic.identity import FoundStore
from pico_tls.classic.manifest import Manifest
from pico_tls.classic.options import (
    CA_FILE,
    ENCRYPTED_KEY_PASSWORD_FILE,
    ENCRYPTED_STORE_PASSWORD_FILE,
    MANIFEST_FILE,
    ClassicError,
    Options,
    Role,
)
from pico_tls.delivery_choice import PasswordEncoding
from pico_tls.keystore import (
    KeystoreError,
    StoreFormat,
    StoreOptions,
    decode_keystore,
    detect_format,
    file_name,
)
from pico_tls.material import Passwords
from pico_tls.pki import cert_to_pem

STORE_PASSWORD_FILE = "keystore.password"
KEY_PASSWORD_FILE = "key.password"
CERT_FILE = "tls.crt"
PROPERTIES_FILE = "rcp-tls.properties"
STORE_FILES = tuple(file_name(f) for f in StoreFormat)
OUR_FILES = frozenset(
    {*STORE_FILES, STORE_PASSWORD_FILE, KEY_PASSWORD_FILE, CERT_FILE, PROPERTIES_FILE}
)
PRIVATE = 0o600
PUBLIC = 0o644


# --------------------------------------------------------------------------- reading


def _read_manifest(out: Path) -> Manifest | None:
    path = out / MANIFEST_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ClassicError(f"{path}: not readable as JSON") from None
    try:
        return Manifest.from_json(data)
    except ClassicError:
        raise ClassicError(f"{path}: not a pico-tls manifest") from None


def _read_password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ClassicError(f"{path}: not UTF-8 text") from None
    password = text.rstrip("\r\n")
    if not password or "\n" in password:
        raise ClassicError(f"{path}: must hold one non-empty line")
    return password


def _store_file(folder: Path, manifest: Manifest | None, managed: bool) -> Path | None:
    found = [folder / n for n in STORE_FILES if (folder / n).is_file()]
    if len(found) > 1 and managed and manifest is not None:
        preferred = folder / file_name(manifest.format)
        found = [preferred] if preferred in found else found
    if len(found) > 1:
        raise ClassicError(f"{folder}: holds both {' and '.join(STORE_FILES)}; keep one of them")
    return found[0] if found else None


def read_store(path: Path) -> FoundStore:
    """A keystore and its password files (key.password defaults to keystore.password)."""
    folder = path.parent
    store_pw_file = folder / STORE_PASSWORD_FILE
    if not store_pw_file.is_file():
        raise ClassicError(f"{store_pw_file} is missing: it is needed to read {path}")
    store_pw = _read_password(store_pw_file)
    key_pw_file = folder / KEY_PASSWORD_FILE
    key_pw = _read_password(key_pw_file) if key_pw_file.is_file() else store_pw
    data = path.read_bytes()
    try:
        fmt = detect_format(data)
        content = decode_keystore(data, StoreOptions(fmt, store_pw, key_pw))
    except KeystoreError as err:
        raise ClassicError(f"{path}: cannot read it ({err})") from None
    return FoundStore(content, Passwords(store_pw, key_pw), fmt, data)


def read_folder(out: Path, options: Options) -> FolderContents:
    """What DIR holds for the given names. ClassicError when something there cannot be read.

    With --force nothing but the manifest is read (and an unreadable manifest is ignored).
    """
    if not out.exists():
        return FolderContents()
    if not out.is_dir():
        raise ClassicError(f"{out} exists and is not a folder")
    try:
        manifest = _read_manifest(out)
    except ClassicError:
        if not options.force:
            raise
        manifest = None
    if options.force:
        return FolderContents(manifest=manifest)
    stores: dict[str, FoundStore] = {}
    raw: dict[str, bytes] = {}
    encrypted: dict[str, Passwords] = {}
    for name, role in options.parties:
        folder = out / name
        if not folder.exists():
            continue
        if not folder.is_dir():
            raise ClassicError(f"{folder} exists and is not a folder")
        record = manifest.parties.get(name) if manifest is not None else None
        if role is not Role.DESKTOP:
            _check_not_theirs(folder, options, record.files if record is not None else ())
            found = _read_encrypted(folder, options)
            if found is not None:
                encrypted[name] = found
        path = _store_file(folder, manifest, record is not None)
        if path is None:
            continue
        if options.owns_key(role) and (record is None or record.own_key):
            store = read_store(path)
            stores[name] = store
            raw[name] = store.data
        else:
            raw[name] = path.read_bytes()
    return FolderContents(stores, manifest, raw, encrypted)


def _check_not_theirs(folder: Path, options: Options, recorded: tuple[str, ...]) -> None:
    """Refuse to replace a file the user keeps where an --emit form goes."""
    for name in files_of(options.emit):
        path = folder / name
        if name != PROPERTIES_FILE and name not in recorded and path.exists():
            raise ClassicError(
                f"{path} is not one pico-tls keystores wrote (pico-tls.json does not list it): "
                "move it away, or leave its form out of --emit"
            )


def _read_encrypted(folder: Path, options: Options) -> Passwords | None:
    """pre-encrypted: the user's mzsh encryptpassword output, both files or neither."""
    if options.password_encoding is not PasswordEncoding.PRE_ENCRYPTED:
        return None
    paths = [folder / ENCRYPTED_STORE_PASSWORD_FILE, folder / ENCRYPTED_KEY_PASSWORD_FILE]
    present = [p.is_file() for p in paths]
    if not any(present):
        return None
    if not all(present):
        missing = paths[present.index(False)]
        raise ClassicError(f"{missing} is missing: pre-encrypted needs both encrypted passwords")
    return Passwords(_read_password(paths[0]), _read_password(paths[1]))


# --------------------------------------------------------------------------- writing


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)  # the umask may have narrowed it


def _copy_entry(source: Path, target: Path) -> None:
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def _fill(tmp: Path, out: Path, plan: FolderPlan) -> None:
    ours = {p.name for p in plan.parties} | set(plan.removed) | {CA_FILE, MANIFEST_FILE}
    before = plan.previous.parties if plan.previous is not None else {}
    if out.is_dir():
        os.chmod(tmp, stat.S_IMODE(out.stat().st_mode))
        for entry in out.iterdir():
            if entry.name not in ours:
                _copy_entry(entry, tmp / entry.name)
    for party in plan.parties:
        folder = tmp / party.name
        folder.mkdir(mode=0o700)
        previous = out / party.name
        record = before.get(party.name)
        replaced = OUR_FILES | set(record.files if record is not None else ())
        if previous.is_dir():
            for entry in previous.iterdir():
                if entry.name not in replaced:
                    _copy_entry(entry, folder / entry.name)
        _write(folder / file_name(party.format), party.store, PRIVATE)
        _write(folder / STORE_PASSWORD_FILE, party.passwords.store.encode() + b"\n", PRIVATE)
        _write(folder / KEY_PASSWORD_FILE, party.passwords.key.encode() + b"\n", PRIVATE)
        _write(folder / CERT_FILE, cert_to_pem(party.certificate), PUBLIC)
        for name, text in party.files.items():
            _write(folder / name, text.encode(), PRIVATE if holds_passwords(name) else PUBLIC)
    if plan.ca_certificate is not None:
        _write(tmp / CA_FILE, cert_to_pem(plan.ca_certificate), PUBLIC)
    manifest = json.dumps(plan.manifest.to_json(), indent=2, sort_keys=True) + "\n"
    _write(tmp / MANIFEST_FILE, manifest.encode(), PUBLIC)


def write_folder_plan(out: Path, plan: FolderPlan) -> None:
    """Build the new DIR next to it, then swap it in; DIR is unchanged if anything fails."""
    out = Path(os.path.abspath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        _fill(tmp, out, plan)
        if not out.exists():
            os.rename(tmp, out)
            return
        old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
        os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
