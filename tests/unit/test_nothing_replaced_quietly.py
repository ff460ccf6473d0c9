"""Nothing replaced quietly: a lost state Secret keeps every pin a desktop relies on (decide
on the in-memory API)."""

from __future__ import annotations

from pico_harness.support.world import World, custom
from pico_tls.builders import names
from pico_tls.keystore import StoreOptions, decode_keystore, detect_format
from pico_tls.pki.certs import sha256_fingerprint

EC = {"key": {"algorithm": "ECDSA"}}


def trusted(world: World) -> dict[str, str]:
    data = world.secret_data("mz-rcp-tls")
    blob = data.get("keystore.p12") or data["keystore.jks"]
    options = StoreOptions(
        detect_format(blob), data["keystore.password"].decode(), data["key.password"].decode()
    )
    return {a: sha256_fingerprint(c) for a, c in decode_keystore(blob, options).trusted}


def renewed_desktop() -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    spec = {"platformRef": {"name": "mz"}, "user": "alice", **EC}
    world.add(custom("DesktopClient", "alice", spec))
    world.settle()
    world.advance(days=365 - 29)  # inside renewBefore: staged, then promoted
    world.settle()
    assert names.PREVIOUS_CERT_KEY in world.secret_data("alice-desktop-key-state")
    assert {"desktop-alice", "desktop-alice-2"} <= set(trusted(world))
    return world


def test_a_lost_state_secret_keeps_the_pin_of_the_certificate_a_renewal_replaced() -> None:
    world = renewed_desktop()
    before = trusted(world)
    template = world.get("StatefulSet", "mz")["spec"]["template"]
    world.delete("Secret", "alice-desktop-key-state")
    decision = world.reconcile()
    assert trusted(world) == before  # the imported, replaced certificate still works
    assert world.get("StatefulSet", "mz")["spec"]["template"] == template  # no roll
    assert [w.name for w in decision.writes] == ["alice-desktop-key-state"]
    assert names.PREVIOUS_CERT_KEY in world.secret_data("alice-desktop-key-state")


def group() -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.settle()
    return world


def test_a_ca_secret_deleted_while_in_use_is_a_warning() -> None:
    world = group()
    world.delete("Secret", "mz-ca")
    decision = world.reconcile()
    warnings = [e.reason for e in decision.events if e.type == "Warning"]
    assert warnings == ["CADeleted"]
    progressing = world.condition("Platform", "mz", "Progressing")
    assert progressing["reason"] == "CARotationTrustBoth"


def test_an_older_ca_restored_from_a_backup_is_a_warning() -> None:
    import copy

    world = group()
    backup = copy.deepcopy(world.get("Secret", "mz-ca"))
    world.advance(days=1)
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    world.settle()
    assert world.get("Secret", "mz-ca")["data"]["tls.crt"] != backup["data"]["tls.crt"]
    world.objects["Secret", "mz-ca"] = backup  # a restore of the old CA Secret
    decision = world.reconcile()
    warnings = [e for e in decision.events if e.type == "Warning"]
    assert [e.reason for e in warnings] == ["CAOlderRestored"]
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "TrustBoth"


def test_desktop_users_are_told_to_reimport_when_trust_both_starts() -> None:
    world = renewed_desktop()
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    decision = world.reconcile()
    told = [e for e in decision.events if e.reason == "ReimportKey"]
    assert [e.involved["metadata"]["name"] for e in told] == ["alice"]
    assert "alice-desktop-key" in told[0].message
    cas = world.secret_data("alice-desktop-key")["ca.crt"]
    assert cas.count(b"BEGIN CERTIFICATE") == 2  # the store to import trusts both CAs
