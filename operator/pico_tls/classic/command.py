"""`pico-tls keystores`: the CLI subcommand (argument parsing, messages, exit status)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO, TypeVar

from pico_tls.builders.classic_forms import EMIT_CHOICES
from pico_tls.classic.folder_plan import FolderPlan, plan_folder
from pico_tls.classic.layout import read_folder, write_folder_plan
from pico_tls.classic.options import ENCODINGS, ClassicError, Mode, Options
from pico_tls.delivery_choice import PasswordEncoding
from pico_tls.keystore import KeystoreError, Pkcs12Profile, StoreFormat
from pico_tls.pki import CertificateAuthority, KeyAlgorithm, PkiError, load_ca
from pico_tls.spec import SpecError
from pico_tls.spec_fields import parse_duration

PROG = "pico-tls keystores"
E = TypeVar("E", bound=StrEnum)

DESCRIPTION = """\
Write the keystores, passwords and TLS settings (rcp-tls.properties, or the forms of --emit)
of a classic (non-Kubernetes) pico installation: the platform, its execution containers and
desktop clients, with client authentication ready. Re-running keeps every key and adds only
what is new.
"""


def _choices(enum: type[StrEnum]) -> str:
    return "|".join(e.value for e in enum)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "keystores",
        help="keystores for a classic install (the seed procedure)",
        description=DESCRIPTION,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--platform", required=True, metavar="NAME", help="the platform's name")
    p.add_argument(
        "--container",
        action="append",
        default=[],
        metavar="NAME",
        help="an execution container (repeat)",
    )
    p.add_argument(
        "--desktop",
        action="append",
        default=[],
        metavar="NAME",
        help="a desktop client; its certificate is pinned in the platform (repeat)",
    )
    p.add_argument(
        "--mode",
        default=Mode.PER_CONTAINER.value,
        metavar=_choices(Mode),
        help="shared: containers get the platform's keystore; per-container "
        "(default): each has its own key",
    )
    p.add_argument(
        "--format",
        default=StoreFormat.PKCS12.value,
        metavar=_choices(StoreFormat),
        help="keystore format (default pkcs12)",
    )
    p.add_argument(
        "--pkcs12-profile",
        default=Pkcs12Profile.LEGACY_3DES.value,
        metavar=_choices(Pkcs12Profile),
        help="PKCS12 encryption (default legacy-3des: every JVM reads it)",
    )
    p.add_argument(
        "--key",
        default=KeyAlgorithm.RSA_2048.value,
        metavar=_choices(KeyAlgorithm),
        help="algorithm of new keys (default rsa-2048); existing keys are kept",
    )
    p.add_argument(
        "--require-client-auth", action="store_true", help="pico.rcp.tls.require_clientauth=true"
    )
    p.add_argument("--ca-cert", metavar="PEM", help="CA certificate that issues the certificates")
    p.add_argument("--ca-key", metavar="PEM", help="the CA's private key (unencrypted PEM)")
    p.add_argument(
        "--hostname",
        action="append",
        default=[],
        metavar="NAME=DNS",
        help="DNS name of NAME's certificate; the platform's first one becomes the "
        "containers' pico.rcp.platform.host (repeat)",
    )
    p.add_argument(
        "--keystore-path",
        metavar="PATH",
        help="pico.rcp.tls.keystore, where each host keeps its keystore "
        "(default /opt/pico/tls/keystore.p12 or .jks)",
    )
    p.add_argument(
        "--platform-port",
        type=int,
        metavar="PORT",
        help="the platform's RCP port, written to the containers' pico.rcp.platform.port",
    )
    p.add_argument(
        "--emit",
        default="properties",
        metavar=",".join(EMIT_CHOICES),
        help="the TLS settings of each platform and container in these forms, comma-separated "
        "(default properties): rcp-tls.properties, tls.env (the public entrypoint's "
        "variables), startup-args (mzsh startup -e arguments, one per line), cell.conf and "
        "container.conf (topology registry, HOCON)",
    )
    p.add_argument(
        "--password-encoding",
        default="plain",
        metavar="|".join(ENCODINGS),
        help="the passwords in those files (default plain); pre-encrypted takes your "
        "mzsh encryptpassword output from NAME/keystore.password.encrypted and "
        "NAME/key.password.encrypted; env needs base64",
    )
    p.add_argument(
        "--web-ui-tls",
        action="store_true",
        help="also the mz.httpd.security.* properties: the Web UI uses the same keystore",
    )
    p.add_argument("--days", type=int, default=365, help="certificate validity (default 365)")
    p.add_argument(
        "--renew-before",
        metavar="DURATION",
        help="reissue a certificate this long before it expires, as a Go duration like the "
        "operator's renewBefore (default 720h, at most a third of --days)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="start over: new keys, passwords and certificates for every name",
    )
    p.set_defaults(run=run)
    return p


def _enum(enum: type[E], value: str, option: str) -> E:
    try:
        return enum(value.lower())
    except ValueError:
        raise ClassicError(f"{option} {value!r}: use one of {_choices(enum)}") from None


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise ClassicError(f"{what} {path}: {err.strerror or err}") from None


def _load_ca(cert: str | None, key: str | None) -> CertificateAuthority | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ClassicError("--ca-cert and --ca-key go together")
    try:
        return load_ca(_read(cert, "--ca-cert"), _read(key, "--ca-key"))
    except PkiError as err:
        raise ClassicError(f"--ca-cert/--ca-key: {err}") from None


def _hostnames(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        name, sep, dns = value.partition("=")
        if not sep or not name or not dns:
            raise ClassicError(f"--hostname {value!r}: expected NAME=DNS")
        pairs.append((name, dns))
    return tuple(pairs)


def _port(value: int | None) -> int | None:
    if value is not None and not 0 < value < 65536:
        raise ClassicError(f"--platform-port {value}: use a port number from 1 to 65535")
    return value


def _renew_before(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value, "--renew-before")
    except SpecError as err:
        raise ClassicError(str(err)) from None


def _forms(value: str) -> tuple[str, ...]:
    forms = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
    return forms or (value,)  # validate() names the bad value


def _encoding(value: str) -> PasswordEncoding:
    try:
        return ENCODINGS[value.lower()]
    except KeyError:
        raise ClassicError(
            f"--password-encoding {value!r}: use one of {'|'.join(ENCODINGS)}"
        ) from None


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        platform=args.platform,
        containers=tuple(args.container),
        desktops=tuple(args.desktop),
        mode=_enum(Mode, args.mode, "--mode"),
        format=_enum(StoreFormat, args.format, "--format"),
        profile=_enum(Pkcs12Profile, args.pkcs12_profile, "--pkcs12-profile"),
        key=_enum(KeyAlgorithm, args.key, "--key"),
        require_client_auth=args.require_client_auth,
        ca=_load_ca(args.ca_cert, args.ca_key),
        hostnames=_hostnames(args.hostname),
        keystore_path=args.keystore_path,
        platform_port=_port(args.platform_port),
        days=args.days,
        renew_before=_renew_before(args.renew_before),
        force=args.force,
        emit=_forms(args.emit),
        password_encoding=_encoding(args.password_encoding),
        web_ui_tls=args.web_ui_tls,
    )


def summary(plan: FolderPlan, out: Path, options: Options) -> list[str]:
    """What was written, for people: names, aliases, what is new; never a password or key."""
    trust = "CA" if plan.ca_certificate is not None else "pinned"
    lines = [
        f"{out}: {options.mode.value}, {options.format.value}, {trust} trust, client auth "
        f"{'required' if options.require_client_auth else 'not required'}; "
        f"{','.join(options.emit)} with {options.encoding_name} passwords"
        f"{', Web UI TLS' if options.web_ui_tls else ''}"
    ]
    rows = [("NAME", "ROLE", "ALIAS", "KEY", "CERTIFICATE", "STORE", "TRUSTS")]
    for p in plan.parties:
        rows.append(
            (
                p.name,
                p.role.value,
                p.alias,
                p.key_status,
                p.cert_status,
                "written" if p.store_changed else "unchanged",
                ", ".join(p.trusted) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines += [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
        for r in rows
    ]
    lines += [f"  {name}: removed; no store trusts it any more" for name in plan.removed]
    return lines


def run(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    out = Path(args.out)
    try:
        options = options_from(args)
        folder = read_folder(out, options)
        plan = plan_folder(options, folder)
        write_folder_plan(out, plan)
    except (ClassicError, KeystoreError, PkiError) as err:
        print(f"{PROG}: error: {err}", file=stderr)
        return 2
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        print(f"{PROG}: error:{where} {err.strerror or err}", file=stderr)
        return 2
    print("\n".join(summary(plan, out, options)), file=stdout)
    return 0
