"""`pico-tls inspect secret NAME` / `--file PATH`: a keystore's entries and protection, and
whether it matches what its custom resource expects."""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pico_tls.ctl import inspect_view
from pico_tls.ctl.common import Context, add_command, prog, run_command
from pico_tls.ctl.errors import CtlError
from pico_tls.ctl.expected import expected_of
from pico_tls.keystore import (
    KeystoreError,
    StoreFormat,
    StoreOptions,
    decode_keystore,
    detect_format,
    pkcs12_protection,
)

EXAMPLES = """\
  pico-tls inspect secret mz-rcp-tls -n prod        # the Platform's mounted keystore
  pico-tls inspect secret alice-desktop-key -o json
  pico-tls inspect --file alice.p12 --password-file alice.password
"""
STORE_KEYS = ("keystore.p12", "keystore.jks")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        subparsers,
        "inspect",
        "Show every entry of a keystore (alias, type, subject, issuer, validity, SHA-256, key "
        "type), its PKCS12 protection and the Java versions that read it, and whether it "
        "matches its custom resource.",
        EXAMPLES,
        run,
    )
    parser.add_argument("target", nargs="*", metavar="secret NAME", help="a keystore Secret")
    parser.add_argument("--file", type=Path, help="a keystore file instead of a Secret")
    parser.add_argument("--password-file", type=Path, help="with --file: its store password")
    parser.add_argument("--key-password-file", type=Path, help="with --file, if it differs")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.set_defaults(run=dispatch)


def dispatch(args: argparse.Namespace) -> int:
    if args.file is None:
        return run_command(run, args)
    try:
        return _show_file(args)
    except (CtlError, KeystoreError, OSError) as exc:
        print(f"{prog()}: {exc}", file=sys.stderr)
        return 2


def _show_file(args: argparse.Namespace) -> int:
    if args.target:
        raise CtlError("give either `secret NAME` or --file PATH, not both")
    password = (
        args.password_file.read_text().splitlines()[0].strip()
        if args.password_file
        else getpass.getpass(f"password of {args.file}: ")
    )
    key_password = (
        args.key_password_file.read_text().splitlines()[0].strip()
        if args.key_password_file
        else password
    )
    return _show(args, str(args.file), args.file.read_bytes(), password, key_password, None)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if len(args.target) != 2 or args.target[0].lower() not in ("secret", "secrets"):
        raise CtlError("inspect takes `secret NAME` (or --file PATH)")
    name, namespace = args.target[1], ctx.one_namespace()
    secret = ctx.api.get("Secret", namespace, name)
    if secret is None:
        raise CtlError(_missing(ctx, namespace, name))
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    store_key = next((k for k in STORE_KEYS if k in data), None)
    if store_key is None or "keystore.password" not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise CtlError(f"Secret {name} holds no keystore with its password (keys: {keys})")
    password = data["keystore.password"].decode().strip()
    key_password = data.get("key.password", data["keystore.password"]).decode().strip()
    expected = expected_of(ctx, secret)
    return _show(args, f"Secret {namespace}/{name}", data[store_key], password, key_password,
                 expected)  # fmt: skip


def _missing(ctx: Context, namespace: str, name: str) -> str:
    for kind, suffix in (("Platform", "-rcp-tls"), ("ExecutionContainer", "-rcp-tls"),
                         ("DesktopClient", "-desktop-key")):  # fmt: skip
        if ctx.api.get(kind, namespace, name) is not None:
            return (
                f"{name} is a {kind}, not a Secret: its keystore is in Secret {name}{suffix} "
                f"(pico-tls inspect secret {name}{suffix})"
            )
    return f"Secret {name} not found in namespace {namespace}"


def _show(
    args: argparse.Namespace, title: str, store: bytes, password: str, key_password: str,
    expected: inspect_view.Expected | str | None,
) -> int:  # fmt: skip
    fmt = detect_format(store)
    content = decode_keystore(store, StoreOptions(fmt, password, key_password))
    protection = pkcs12_protection(store) if fmt is StoreFormat.PKCS12 else None
    verdicts = None
    if isinstance(expected, inspect_view.Expected):
        verdicts = inspect_view.checks(expected, fmt, protection, content)
    entries = inspect_view.entries(content)
    described = inspect_view.protection_data(fmt, protection)
    owner = expected.owner if isinstance(expected, inspect_view.Expected) else None
    if args.output == "json":
        print(json.dumps(_data(title, entries, described, verdicts, owner, expected), indent=2))
    else:
        print(inspect_view.report(title, entries, described, verdicts, owner))
        if isinstance(expected, str):
            print(f"\nnot checked against a custom resource: {expected}")
    return 0 if verdicts is None or all(ok for ok, _ in verdicts) else 1


def _data(
    title: str, entries: list[dict[str, Any]], protection: Mapping[str, Any],
    verdicts: list[tuple[bool, str]] | None, owner: str | None, expected: object,
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"source": title, "entries": entries, "protection": dict(protection)}
    if verdicts is not None:
        out["matches"] = {"owner": owner, "checks": [{"ok": ok, "what": w} for ok, w in verdicts]}
    elif isinstance(expected, str):
        out["matches"] = {"owner": None, "notChecked": expected}
    return out
