"""Phases survive a lost status: a CA rotation and a client-auth flip are recorded in the
Platform's state Secret before any content of the phase, so a wiped, stale or unwritten
status neither skips a phase nor rolls a flag back (decide on the in-memory API)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from pico_harness.support.world import World, custom
from pico_tls.builders import names
from pico_tls.pki.certs import certs_from_pem, sha256_fingerprint, signed_by
from pico_tls.reconcile.decision import Decision, StatusPatch

EC = {"key": {"algorithm": "ECDSA"}}
MOUNTED = ("mz-rcp-tls", "ec1-rcp-tls")


def settled_group(tls: dict[str, Any] | None = None) -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": {**EC, **(tls or {})}}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.settle()
    return world


def bundle(world: World, secret: str) -> list[str]:
    return [sha256_fingerprint(c) for c in certs_from_pem(world.secret_data(secret)["ca.crt"])]


def trusted_by_running_pods(world: World, running: dict[str, list[str]]) -> bool:
    """Every leaf now mounted is issued by a CA that the pods still running (whose trust is
    `running`: workload's Secret -> its ca.crt fingerprints when they started) trust."""
    leaves = [certs_from_pem(world.secret_data(s)["tls.crt"])[0] for s in MOUNTED]
    cas = {
        sha256_fingerprint(c): c
        for s in MOUNTED
        for c in certs_from_pem(world.secret_data(s)["ca.crt"])
    }
    cas |= {sha256_fingerprint(c): c for c in _all_cas(world)}
    for trust in running.values():
        for leaf in leaves:
            if not any(fp in cas and signed_by(leaf, cas[fp]) for fp in trust):
                return False
    return True


def _all_cas(world: World) -> list[Any]:
    data = world.secret_data("mz-ca")
    return [*certs_from_pem(data["tls.crt"]), *certs_from_pem(data.get("previous.crt", b""))]


def rotate(world: World, lose: Callable[[World], None], passes: int = 12) -> list[str | None]:
    """Rotate the CA; `lose` tampers with the Platform's status after every pass. The pods
    keep the trust they started with until they roll (roll_out). Returns the phases the
    durable record held after each pass."""
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    running = {s: bundle(world, s) for s in MOUNTED}
    phases = []
    for _ in range(passes):
        world.reconcile()
        lose(world)
        # New leaves are trusted by the pods still running the old template, and the pods
        # that start now trust the leaves still in use.
        assert trusted_by_running_pods(world, running)
        world.roll_out()
        running = {s: bundle(world, s) for s in MOUNTED}
        assert trusted_by_running_pods(world, running)
        phases.append((world.status("Platform", "mz").get("caRotation") or {}).get("phase"))
    return phases


def wipe(world: World) -> None:
    world.get("Platform", "mz").pop("status", None)


def test_status_wiped_during_trust_both_keeps_both_cas_and_the_old_leaves() -> None:
    world = settled_group()
    old = bundle(world, "mz-rcp-tls")
    old_leaf = world.secret_data("ec1-rcp-tls")["tls.crt"]
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    world.reconcile()  # TrustBoth written; the pods still run the pre-rotation template
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "TrustBoth"
    wipe(world)
    world.reconcile()
    for secret in MOUNTED:
        assert bundle(world, secret)[1:] == old  # the old CA still trusted
    assert world.secret_data("ec1-rcp-tls")["tls.crt"] == old_leaf  # not reissued yet
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "TrustBoth"


def test_a_rotation_with_status_wiped_after_every_pass_completes_in_order() -> None:
    world = settled_group()
    old = bundle(world, "mz-rcp-tls")
    rotate(world, wipe)
    world.settle()
    new = sha256_fingerprint(certs_from_pem(world.secret_data("mz-ca")["tls.crt"])[0])
    assert bundle(world, "mz-rcp-tls") == [new] == bundle(world, "ec1-rcp-tls")
    assert new not in old
    leaf = certs_from_pem(world.secret_data("ec1-rcp-tls")["tls.crt"])[0]
    assert signed_by(leaf, certs_from_pem(world.secret_data("mz-ca")["tls.crt"])[0])


def test_status_patches_that_never_land_skip_no_phase() -> None:
    world = settled_group()
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    running = {s: bundle(world, s) for s in MOUNTED}
    phases = []
    for _ in range(10):
        decision = world.decide()
        kept = [
            a for a in decision.actions if not (isinstance(a, StatusPatch) and a.kind == "Platform")
        ]
        world.apply(Decision(kept))
        assert trusted_by_running_pods(world, running)
        world.roll_out()
        running = {s: bundle(world, s) for s in MOUNTED}
        phases.append(recorded_phase(world))
    assert phases[:6] == ["TrustBoth", "Reissue", "Reissue", "DropOld", "DropOld", None]
    assert len(bundle(world, "mz-rcp-tls")) == 1


def test_a_restored_older_status_rolls_no_phase_back() -> None:
    world = settled_group()
    before = copy.deepcopy(world.status("Platform", "mz"))
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    world.reconcile()
    world.roll_out()
    world.reconcile()  # TrustBoth ran everywhere: Reissue next
    world.roll_out()
    world.reconcile()  # Reissue written
    assert recorded_phase(world) == "Reissue"
    world.get("Platform", "mz")["status"] = copy.deepcopy(before)  # a backup from before
    world.reconcile()
    assert recorded_phase(world) == "Reissue"
    assert len(bundle(world, "mz-rcp-tls")) == 2  # both still trusted
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "Reissue"


def recorded_phase(world: World) -> str | None:
    import json

    record = json.loads(world.secret_data("mz-rcp-tls-state")[names.PHASES_KEY])
    phase = (record.get("caRotation") or {}).get("phase")
    return None if phase is None else str(phase)


def require_flag(world: World, name: str) -> str:
    text = world.get("ConfigMap", f"{name}-rcp-tls")["data"][names.PROPERTIES_FILE]
    return next(line for line in text.splitlines() if "require_clientauth" in line)


def test_a_client_auth_flip_survives_a_wiped_status() -> None:
    world = settled_group()
    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = True
    world.reconcile()
    assert require_flag(world, "mz") == "pico.rcp.tls.require_clientauth=true"
    world.roll_out()
    wipe(world)
    decision = world.reconcile()
    assert require_flag(world, "mz") == "pico.rcp.tls.require_clientauth=true"
    assert not [w for w in decision.writes if w.kind in ("StatefulSet", "Deployment")]
    assert world.status("Platform", "mz")["clientAuth"]["phase"] == "Enforced"


def test_relaxing_survives_a_wiped_status() -> None:
    world = settled_group({"requireClientAuth": True})
    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = False
    world.reconcile()
    wipe(world)
    world.roll_out()
    decision = world.reconcile()
    assert require_flag(world, "mz") == "pico.rcp.tls.require_clientauth=false"
    assert not [w for w in decision.writes if w.kind in ("StatefulSet", "Deployment")]


def test_a_desktop_being_deleted_is_no_longer_pinned() -> None:
    """The in-memory API reads through the production snapshot reader: a resource with a
    deletionTimestamp (a finalizer of someone else's still pending) is revoked at once."""
    world = settled_group()
    spec = {"platformRef": {"name": "mz"}, "user": "alice", **EC}
    world.add(custom("DesktopClient", "alice", spec))
    world.settle()
    assert "desktop-alice" in platform_pins(world)
    world.get("DesktopClient", "alice")["metadata"]["deletionTimestamp"] = "2026-06-01T01:00:00Z"
    world.reconcile()
    assert "desktop-alice" not in platform_pins(world)


def platform_pins(world: World) -> set[str]:
    from pico_tls.keystore import StoreOptions, decode_keystore, detect_format

    data = world.secret_data("mz-rcp-tls")
    blob = data.get("keystore.p12") or data["keystore.jks"]
    options = StoreOptions(
        detect_format(blob), data["keystore.password"].decode(), data["key.password"].decode()
    )
    return {alias for alias, _ in decode_keystore(blob, options).trusted}


FOREIGN = [("Secret", "ec1-rcp-tls"), ("Secret", "mz-rcp-tls-state"), ("ConfigMap", "ec1-rcp-tls")]


@pytest.mark.parametrize(("kind", "name"), FOREIGN, ids=[f"{k}/{n}" for k, n in FOREIGN])
def test_a_data_key_another_manager_adds_causes_no_write_loop(kind: str, name: str) -> None:
    world = settled_group()
    obj = world.get(kind, name)
    obj["data"]["backup.note"] = "dGFnZ2VkIGJ5IGEgYmFja3VwIHRvb2w="
    obj["metadata"]["managedFields"].append(
        {
            "manager": "backup-tool",
            "operation": "Update",
            "fieldsV1": {"f:data": {"f:backup.note": {}}},
        }
    )
    writes = 0
    for _ in range(4):
        writes += len(world.reconcile().writes)
        world.roll_out()
    assert writes <= 1
    assert world.get(kind, name)["data"]["backup.note"]  # theirs, kept


def issuer_fp(world: World, secret: str) -> str:
    leaf = certs_from_pem(world.secret_data(secret)["tls.crt"])[0]
    data = world.secret_data("mz-ca")
    for ca in (*certs_from_pem(data["tls.crt"]), *certs_from_pem(data.get("previous.crt", b""))):
        if signed_by(leaf, ca):
            return sha256_fingerprint(ca)
    raise AssertionError("issuer unknown")


def test_certificates_issued_during_trust_both_come_from_the_old_ca() -> None:
    """A new member and a requested renewal during TrustBoth: the pods still running the
    pre-rotation template trust only the old CA, so the old CA issues until Reissue."""
    world = settled_group()
    old = bundle(world, "mz-rcp-tls")[0]
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    world.reconcile()  # TrustBoth written, nothing rolled out yet
    spec = {"platformRef": {"name": "mz"}, "image": "i"}
    world.add(custom("ExecutionContainer", "ec2", spec))
    world.get("ExecutionContainer", "ec1")["metadata"]["annotations"] = {names.RENEW: "1"}
    before = world.secret_data("ec1-rcp-tls")["tls.crt"]
    world.reconcile()
    assert issuer_fp(world, "ec2-rcp-tls") == old
    assert world.secret_data("ec1-rcp-tls")["tls.crt"] != before  # renewed, by the old CA
    assert issuer_fp(world, "ec1-rcp-tls") == old
    world.roll_out()
    world.settle()
    new = bundle(world, "mz-rcp-tls")[0]
    assert new != old
    assert issuer_fp(world, "ec2-rcp-tls") == new == issuer_fp(world, "ec1-rcp-tls")
