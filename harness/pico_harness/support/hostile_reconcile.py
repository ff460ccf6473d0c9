"""Hostile cases only a reconcile pass can see (no schema or parser does): objects the API
refuses, names that clash with what another resource owns, a CA that cannot issue, passwords
Java would refuse. Each names the resource that must report it (Ready=False with `reason`, a
message containing `message`, one Warning Event) while nothing else is harmed. Run through
the real read -> decide -> apply loop over an in-memory API by
tests/unit/test_hostile_reconcile.py; tests/e2e/test_isolation_live.py, test_drift_live.py and
test_retain_live.py check the API-dependent ones on the local control plane."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pico_harness.support.world import NOW, custom
from pico_tls.pki.certs import cert_to_pem, create_ca, issue_certificate
from pico_tls.pki.keys import KeyAlgorithm, generate_key, key_to_pem

EC = {"key": {"algorithm": "ECDSA"}}
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Refusal:
    code: int
    api_reason: str
    message: str


@dataclass(frozen=True)
class ReconcileCase:
    id: str
    objects: list[dict[str, Any]]
    target: tuple[str, str]  # (kind, name) that reports it
    reason: str
    message: str
    group: str = "mz"  # the platform group reconciled
    first: tuple[str, ...] = ()  # platform groups reconciled before it
    refusals: dict[tuple[str, str], Refusal] = field(default_factory=dict)


def platform(name: str = "mz", **tls: Any) -> dict[str, Any]:
    return custom("Platform", name, {"image": "img", "tls": {**EC, **tls}})


def container(name: str = "ec1", platform_name: str = "mz") -> dict[str, Any]:
    return custom(
        "ExecutionContainer", name, {"platformRef": {"name": platform_name}, "image": "i"}
    )


def desktop(name: str = "alice", **spec: Any) -> dict[str, Any]:
    return custom(
        "DesktopClient", name, {"platformRef": {"name": "mz"}, "user": name, **EC, **spec}
    )


def secret(name: str, owner: dict[str, Any] | None = None, **data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    encoded = {k.replace("_", "."): base64.b64encode(v).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": encoded}


def _ca(start: timedelta, lifetime: timedelta) -> dict[str, Any]:
    key = generate_key(KeyAlgorithm.EC_P256)
    ca = create_ca("user ca", key, duration=lifetime, now=NOW + start)
    return secret("user-ca", tls_crt=cert_to_pem(ca.certificate), tls_key=key_to_pem(key))


def _not_a_ca() -> dict[str, Any]:
    key = generate_key(KeyAlgorithm.EC_P256)
    issuer = create_ca("issuer", generate_key(KeyAlgorithm.EC_P256), duration=DAY * 400, now=NOW)
    leaf = issue_certificate(issuer, key.public_key(), common_name="leaf", duration=DAY, now=NOW)
    return secret("user-ca", tls_crt=cert_to_pem(leaf), tls_key=key_to_pem(key))


def _other(kind: str, name: str, api: str = "apps/v1", owner: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "generation": 1}
    if owner:
        meta["ownerReferences"] = [
            {"kind": "Database", "name": owner, "uid": "x", "controller": True}
        ]
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {}}


def _refused(
    kind: str, name: str, code: int, reason: str, message: str
) -> dict[tuple[str, str], Refusal]:
    return {(kind, name): Refusal(code, reason, message)}


USER_CA: dict[str, Any] = {"trust": {"caSecretRef": {"name": "user-ca"}}}
PASSWORDS: dict[str, Any] = {"passwordSecretRef": {"name": "pw"}}
TOO_LONG = 'ConfigMap "ec1-rcp-tls" is invalid: []: Too long: must have at most 1048576 bytes'
GROUP = [platform(), container()]

RECONCILE_CASES: list[ReconcileCase] = [
    # -- a member whose objects the API refuses is left out (isolation) ----------------------
    ReconcileCase(
        "container-deployment-422",
        [*GROUP, container("bad")],
        ("ExecutionContainer", "bad"),
        "WriteFailed",
        "Deployment bad (422 Invalid)",
        refusals=_refused(
            "Deployment", "bad", 422, "Invalid", "tolerations[0].operator: Unsupported value"
        ),
    ),
    ReconcileCase(
        "container-configmap-over-1mib",
        GROUP,
        ("ExecutionContainer", "ec1"),
        "WriteFailed",
        "Too long: must have at most 1048576 bytes",
        refusals=_refused("ConfigMap", "ec1-rcp-tls", 422, "Invalid", TOO_LONG),
    ),
    ReconcileCase(
        "container-secret-403-policy",
        GROUP,
        ("ExecutionContainer", "ec1"),
        "WriteFailed",
        "(403 Forbidden)",
        refusals=_refused("Secret", "ec1-rcp-tls-state", 403, "Forbidden", "denied by policy"),
    ),
    ReconcileCase(
        "container-deployment-500-webhook",
        GROUP,
        ("ExecutionContainer", "ec1"),
        "WriteFailed",
        "(500 InternalError)",
        refusals=_refused("Deployment", "ec1", 500, "InternalError", "failed calling webhook"),
    ),
    ReconcileCase(
        "desktop-secret-422",
        [*GROUP, desktop()],
        ("DesktopClient", "alice"),
        "WriteFailed",
        "Secret alice-desktop-key-state (422 Invalid)",
        refusals=_refused(
            "Secret",
            "alice-desktop-key-state",
            422,
            "Invalid",
            'metadata.labels: Invalid value: "x": must be no more than 63 characters',
        ),
    ),
    ReconcileCase(
        "platform-statefulset-422",
        GROUP,
        ("Platform", "mz"),
        "WriteFailed",
        "StatefulSet mz (422 Invalid)",
        refusals=_refused("StatefulSet", "mz", 422, "Invalid", "spec.template: Invalid"),
    ),
    ReconcileCase(
        "platform-configmap-over-1mib",
        GROUP,
        ("Platform", "mz"),
        "WriteFailed",
        "Too long",
        refusals=_refused("ConfigMap", "mz-rcp-tls", 422, "Invalid", TOO_LONG),
    ),
    # -- names that clash with what another resource owns --------------------------------------
    ReconcileCase(
        "platform-named-like-older-container",
        [*GROUP, platform("ec1")],
        ("Platform", "ec1"),
        "NameClash",
        "ExecutionContainer ec1 (created earlier)",
        group="ec1",
    ),
    ReconcileCase(
        "container-named-like-older-platform",
        [platform("other"), *GROUP, container("other")],
        ("ExecutionContainer", "other"),
        "NameClash",
        "which Platform other (created earlier) writes too",
    ),
    ReconcileCase(
        "platform-y-beside-older-y-headless",
        [platform("y-headless"), platform("y")],
        ("Platform", "y"),
        "NameClash",
        "Service y-headless, which Platform y-headless",
        group="y",
    ),
    ReconcileCase(
        "desktop-key-secret-made-by-user",
        [*GROUP, secret("alice-desktop-key", x=b"mine"), desktop()],
        ("DesktopClient", "alice"),
        "NameClash",
        "Secret alice-desktop-key, which exists and was not made by the operator",
    ),
    ReconcileCase(
        "container-deployment-made-by-user",
        [_other("Deployment", "ec1"), *GROUP],
        ("ExecutionContainer", "ec1"),
        "NameClash",
        "Deployment ec1, which exists and was not made by the operator",
    ),
    ReconcileCase(
        "platform-service-owned-by-another-resource",
        [_other("Service", "mz", "v1", owner="db"), *GROUP],
        ("Platform", "mz"),
        "NameClash",
        "Service mz, which belongs to Database db",
    ),
    ReconcileCase(
        "platform-ca-secret-made-by-user",
        [secret("mz-ca", x=b"mine"), *GROUP],
        ("Platform", "mz"),
        "NameClash",
        "Secret mz-ca, which exists and was not made by the operator",
    ),
    # -- a CA that cannot issue: refused before any rotation phase ------------------------------
    ReconcileCase(
        "user-ca-expired",
        [_ca(-2 * DAY, DAY), platform(**USER_CA), container()],
        ("Platform", "mz"),
        "CACannotIssue",
        "the CA certificate expired on",
    ),
    ReconcileCase(
        "user-ca-not-yet-valid",
        [_ca(DAY, 10 * DAY), platform(**USER_CA), container()],
        ("Platform", "mz"),
        "CACannotIssue",
        "is not valid before",
    ),
    ReconcileCase(
        "user-ca-expires-within-1h",
        [_ca(-DAY + timedelta(minutes=20), DAY), platform(**USER_CA), container()],
        ("Platform", "mz"),
        "CACannotIssue",
        "within the shortest certificate lifetime",
    ),
    ReconcileCase(
        "user-ca-not-a-ca",
        [_not_a_ca(), platform(**USER_CA), container()],
        ("Platform", "mz"),
        "CAInvalid",
        "not a CA certificate",
    ),
    # -- passwords in the user's Secret ----------------------------------------------------------
    ReconcileCase(
        "password-newline-inside",
        [secret("pw", keystore_password=b"pass\nword1"), platform(**PASSWORDS), container()],
        ("Platform", "mz"),
        "PasswordSecretInvalid",
        "printable ASCII",
    ),
    ReconcileCase(
        "password-not-utf8",
        [secret("pw", keystore_password=b"passw\xf6rd"), platform(**PASSWORDS), container()],
        ("Platform", "mz"),
        "PasswordSecretInvalid",
        "non-ASCII bytes",
    ),
    ReconcileCase(
        "password-secret-missing",
        [platform(**PASSWORDS), container()],
        ("Platform", "mz"),
        "PasswordSecretInvalid",
        "password Secret pw not found",
    ),
    ReconcileCase(
        "password-ref-operators-ca-secret",
        [platform("other"), platform(passwordSecretRef={"name": "other-ca"}), container()],
        ("Platform", "mz"),
        "PasswordSecretInvalid",
        "other-ca is one the operator writes",
        first=("other",),
    ),
    ReconcileCase(
        "desktop-key-password-tab",
        [
            *GROUP,
            secret("pw", keystore_password=b"good-one", key_password=b"bad\tone"),
            desktop(passwordSecretRef={"name": "pw"}),
        ],
        ("DesktopClient", "alice"),
        "InvalidSpec",
        "pw key key.password",
    ),
]
