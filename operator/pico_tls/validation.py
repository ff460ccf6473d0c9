"""Input rules the operator derives from the names and values it writes.

The CRDs in `crds/` enforce the same rules with CEL (messages there and here agree); the spec
parsers call these too (defence in depth, and for `pico-tls render` on files that never went
through an apiserver). Password Secrets belong to the user, so no schema sees their content:
the reconcile pass calls `check_password` on what it reads. Every function is pure and raises
`SpecError` (a `ValueError`) with a message that says what to fix, never the value itself.

Where the name limits come from (`builders/names.py`, `builders/workloads.py`):
- every object carries the label `app.kubernetes.io/instance: <name>` and
  `picotls.dev/platform: <platform>`; label values are at most 63 characters;
- a Platform names Services `<name>` and `<name>-headless` (DNS-1035 labels, at most 63, so
  at most 54 for the name) and a StatefulSet `<name>` whose ControllerRevisions carry the
  label `controller-revision-hash: <name>-<hash of up to 10>`, so at most 52;
- a Platform named `<y>-headless` would take the headless Service of a Platform `<y>`;
- Secrets `<name>-rcp-tls`, `<name>-rcp-tls-state`, `<name>-desktop-key`,
  `<name>-desktop-key-state` are far within the 253 of a Secret name once the label fits.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from datetime import timedelta

LABEL_VALUE_MAX = 63
PLATFORM_NAME_MAX = 52
MEMBER_NAME_MAX = LABEL_VALUE_MAX
CN_MAX = 64  # X.509 ub-common-name
PASSWORD_MIN = 6  # keytool refuses shorter keystore passwords
PASSWORD_MAX = 128
MIN_DURATION = timedelta(hours=1)
MAX_DURATION = timedelta(hours=87600)  # ten years: leaf certificates, and clear of overflow
# renewBefore at most this fraction of duration: a certificate lives at least half its life
# before it is renewed, so a short duration cannot turn into a renewal (and pod roll) storm.
RENEW_FRACTION = 0.5
# Suffixes of the Secrets the operator writes: a user's password Secret must not be one.
OPERATOR_SECRET_SUFFIXES = ("-rcp-tls", "-rcp-tls-state", "-desktop-key", "-desktop-key-state")
# Set by the operator on every pod (builders/workloads.py); a podTemplate must not repeat them.
OPERATOR_ENV = frozenset(
    {"PICO_RCP_TLS_KEYSTORE_PASSWORD", "PICO_RCP_TLS_KEY_PASSWORD", "PICO_PROPERTIES_FILES"}
)
OPERATOR_VOLUMES = frozenset({"pico-tls", "pico-properties"})
PROPERTIES_MOUNT = "/etc/pico/properties"


class SpecError(ValueError):
    """A spec the operator cannot act on; the message tells the user what to fix."""


_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# Unicode categories no certificate subject should carry: controls (NUL, ESC, newline),
# format characters (right-to-left override, zero-width joiners), private use,
# surrogates, line and paragraph separators (the CRD rule: \p{C}, \p{Zl}, \p{Zp}).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})
# What Properties.load reads back as the same key without escaping: no separators (= : space
# tab form feed), comment marks (# !), backslashes, line breaks or non-ASCII.
_PROPERTY_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_platform_name(name: str) -> None:
    if not _DNS1035.fullmatch(name) or len(name) > PLATFORM_NAME_MAX:
        raise SpecError(
            f"metadata.name: a Platform name must be at most {PLATFORM_NAME_MAX} characters of "
            "lower-case letters, digits and '-', start with a letter and end with a letter or "
            "digit (it names the StatefulSet, whose revision label adds 11 characters, and the "
            "Services <name> and <name>-headless)"
        )
    if name.endswith("-headless"):
        raise SpecError(
            "metadata.name: a Platform name must not end in -headless: the Platform "
            f"{name.removesuffix('-headless')} names its headless Service {name}; "
            "choose another name"
        )


def check_platform_ref(name: str, field_path: str) -> None:
    if not _DNS1035.fullmatch(name) or len(name) > PLATFORM_NAME_MAX:
        raise SpecError(
            f"{field_path}: name a Platform: at most {PLATFORM_NAME_MAX} characters of lower-case "
            "letters, digits and '-', starting with a letter"
        )


def check_member_name(kind: str, name: str) -> None:
    if len(name) > MEMBER_NAME_MAX:
        article = "an" if kind[0] in "AEIOU" else "a"
        raise SpecError(
            f"metadata.name: {article} {kind} name must be at most {MEMBER_NAME_MAX} characters "
            "(it is the value of the label app.kubernetes.io/instance on every object "
            "written for it)"
        )


def check_durations(duration: timedelta, renew_before: timedelta | None, field_prefix: str) -> None:
    """duration within [1h, 87600h]; renewBefore positive and at most half of duration."""
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise SpecError(
            f"{field_prefix}duration: must be between 1h and 87600h (ten years), e.g. 8760h; "
            "shorter certificates would be renewed, and pods rolled, too often"
        )
    if renew_before is None:
        return
    if renew_before >= duration:
        raise SpecError(f"{field_prefix}renewBefore: must be shorter than {field_prefix}duration")
    if renew_before <= timedelta(0) or renew_before > duration * RENEW_FRACTION:
        raise SpecError(
            f"{field_prefix}renewBefore: must be more than 0s and at most half of "
            f"{field_prefix}duration (e.g. duration: 8760h, renewBefore: 720h)"
        )


def check_user(user: str, field_path: str = "spec.user") -> None:
    """A certificate common name Java and X.509 carry as is."""
    if not user or len(user) > CN_MAX:
        raise SpecError(f"{field_path}: give 1 to {CN_MAX} characters (an X.509 common name)")
    if any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in user):
        raise SpecError(
            f"{field_path}: must not contain control or format characters (NUL, ESC, newline, "
            "tab, right-to-left override, zero-width characters); write the user's name as text"
        )
    if user != user.strip():
        raise SpecError(f"{field_path}: must not start or end with a space")


def check_password_secret_name(name: str, field_path: str) -> None:
    if name.endswith(OPERATOR_SECRET_SUFFIXES):
        raise SpecError(
            f"{field_path}: {name} is named like a Secret the operator writes (…"
            + ", …".join(OPERATOR_SECRET_SUFFIXES)
            + "); keep your passwords in a Secret of your own with another name"
        )


def check_password(value: str | bytes, what: str) -> str:
    """A keystore or key password as Java reads it (after the trailing newline most tools
    add is stripped); returns the password. The message never contains the password."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise SpecError(f"{what}: {_PASSWORD_RULE}; it has non-ASCII bytes") from None
    value = value.strip()
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise SpecError(f"{what}: {_PASSWORD_RULE}; it has {len(value)} characters")
    if not all(" " <= c <= "~" for c in value):
        raise SpecError(f"{what}: {_PASSWORD_RULE}; it has a control or non-ASCII character")
    return value


_PASSWORD_RULE = (
    f"a password must be {PASSWORD_MIN} to {PASSWORD_MAX} printable ASCII characters "
    "(letters, digits, punctuation, space; no newline, tab or NUL inside)"
)


def check_property(key: str, value: str, field_path: str) -> None:
    if not _PROPERTY_KEY.fullmatch(key):
        raise SpecError(
            f"{field_path}: the key {key!r} must be at most 253 letters, digits, '.', '_' and '-' "
            "(no spaces, tabs, form feeds, '=', ':', '#', '!' or '\\'): Java's Properties.load "
            "would read it differently; rename the key"
        )
    if _CONTROL.search(value):
        raise SpecError(
            f"{field_path}: the value of {key} must not contain control characters (newline, "
            "carriage return, tab, NUL): Java's Properties.load ends a value at a line break"
        )


def check_tls_mount(path: str) -> None:
    if _same_or_under(path, PROPERTIES_MOUNT) or _same_or_under(PROPERTIES_MOUNT, path):
        raise SpecError(
            f"spec.tls.mountPath: must not be {PROPERTIES_MOUNT}, under it or above it: the "
            "operator mounts the pico properties there (e.g. use /etc/pico/tls)"
        )


def check_pod_additions(
    env_names: list[str], volume_names: list[str], mount_paths: list[str], tls_mount: str | None
) -> None:
    """podTemplate additions that would collide with what the operator puts in the pod, or
    with each other (a pod's env, volumes and mounts are maps keyed by name and path)."""
    for field_path, keys in (("env", env_names), ("volumes", volume_names)):
        _unique(keys, f"spec.podTemplate.{field_path}", "name")
    _unique(mount_paths, "spec.podTemplate.volumeMounts", "mountPath")
    for name in env_names:
        if name in OPERATOR_ENV:
            raise SpecError(
                f"spec.podTemplate.env: {name} is set by the operator; remove it from the env list"
            )
    for name in volume_names:
        if name in OPERATOR_VOLUMES:
            raise SpecError(
                f"spec.podTemplate.volumes: the name {name} is the operator's; rename your volume"
            )
    reserved = [PROPERTIES_MOUNT] + ([tls_mount] if tls_mount else [])
    for path in mount_paths:
        for taken in reserved:
            if _same_or_under(path, taken):
                raise SpecError(
                    f"spec.podTemplate.volumeMounts: {path} is at or under {taken}, where the "
                    "operator mounts its own volume; mount yours elsewhere"
                )


def _same_or_under(path: str, directory: str) -> bool:
    clean = posixpath.normpath("/" + path.lstrip("/")).rstrip("/")
    return (clean + "/").startswith(posixpath.normpath(directory).rstrip("/") + "/")


def _unique(keys: list[str], field_path: str, key_name: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise SpecError(f"{field_path}: the {key_name} {key} appears twice; keep one entry")
        seen.add(key)
