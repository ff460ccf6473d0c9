"""`pico-tls desktop-key NAME`: a DesktopClient's keystore and password as files, and the
Desktop Launcher steps to import them."""

from __future__ import annotations

import argparse
import base64
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from pico_tls.clock import system_clock
from pico_tls.ctl import desktop_view
from pico_tls.ctl.common import Context, add_command
from pico_tls.ctl.errors import CtlError
from pico_tls.ctl.files import write_private
from pico_tls.ctl.lookup import find
from pico_tls.kube import KubeError

EXAMPLES = """\
  pico-tls desktop-key alice -n prod                 # alice.p12 and alice.password (0600)
  pico-tls desktop-key alice -o ~/keys/mz-alice.p12  # ~/keys/mz-alice.password next to it
  pico-tls desktop-key alice --show-password         # print the password, write no file for it
  kubectl pico-tls desktop-key alice -o alice.p12
"""
STORES = {"keystore.p12": ("PKCS12", ".p12"), "keystore.jks": ("JKS", ".jks")}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        subparsers,
        "desktop-key",
        "Write a DesktopClient's key for the Desktop Launcher (keystore file, password file "
        "of mode 0600) and print how to import it.",
        EXAMPLES,
        run,
    )
    parser.add_argument("name", help="the DesktopClient")
    parser.add_argument("-o", "--output", type=Path, help="keystore file (default: NAME.p12|.jks)")
    parser.add_argument(
        "--password-file", type=Path, help="where the password goes (default: beside the key)"
    )
    parser.add_argument(
        "--show-password", action="store_true", help="print the password instead of a file"
    )
    parser.add_argument(
        "--warn-days", type=int, default=14, help="warn when the key is renewed within N days"
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    desktop = find(ctx, "DesktopClient", args.name)
    namespace = ctx.one_namespace()
    secret_name = f"{args.name}-desktop-key"
    secret = ctx.api.get("Secret", namespace, secret_name)
    data = {k: base64.b64decode(v) for k, v in ((secret or {}).get("data") or {}).items()}
    store_key = next((k for k in STORES if k in data), None)
    if store_key is None or "keystore.password" not in data:
        raise CtlError(
            f"Secret {secret_name} holds no desktop keystore yet: is the operator running? "
            f"(pico-tls status -n {namespace})"
        )
    store_type, suffix = STORES[store_key]
    key_file = args.output or Path(f"{args.name}{suffix}")
    write_private(key_file, data[store_key])
    password_file = _passwords(args, key_file, data)
    print(f"wrote {key_file}" + (f" and {password_file} (mode 0600)" if password_file else ""))
    platform_name = ((desktop.get("spec") or {}).get("platformRef") or {}).get("name", "")
    platform, readable = _platform(ctx, namespace, platform_name)
    print()
    print(desktop_view.launcher_steps(str(key_file), password_file, platform_name, store_type))
    soon = timedelta(days=args.warn_days)
    found = desktop_view.warnings(desktop, platform, system_clock(), soon, readable=readable)
    for warning in found:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _passwords(args: argparse.Namespace, key_file: Path, data: dict[str, bytes]) -> str | None:
    """The password file written (None: printed, as asked with --show-password)."""
    password = data["keystore.password"].decode().strip()
    key_password = data.get("key.password", data["keystore.password"]).decode().strip()
    if args.show_password:
        print(f"keystore password: {password}")
        if key_password != password:
            print(f"key password: {key_password}")
        return None
    password_file = args.password_file or key_file.with_suffix(".password")
    write_private(password_file, f"{password}\n".encode())
    if key_password != password:  # a passwordSecretRef with its own key.password
        own = password_file.with_suffix(".key-password")
        write_private(own, f"{key_password}\n".encode())
        print(f"the key's own password is in {own} (mode 0600)")
    return str(password_file)


def _platform(ctx: Context, namespace: str, name: str) -> tuple[dict[str, Any] | None, bool]:
    """The desktop's Platform, and whether the user may read it (a desktop user may not)."""
    try:
        return ctx.api.get("Platform", namespace, name), True
    except KubeError as err:
        if err.status != 403:
            raise
    print(f"note: you may not read Platform {name}; CA rotations are not checked")
    return None, False
