"""The input of `pico-tls keystores`: names, mode, format, CA, renewal policy; and its checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from pico_tls.builders.classic_forms import EMIT_CHOICES, ENV_NEEDS_BASE64
from pico_tls.delivery_choice import PasswordEncoding
from pico_tls.keystore import Pkcs12Profile, StoreFormat, file_name
from pico_tls.material import Passwords, default_renew_before, new_password
from pico_tls.pki import CertificateAuthority, KeyAlgorithm, PrivateKey

CA_ALIAS = "pico-ca"
PLATFORM_ALIAS = "pico-platform"
CA_FILE = "ca.crt"
MANIFEST_FILE = "pico-tls.json"
DEFAULT_KEYSTORE_DIR = "/opt/pico/tls"
RESERVED_NAMES = frozenset({CA_FILE, MANIFEST_FILE})
# --password-encoding on the command line, and the delivery module's value
ENCODINGS = {
    "plain": PasswordEncoding.PLAIN,
    "base64": PasswordEncoding.BASE64,
    "pre-encrypted": PasswordEncoding.PRE_ENCRYPTED,
}
ENCRYPTED_STORE_PASSWORD_FILE = "keystore.password.encrypted"
ENCRYPTED_KEY_PASSWORD_FILE = "key.password.encrypted"
_RESERVED_TEXT = " or ".join(sorted(RESERVED_NAMES))
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*")

KeyGenerator = Callable[[KeyAlgorithm], PrivateKey]


class ClassicError(ValueError):
    """Bad input: a one-line message naming the problem; never a password or key."""


class Mode(StrEnum):
    SHARED = "shared"
    PER_CONTAINER = "per-container"


class Role(StrEnum):
    PLATFORM = "platform"
    CONTAINER = "container"
    DESKTOP = "desktop"


def new_passwords() -> Passwords:
    """URL-safe ASCII: readable by Java in PKCS12 and safe in a .properties file."""
    return Passwords(new_password(), new_password())


@dataclass(frozen=True)
class Options:
    platform: str
    containers: tuple[str, ...] = ()
    desktops: tuple[str, ...] = ()
    mode: Mode = Mode.PER_CONTAINER
    format: StoreFormat = StoreFormat.PKCS12
    profile: Pkcs12Profile = Pkcs12Profile.LEGACY_3DES
    key: KeyAlgorithm = KeyAlgorithm.RSA_2048
    require_client_auth: bool = False
    ca: CertificateAuthority | None = None
    hostnames: tuple[tuple[str, str], ...] = ()  # (name, DNS name), in the order given
    keystore_path: str | None = None  # None: DEFAULT_KEYSTORE_DIR/keystore.p12 (or .jks)
    platform_port: int | None = None  # the containers' pico.rcp.platform.port, when given
    days: int = 365
    renew_before: timedelta | None = None  # None: the operator's default for this duration
    force: bool = False
    emit: tuple[str, ...] = ("properties",)  # delivery forms written per platform/container
    password_encoding: PasswordEncoding = PasswordEncoding.PLAIN
    web_ui_tls: bool = False  # also the mz.httpd.security.* properties, same keystore

    @property
    def encoding_name(self) -> str:
        return next(k for k, v in ENCODINGS.items() if v is self.password_encoding)

    @property
    def parties(self) -> list[tuple[str, Role]]:
        return (
            [(self.platform, Role.PLATFORM)]
            + [(c, Role.CONTAINER) for c in self.containers]
            + [(d, Role.DESKTOP) for d in self.desktops]
        )

    def dns_names(self, name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(dns for n, dns in self.hostnames if n == name))

    @property
    def property_keystore_path(self) -> str:
        return self.keystore_path or f"{DEFAULT_KEYSTORE_DIR}/{file_name(self.format)}"

    @property
    def duration(self) -> timedelta:
        return timedelta(days=self.days)

    @property
    def renewal_window(self) -> timedelta:
        """How long before expiry a certificate is reissued (the operator's renewBefore)."""
        return self.renew_before or default_renew_before(self.duration)

    def owns_key(self, role: Role) -> bool:
        return role is not Role.CONTAINER or self.mode is Mode.PER_CONTAINER


def validate(options: Options) -> None:
    seen: set[str] = set()
    for name, role in options.parties:
        if not _NAME.fullmatch(name) or name in RESERVED_NAMES:
            raise ClassicError(
                f"invalid {role.value} name {name!r}: use letters, digits, '.', '_' and '-' "
                f"(at most 63, not starting with '.' or '-'; not {_RESERVED_TEXT})"
            )
        if name in seen:
            raise ClassicError(
                f"duplicate name {name!r}: every platform, container and desktop needs its own name"
            )
        seen.add(name)
    for name, dns in options.hostnames:
        if name not in seen:
            raise ClassicError(f"--hostname {name}={dns}: {name!r} is not a given name")
        if not _DNS.fullmatch(dns) or len(dns) > 253:
            raise ClassicError(f"--hostname {name}={dns}: {dns!r} is not a DNS name")
    if not 1 <= options.days <= 36500:
        raise ClassicError(f"--days {options.days}: must be between 1 and 36500")
    if options.renew_before is not None and not (
        timedelta(0) < options.renew_before < options.duration
    ):
        raise ClassicError(
            f"--renew-before {options.renew_before}: must be more than 0 and less than --days"
        )
    _validate_forms(options)
    path = options.property_keystore_path
    if any(c in path for c in "\n\r") or not path.strip():
        raise ClassicError("--keystore-path must be a non-empty single-line path")


def _validate_forms(options: Options) -> None:
    unknown = [f for f in options.emit if f not in EMIT_CHOICES]
    if unknown or not options.emit:
        raise ClassicError(
            f"--emit {','.join(options.emit)!r}: give one or more of {','.join(EMIT_CHOICES)}, "
            "comma-separated"
        )
    if "env" in options.emit and options.password_encoding is not PasswordEncoding.BASE64:
        raise ClassicError(
            f"--emit env with --password-encoding {options.encoding_name}: {ENV_NEEDS_BASE64}; "
            "add --password-encoding base64 or leave env out"
        )
    if options.password_encoding is PasswordEncoding.PRE_ENCRYPTED and options.force:
        raise ClassicError(
            "--force makes new passwords, which your mzsh encryptpassword output cannot match: "
            "run without --password-encoding pre-encrypted, then encrypt the new passwords"
        )
