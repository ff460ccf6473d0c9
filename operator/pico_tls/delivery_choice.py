"""The delivery choice: in which form a pico container gets its TLS settings.

Parsed from `spec.delivery` of a Platform (inherited by its ExecutionContainers) or of an
ExecutionContainer (replacing the Platform's as a whole). Pure and import-free; the forms
themselves are rendered by `pico_tls.builders.form_content` (their content) and
`pico_tls.builders.pod_delivery` (what a pod gets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class DeliveryError(ValueError):
    """A delivery choice that cannot work; the message says what to fix."""


class DeliveryForm(StrEnum):
    PROPERTIES_FILE = "PropertiesFile"
    ENTRYPOINT_ENV = "EntrypointEnv"
    STARTUP_ARGS = "StartupArgs"
    TOPOLOGY_FILES = "TopologyFiles"


class PasswordEncoding(StrEnum):
    PLAIN = "Plain"
    BASE64 = "Base64"
    PRE_ENCRYPTED = "PreEncrypted"


DEFAULT_ENCODING = {
    DeliveryForm.PROPERTIES_FILE: PasswordEncoding.PLAIN,
    DeliveryForm.ENTRYPOINT_ENV: PasswordEncoding.BASE64,
    DeliveryForm.STARTUP_ARGS: PasswordEncoding.BASE64,
    DeliveryForm.TOPOLOGY_FILES: PasswordEncoding.PLAIN,
}
# Encodings a form cannot carry, and why (the CRD refuses these too).
UNSUPPORTED = {
    (DeliveryForm.PROPERTIES_FILE, PasswordEncoding.PRE_ENCRYPTED): (
        "a properties file cannot refer to your Secret; use StartupArgs or TopologyFiles"
    ),
    (DeliveryForm.ENTRYPOINT_ENV, PasswordEncoding.PLAIN): (
        "that entrypoint base64-encodes TLS_KEYSTORE_PASSWORD itself; use Base64 or StartupArgs"
    ),
    (DeliveryForm.ENTRYPOINT_ENV, PasswordEncoding.PRE_ENCRYPTED): (
        "that entrypoint base64-encodes TLS_KEYSTORE_PASSWORD itself; use StartupArgs"
    ),
}
ENCRYPTED_STORE_PASSWORD_KEY = "keystore.password.encrypted"
ENCRYPTED_KEY_PASSWORD_KEY = "key.password.encrypted"


@dataclass(frozen=True)
class TopologyPaths:
    """Folders the HOCON fragments are mounted in (those of the public EC entrypoint)."""

    common: str = "/etc/config/common"
    container: str = "/etc/config/container"


@dataclass(frozen=True)
class DeliverySpec:
    form: DeliveryForm = DeliveryForm.PROPERTIES_FILE
    password_encoding: PasswordEncoding = PasswordEncoding.PLAIN
    encrypted_password_secret: str | None = None  # PreEncrypted: your Secret's name
    topology: TopologyPaths = TopologyPaths()
    web_ui_tls: bool = False


def _path(raw: Mapping[str, Any], key: str, default: str, field_path: str) -> str:
    value = str(raw.get(key, default))
    if not value.startswith("/") or value == "/":
        raise DeliveryError(f"{field_path}.{key}: must be an absolute folder other than /")
    return value.rstrip("/")


def parse_delivery(raw: Mapping[str, Any] | None, field_path: str) -> DeliverySpec | None:
    """`spec.delivery` as given (None when absent); raises DeliveryError."""
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise DeliveryError(f"{field_path}: must be an object")
    try:
        form = DeliveryForm(raw.get("form", DeliveryForm.PROPERTIES_FILE))
        encoding = PasswordEncoding(raw.get("passwordEncoding", DEFAULT_ENCODING[form]))
    except ValueError as err:
        raise DeliveryError(f"{field_path}: {err}") from None
    reason = UNSUPPORTED.get((form, encoding))
    if reason:
        raise DeliveryError(f"{field_path}: passwordEncoding {encoding} with form {form}: {reason}")
    ref = raw.get("encryptedPasswordSecretRef") or {}
    secret = str(ref["name"]) if isinstance(ref, Mapping) and ref.get("name") else None
    if (encoding is PasswordEncoding.PRE_ENCRYPTED) != (secret is not None):
        raise DeliveryError(
            f"{field_path}.encryptedPasswordSecretRef.name: give it exactly when passwordEncoding "
            f"is PreEncrypted (a Secret with {ENCRYPTED_STORE_PASSWORD_KEY} and "
            f"{ENCRYPTED_KEY_PASSWORD_KEY}, the output of mzsh encryptpassword)"
        )
    topology = raw.get("topology") or {}
    paths = TopologyPaths(
        common=_path(topology, "commonPath", TopologyPaths.common, f"{field_path}.topology"),
        container=_path(
            topology, "containerPath", TopologyPaths.container, f"{field_path}.topology"
        ),
    )
    if paths.common == paths.container:
        raise DeliveryError(f"{field_path}.topology: commonPath and containerPath must differ")
    return DeliverySpec(
        form=form,
        password_encoding=encoding,
        encrypted_password_secret=secret,
        topology=paths,
        web_ui_tls=bool(raw.get("webUiTls", False)),
    )


# -- what each form can carry ---------------------------------------------------------------

# The public entrypoint builds its options with unquoted word splitting.
_ENTRYPOINT_UNSAFE = set(" \t\n\r\f\v'\"$`\\*?[]")


def _hocon_problem(key: str, value: str) -> str | None:
    # HOCON parsers differ on escapes in keys and on rare control escapes (\b, \f, \uXXXX)
    if not key or set(key) & {'"', "\\"} or any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return "a HOCON key cannot be empty or hold quotes, backslashes or control characters"
    if any((ord(c) < 0x20 and c not in "\t\n\r") for c in value):
        return "a HOCON value cannot hold control characters other than tab and new line"
    return None


def carry_problem(form: DeliveryForm, key: str, value: str) -> str | None:
    """Why `form` cannot carry `key=value` unchanged, or None."""
    if form is DeliveryForm.PROPERTIES_FILE:
        return None  # escapes every character
    if form is DeliveryForm.TOPOLOGY_FILES:
        return _hocon_problem(key, value)
    if not key or "=" in key:
        return "a -e argument cannot carry an empty key or an = in a key"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key + value):
        return "an argument cannot carry control characters (new line, NUL, ...)"
    if form is DeliveryForm.ENTRYPOINT_ENV and _ENTRYPOINT_UNSAFE & set(key + value):
        return (
            "the entrypoint word-splits its options: white space, quotes, $, `, \\ and "
            "glob characters cannot pass unchanged"
        )
    return None


OTHER_FORM = "choose another spec.delivery.form"  # `pico-tls keystores` words it its own way


def check_carried(form: DeliveryForm, props: Mapping[str, str], field_path: str) -> None:
    """Raise DeliveryError naming the first property `form` cannot carry."""
    for key, value in sorted(props.items()):
        problem = carry_problem(form, key, value)
        if problem:
            raise DeliveryError(
                f"{field_path}: property {key!r} cannot be delivered as {form}: {problem}; "
                f"change the value or {OTHER_FORM}"
            )


def check_choice(
    choice: DeliverySpec,
    props: Mapping[str, str],
    *,
    keystore_path: str,
    mounted: set[str],
    has_password_secret: bool,
    field_path: str,
) -> None:
    """Refuse what the form cannot carry (`props` and the keystore folder), topology folders
    already `mounted`, or PreEncrypted passwords that would not match the keystores."""
    if choice.form is DeliveryForm.TOPOLOGY_FILES:
        for folder in (choice.topology.common, choice.topology.container):
            if folder in mounted:
                raise DeliveryError(
                    f"{field_path}.delivery.topology: {folder} is already mounted (tls.mountPath, "
                    "the properties folder or podTemplate.volumeMounts); choose another folder"
                )
    carried = {**props, "pico.rcp.tls.keystore": keystore_path}
    check_carried(choice.form, carried, f"{field_path}.properties")
    if choice.password_encoding is PasswordEncoding.PRE_ENCRYPTED and not has_password_secret:
        raise DeliveryError(
            f"{field_path}.delivery.passwordEncoding PreEncrypted: set the Platform's "
            "spec.tls.passwordSecretRef.name too, so every keystore uses the passwords "
            "you encrypted"
        )
