"""The input of `pico-tls keystores`: names, mode, format, CA, renewal policy; and its checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from pico_tls.keystore import Pkcs12Profile, StoreFormat, file_name
from pico_tls.material import Passwords, default_renew_before, new_password
from pico_tls.pki import CertificateAuthority, KeyAlgorithm, PrivateKey

CA_ALIAS = "pico-ca"
PLATFORM_ALIAS = "pico-platform"
CA_FILE = "ca.crt"
MANIFEST_FILE = "pico-tls.json"
DEFAULT_KEYSTORE_DIR = "/opt/pico/tls"
RESERVED_NAMES = frozenset({CA_FILE, MANIFEST_FILE})
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
    path = options.property_keystore_path
    if any(c in path for c in "\n\r") or not path.strip():
        raise ClassicError("--keystore-path must be a non-empty single-line path")
