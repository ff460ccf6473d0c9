"""Revocation never fails open: a member deleted while its group is blocked loses the
Platform's trust at once, by a write of the stored keystore less its pins (decide on the
in-memory API)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from pico_harness.support.world import World, custom
from pico_tls.builders import names
from pico_tls.keystore import StoreOptions, decode_keystore, detect_format
from pico_tls.reconcile.decide import decide
from pico_tls.reconcile.decision import Decision
from pico_tls.reconcile.exclusions import WriteFailure

EC = {"key": {"algorithm": "ECDSA"}}


def group(tls: dict[str, Any] | None = None) -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": {**EC, **(tls or {})}}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    for user in ("alice", "bob"):
        spec = {"platformRef": {"name": "mz"}, "user": user, **EC}
        world.add(custom("DesktopClient", user, spec))
    world.settle()
    return world


def pins(world: World) -> set[str]:
    data = world.secret_data("mz-rcp-tls")
    blob = data.get("keystore.p12") or data["keystore.jks"]
    options = StoreOptions(
        detect_format(blob), data["keystore.password"].decode(), data["key.password"].decode()
    )
    return {alias for alias, _ in decode_keystore(blob, options).trusted}


def template(world: World) -> str:
    meta = world.get("StatefulSet", "mz")["spec"]["template"]["metadata"]
    return str(meta["annotations"][names.MOUNTED_CONTENT])


def corrupt_ca_key(world: World) -> None:
    world.get("Secret", "mz-ca")["data"]["tls.key"] = base64.b64encode(b"garbage").decode()


def invalid_spec(world: World) -> None:
    world.get("Platform", "mz")["spec"]["properties"] = {"pico.rcp.tls.keystore": "/x"}


def bad_password_secret(world: World) -> None:
    world.get("Platform", "mz")["spec"]["tls"]["passwordSecretRef"] = {"name": "missing"}


BLOCKS = {"ca-key": corrupt_ca_key, "spec": invalid_spec, "password": bad_password_secret}


@pytest.mark.parametrize("block", BLOCKS.values(), ids=list(BLOCKS))
def test_a_desktop_deleted_while_blocked_is_revoked_at_once(
    block: Callable[[World], None],
) -> None:
    world = group()
    assert {"desktop-alice", "desktop-bob", "pico-ca"} <= pins(world)
    before = template(world)
    block(world)
    world.reconcile()
    assert world.condition("Platform", "mz", "Ready")["status"] == "False"
    world.delete_collected("DesktopClient", "alice")
    decision = world.reconcile()
    assert "desktop-alice" not in pins(world)
    assert {"desktop-bob", "pico-ca"} <= pins(world)  # the others keep their trust
    assert template(world) != before  # the Platform rolls to drop it
    revoked = [e for e in decision.events if e.reason == "Revoked"]
    assert len(revoked) == 1 and "alice" in revoked[0].message
    assert world.condition("Platform", "mz", "Ready")["status"] == "False"
    world.roll_out()
    assert world.reconcile().writes == []  # once


def test_unblocking_after_a_revocation_rolls_nothing_again() -> None:
    world = group()
    good_key = world.get("Secret", "mz-ca")["data"]["tls.key"]
    corrupt_ca_key(world)
    world.reconcile()
    world.delete_collected("DesktopClient", "alice")
    world.reconcile()
    world.roll_out()
    revoked = template(world)
    world.get("Secret", "mz-ca")["data"]["tls.key"] = good_key  # fixed
    world.settle()
    assert "desktop-alice" not in pins(world)
    assert template(world) == revoked  # the hash a normal pass computes: no second roll
    assert world.condition("Platform", "mz", "Ready")["status"] == "True"


def test_an_unreadable_platform_store_while_blocked_says_who_may_stay_trusted() -> None:
    world = group()
    corrupt_ca_key(world)
    world.get("Secret", "mz-rcp-tls")["data"]["keystore.password"] = base64.b64encode(b"x").decode()
    world.delete_collected("DesktopClient", "alice")
    decision = world.reconcile()
    warnings = [e for e in decision.events if e.reason == "RevocationBlocked"]
    assert len(warnings) == 1 and "may still be trusted" in warnings[0].message


def test_a_ca_secret_that_lost_its_label_is_never_overwritten() -> None:
    world = group()
    ca = world.get("Secret", "mz-ca")
    ca["metadata"]["labels"] = {}
    data = dict(ca["data"])
    decision = world.reconcile()
    assert world.get("Secret", "mz-ca")["data"] == data
    assert "mz-ca" not in [w.name for w in decision.writes]
    ready = world.condition("Platform", "mz", "KeystoreReady")
    assert (ready["status"], ready["reason"]) == ("False", "CASecretUnrecognised")
    assert [e.reason for e in decision.events if e.type == "Warning"] == ["CASecretUnrecognised"]
    assert world.reconcile().events == []  # said once


# -- the Platform itself blocked: a name clash, a refused write ---------------------------

FOREIGN = [{"kind": "Database", "name": "db1", "uid": "db", "controller": True}]


def taken(world: World, kind: str, name: str) -> None:
    """Another controller took one of the Platform's objects: the Platform clashes."""
    world.get(kind, name)["metadata"]["ownerReferences"] = FOREIGN


def refused(world: World, kind: str, name: str) -> Decision:
    """A pass decided again after the API refused the write of `kind` `name` (as group.py
    does), applied to the world."""
    failure = WriteFailure("Platform", "mz", kind, name, 422, "Invalid", "refused")
    return world.apply(decide(world.snapshot(), world.now, failures=[failure]))


def ready(world: World) -> dict[str, Any]:
    return world.condition("Platform", "mz", "Ready")


def test_a_platform_in_a_name_clash_still_revokes_in_its_own_objects() -> None:
    world = group()
    taken(world, "ConfigMap", "mz-rcp-tls")
    world.reconcile()
    assert ready(world)["reason"] == "NameClash"
    world.delete_collected("DesktopClient", "alice")
    decision = world.reconcile()
    assert "desktop-alice" not in pins(world)
    assert {"desktop-bob", "pico-ca"} <= pins(world)
    assert sorted(w.name for w in decision.writes) == ["mz", "mz-rcp-tls"]
    assert [e.reason for e in decision.events] == ["Revoked"]


def test_a_platform_whose_store_is_taken_says_who_it_still_trusts() -> None:
    world = group()
    taken(world, "Secret", "mz-rcp-tls")
    world.delete_collected("DesktopClient", "alice")
    decision = world.reconcile()
    assert decision.writes == []  # never into an object that is not the Platform's
    assert "desktop-alice" in pins(world)
    condition = ready(world)
    assert (condition["status"], condition["reason"]) == ("False", "NameClash")
    assert condition["message"].endswith("the Platform still trusts CN=alice"), condition
    warnings = [e for e in decision.events if e.type == "Warning"]
    assert len(warnings) == 1 and "still trusts CN=alice" in warnings[0].message
    assert world.reconcile().events == []  # said once


def test_a_refused_platform_write_still_revokes() -> None:
    world = group()
    world.delete_collected("DesktopClient", "alice")
    decision = refused(world, "ConfigMap", "mz-rcp-tls")
    assert "desktop-alice" not in pins(world)
    assert sorted(w.name for w in decision.writes) == ["mz", "mz-rcp-tls"]
    assert ready(world)["reason"] == "WriteFailed"


def test_a_refused_write_of_the_store_itself_says_who_is_still_trusted() -> None:
    world = group()
    world.delete_collected("DesktopClient", "alice")
    decision = refused(world, "Secret", "mz-rcp-tls")
    assert decision.writes == []
    assert "desktop-alice" in pins(world)
    condition = ready(world)
    assert (condition["status"], condition["reason"]) == ("False", "WriteFailed")
    assert "the Platform still trusts CN=alice" in condition["message"]
    assert [e.reason for e in decision.events] == ["WriteFailed"]
