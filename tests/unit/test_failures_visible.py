"""Every failure of a pass is a condition and one Warning Event per new message, never only a
log line: a CA that cannot issue (refused before any rotation phase), a password Java would
refuse, a password Secret that is the operator's own (snapshots, no cluster)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from pico_harness.support.world import NOW, World, custom
from pico_tls.pki.certs import cert_to_pem, create_ca
from pico_tls.pki.keys import KeyAlgorithm, generate_key, key_to_pem

EC = {"key": {"algorithm": "ECDSA"}}


def ca_secret(name: str, *, start: timedelta, lifetime: timedelta) -> dict[str, Any]:
    key = generate_key(KeyAlgorithm.EC_P256)
    ca = create_ca("user ca", key, duration=lifetime, now=NOW + start)
    data = {"tls.crt": cert_to_pem(ca.certificate), "tls.key": key_to_pem(key)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def password_secret(name: str, **data: bytes) -> dict[str, Any]:
    encoded = {k.replace("_", "."): base64.b64encode(v).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded}


def group(tls: dict[str, Any], *extra: dict[str, Any]) -> World:
    world = World()
    for obj in extra:
        world.add(obj)
    world.add(custom("Platform", "mz", {"image": "img", "tls": {**EC, **tls}}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    return world


def passes(world: World, count: int = 3) -> None:
    for _ in range(count):
        world.reconcile()
        world.roll_out()


def warnings(world: World, reason: str) -> list[str]:
    return [e.message for e in world.events if e.type == "Warning" and e.reason == reason]


USER_CA = {"trust": {"caSecretRef": {"name": "user-ca"}}}
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("start", "lifetime", "expected"),
    [
        (-2 * DAY, DAY, "expired on 2026-05-31"),
        (DAY, 10 * DAY, "is not valid before 2026-06-01T23:55"),
        (-DAY + timedelta(minutes=30), DAY, "within the shortest certificate lifetime"),
    ],
    ids=["expired", "not-yet-valid", "expires-in-30m"],
)
def test_a_ca_that_cannot_issue_is_refused_before_anything(
    start: timedelta, lifetime: timedelta, expected: str
) -> None:
    world = group(USER_CA, ca_secret("user-ca", start=start, lifetime=lifetime))
    passes(world)
    ready = world.condition("Platform", "mz", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "CACannotIssue")
    assert expected in ready["message"] and "user-ca" in ready["message"]
    assert world.condition("Platform", "mz", "KeystoreReady")["status"] == "False"
    assert len(warnings(world, "CACannotIssue")) == 1
    assert world.of_kind("Secret") == [world.get("Secret", "user-ca")]  # nothing written


def test_an_expired_ca_put_into_a_live_ca_secret_starts_no_rotation() -> None:
    world = group(USER_CA, ca_secret("user-ca", start=-DAY, lifetime=400 * DAY))
    world.settle()
    before = world.get("Secret", "mz-rcp-tls")["data"]
    world.add(ca_secret("user-ca", start=-10 * DAY, lifetime=DAY))
    passes(world)
    status = world.status("Platform", "mz")
    assert not status.get("caRotation")
    assert world.condition("Platform", "mz", "Ready")["status"] == "False"
    assert world.get("Secret", "mz-rcp-tls")["data"] == before  # the stores in use stay


BAD_PASSWORDS = {
    "newline": b"pass\nword-inside",
    "nul": b"pass\x00word",
    "non-ascii": "passw\u00f6rd".encode(),
    "not-utf8": b"passw\xf6rd",
    "short": b"12345",
}


@pytest.mark.parametrize("password", BAD_PASSWORDS.values(), ids=list(BAD_PASSWORDS))
def test_a_bad_platform_password_is_reported_never_written(password: bytes) -> None:
    secret = password_secret("mz-passwords", keystore_password=password)
    world = group({"passwordSecretRef": {"name": "mz-passwords"}}, secret)
    passes(world)
    ready = world.condition("Platform", "mz", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PasswordSecretInvalid")
    assert "printable ASCII" in ready["message"]
    assert "mz-passwords key keystore.password" in ready["message"]
    assert password.decode(errors="replace") not in ready["message"]
    assert len(warnings(world, "PasswordSecretInvalid")) == 1
    assert world.find("Secret", "mz-rcp-tls") is None


def test_a_bad_desktop_key_password_leaves_only_that_desktop_out() -> None:
    secret = password_secret(
        "bob-passwords", keystore_password=b"good-password", key_password=b"bad\tone"
    )
    world = group({}, secret)
    spec = {"platformRef": {"name": "mz"}, "user": "bob", **EC}
    world.add(
        custom("DesktopClient", "bob", {**spec, "passwordSecretRef": {"name": "bob-passwords"}})
    )
    world.settle()
    ready = world.condition("DesktopClient", "bob", "Ready")
    assert ready["reason"] == "InvalidSpec" and "key key.password" in ready["message"]
    assert world.condition("Platform", "mz", "Ready")["status"] == "True"
    assert world.find("Secret", "bob-desktop-key") is None
    assert [e["name"] for e in world.status("Platform", "mz")["excludedMembers"]] == ["bob"]


def test_a_password_secret_that_is_the_operators_own_is_refused() -> None:
    world = group({})
    world.settle()
    platform = world.get("Platform", "mz")
    platform["spec"]["tls"]["passwordSecretRef"] = {"name": "mz-ca"}  # no forbidden suffix
    platform["metadata"]["generation"] = 2
    passes(world)
    ready = world.condition("Platform", "mz", "Ready")
    assert ready["reason"] == "PasswordSecretInvalid"
    assert "mz-ca is one the operator writes" in ready["message"]
