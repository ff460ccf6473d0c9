"""What a pod gets for its delivery form: environment, arguments, volumes and mounts.

Passwords reach the pod only through `secretKeyRef` environment variables; arguments and
HOCON fragments refer to those variables, so no pod spec or ConfigMap holds a password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pico_tls.builders import form_content, names
from pico_tls.builders.form_content import KEY, STORE, PicoSettings
from pico_tls.delivery_choice import (
    ENCRYPTED_KEY_PASSWORD_KEY,
    ENCRYPTED_STORE_PASSWORD_KEY,
    DeliveryForm,
    DeliverySpec,
    PasswordEncoding,
)

PASSWORD_ENV = {STORE: "PICO_RCP_TLS_KEYSTORE_PASSWORD", KEY: "PICO_RCP_TLS_KEY_PASSWORD"}
PROPERTIES_FILES_ENV = "PICO_PROPERTIES_FILES"
_SECRET_KEYS = {
    PasswordEncoding.PLAIN: {STORE: names.STORE_PASSWORD_KEY, KEY: names.KEY_PASSWORD_KEY},
    PasswordEncoding.BASE64: {
        STORE: names.STORE_PASSWORD_BASE64_KEY,
        KEY: names.KEY_PASSWORD_BASE64_KEY,
    },
    PasswordEncoding.PRE_ENCRYPTED: {
        STORE: ENCRYPTED_STORE_PASSWORD_KEY,
        KEY: ENCRYPTED_KEY_PASSWORD_KEY,
    },
}
_SECRET_FILES = {
    PasswordEncoding.PLAIN: (names.SECRET_PROPERTIES_FILE, names.HTTPD_SECRET_PROPERTIES_FILE),
    PasswordEncoding.BASE64: (
        names.BASE64_SECRET_PROPERTIES_FILE,
        names.HTTPD_BASE64_SECRET_PROPERTIES_FILE,
    ),
}


@dataclass
class PodDelivery:
    env: list[dict[str, Any]] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)


def _secret_env(variable: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _password_env(
    choice: DeliverySpec, tls_secret: str, names_by_slot: Mapping[str, str], plain: bool = False
) -> list[dict[str, Any]]:
    encoding = PasswordEncoding.PLAIN if plain else choice.password_encoding
    secret = tls_secret
    if encoding is PasswordEncoding.PRE_ENCRYPTED and choice.encrypted_password_secret:
        secret = choice.encrypted_password_secret  # your Secret, not the operator's
    keys = _SECRET_KEYS[encoding]
    return [_secret_env(names_by_slot[slot], secret, keys[slot]) for slot in (STORE, KEY)]


def _configmap_volume(name: str, configmap: str, key: str) -> dict[str, Any]:
    return {"name": name, "configMap": {"name": configmap, "items": [{"key": key, "path": key}]}}


def _mount(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "mountPath": path, "readOnly": True}


def _pod_properties_file(
    s: PicoSettings, choice: DeliverySpec, tls_secret: str | None, mount_path: str, configmap: str
) -> PodDelivery:
    out = PodDelivery(
        volumes=[{"name": "pico-properties", "configMap": {"name": configmap}}],
        mounts=[_mount("pico-properties", names.PROPERTIES_MOUNT)],
    )
    files = [f"{names.PROPERTIES_MOUNT}/{names.PROPERTIES_FILE}"]
    if tls_secret is not None and s.passwords:
        out.env += _password_env(choice, tls_secret, PASSWORD_ENV)
        rcp_file, httpd_file = _SECRET_FILES[choice.password_encoding]
        files.append(f"{mount_path}/{rcp_file}")
        if set(form_content.HTTPD_PASSWORDS) & set(s.passwords):
            files.append(f"{mount_path}/{httpd_file}")
    out.env.append({"name": PROPERTIES_FILES_ENV, "value": ":".join(files)})
    return out


def _pod_entrypoint_env(
    s: PicoSettings, choice: DeliverySpec, tls_secret: str | None
) -> PodDelivery:
    out = PodDelivery(args=form_content.entrypoint_args(s, literal=form_content.kubernetes_literal))
    out.env = [
        {"name": k, "value": form_content.kubernetes_literal(v)}
        for k, v in form_content.entrypoint_env(s).items()
    ]
    if tls_secret is not None and s.passwords:  # plain: the entrypoint base64-encodes them
        out.env += _password_env(
            choice, tls_secret, form_content.ENTRYPOINT_PASSWORD_ENV, plain=True
        )
    return out


def _pod_startup_args(s: PicoSettings, choice: DeliverySpec, tls_secret: str | None) -> PodDelivery:
    out = PodDelivery(
        args=form_content.startup_args(
            s, lambda slot: f"$({PASSWORD_ENV[slot]})", literal=form_content.kubernetes_literal
        )
    )
    if tls_secret is not None and s.passwords:
        out.env = _password_env(choice, tls_secret, PASSWORD_ENV)
    return out


def _pod_topology_files(
    s: PicoSettings, choice: DeliverySpec, tls_secret: str | None, configmap: str
) -> PodDelivery:
    out = PodDelivery()
    if tls_secret is not None and s.passwords:
        out.env = _password_env(choice, tls_secret, PASSWORD_ENV)
    for volume, key, path in (
        ("pico-topology-common", form_content.CELL_FILE, choice.topology.common),
        ("pico-topology-container", form_content.CONTAINER_FILE, choice.topology.container),
    ):
        out.volumes.append(_configmap_volume(volume, configmap, key))
        out.mounts.append(_mount(volume, path))
    return out


def topology_configmap_data(s: PicoSettings) -> dict[str, str]:
    """The HOCON fragments of a pod, passwords as environment substitutions."""
    return form_content.topology_files(
        s,
        lambda slot: form_content.hocon_env(PASSWORD_ENV[slot]),
        how="environment substitutions from a Secret",
    )


def pod_delivery(
    s: PicoSettings, choice: DeliverySpec, tls_secret: str | None, mount_path: str, configmap: str
) -> PodDelivery:
    """Env, args, volumes and mounts of one pod for its delivery form (the keystore Secret
    itself is mounted by the caller)."""
    if choice.form is DeliveryForm.ENTRYPOINT_ENV:
        return _pod_entrypoint_env(s, choice, tls_secret)
    if choice.form is DeliveryForm.STARTUP_ARGS:
        return _pod_startup_args(s, choice, tls_secret)
    if choice.form is DeliveryForm.TOPOLOGY_FILES:
        return _pod_topology_files(s, choice, tls_secret, configmap)
    return _pod_properties_file(s, choice, tls_secret, mount_path, configmap)
