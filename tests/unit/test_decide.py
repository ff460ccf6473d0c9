"""The orchestration of a pass, from snapshots and without a cluster: `decide` on an in-memory
namespace (pico_harness.support.world), pass after pass, with workloads rolled out in between."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from pico_harness.support.world import NOW, World, custom, describe
from pico_tls.builders import names
from pico_tls.keystore import StoreOptions, decode_keystore, detect_format
from pico_tls.pki.certs import certs_from_pem, sha256_fingerprint, signed_by
from pico_tls.reconcile.decision import Decision, Event, StatusPatch

EC = {"key": {"algorithm": "ECDSA"}}


def group(tls: dict[str, Any] | None = None, desktops: bool = True) -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": {**EC, **(tls or {})}}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    if desktops:
        spec = {"platformRef": {"name": "mz"}, "user": "alice", **EC}
        world.add(custom("DesktopClient", "alice", spec))
    return world


def settled(tls: dict[str, Any] | None = None, desktops: bool = True) -> World:
    world = group(tls, desktops)
    world.settle()
    return world


def require_flag(world: World, name: str) -> str:
    text = world.get("ConfigMap", f"{name}-rcp-tls")["data"][names.PROPERTIES_FILE]
    return next(line for line in text.splitlines() if "require_clientauth" in line)


def keys(world: World) -> dict[str, bytes]:
    """Every party's private key (PEM) from its state Secret."""
    return {
        s["metadata"]["name"]: world.secret_data(s["metadata"]["name"])["tls.key"]
        for s in world.of_kind("Secret")
        if s["metadata"]["name"].endswith("-state")
    }


def store(world: World, secret: str) -> tuple[str, dict[str, str]]:
    """(fingerprint of the key entry's certificate, {trusted alias: fingerprint})."""
    data = world.secret_data(secret)
    blob = data.get("keystore.p12") or data["keystore.jks"]
    password = data["keystore.password"].decode()
    options = StoreOptions(detect_format(blob), password, data["key.password"].decode())
    content = decode_keystore(blob, options)
    assert content.key_entry is not None
    leaf = sha256_fingerprint(content.key_entry.chain[0])
    return leaf, {alias: sha256_fingerprint(cert) for alias, cert in content.trusted}


def template(world: World, kind: str, name: str) -> str:
    meta = world.get(kind, name)["spec"]["template"]["metadata"]
    return str(meta["annotations"][names.MOUNTED_CONTENT])


def test_a_first_pass_writes_the_ca_first_then_state_stores_properties_workloads() -> None:
    decision = group().decide()
    assert [f"{w.kind}/{w.name}" for w in decision.writes] == [
        "Secret/mz-ca",
        "Secret/mz-rcp-tls-state",
        "Secret/ec1-rcp-tls-state",
        "Secret/alice-desktop-key-state",
        "Secret/mz-rcp-tls",
        "Secret/ec1-rcp-tls",
        "Secret/alice-desktop-key",
        "ConfigMap/mz-rcp-tls",
        "ConfigMap/ec1-rcp-tls",
        "StatefulSet/mz",
        "Service/mz",
        "Service/mz-headless",
        "Deployment/ec1",
    ]
    assert [(p.kind, p.name) for p in decision.status_patches] == [
        ("Platform", "mz"),
        ("ExecutionContainer", "ec1"),
        ("DesktopClient", "alice"),
    ]
    assert decision.requeue_after == 30.0  # nothing has rolled out yet: the watch says when


def test_a_resync_of_a_settled_group_decides_nothing() -> None:
    world = settled()
    decision = world.decide()
    assert decision.actions == []
    assert decision.requeue_after == 600.0
    assert world.condition("Platform", "mz", "Ready")["status"] == "True"


def test_deciding_twice_from_one_snapshot_writes_nothing_to_it() -> None:
    world = group()
    snapshot = world.snapshot()
    from pico_tls.reconcile.decide import decide

    first = decide(snapshot, world.now)
    second = decide(snapshot, world.now)
    assert describe(first) == describe(second)
    assert snapshot.secrets == {} and snapshot.workloads == {}


def test_client_auth_goes_on_only_after_new_trust_rolled_out_and_off_flag_first() -> None:
    world = settled()
    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = True
    spec = {"platformRef": {"name": "mz"}, "image": "i"}
    world.add(custom("ExecutionContainer", "ec2", spec))  # new trust to distribute first
    phases, flags = [], []
    for _ in range(4):
        world.reconcile()
        phases.append(world.status("Platform", "mz")["clientAuth"]["phase"])
        flags.append(require_flag(world, "mz"))
        if phases[-1] == "PreparingTrust" and len(phases) == 1:
            world.reconcile()  # not rolled out yet: still preparing
            assert world.status("Platform", "mz")["clientAuth"]["phase"] == "PreparingTrust"
        world.roll_out()
    assert phases == ["PreparingTrust", "Enforcing", "Enforced", "Enforced"]
    assert (
        flags
        == ["pico.rcp.tls.require_clientauth=false"] + ["pico.rcp.tls.require_clientauth=true"] * 3
    )
    assert world.condition("Platform", "mz", "ClientAuthEnforced")["status"] == "True"

    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = False
    world.reconcile()
    assert world.status("Platform", "mz")["clientAuth"]["phase"] == "Relaxing"
    assert require_flag(world, "ec1") == "pico.rcp.tls.require_clientauth=false"
    world.roll_out()
    world.reconcile()
    assert world.status("Platform", "mz")["clientAuth"]["phase"] == "Disabled"


def test_client_auth_on_with_trust_in_place_goes_straight_to_enforcing() -> None:
    world = settled()
    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = True
    world.reconcile()
    assert world.status("Platform", "mz")["clientAuth"]["phase"] == "Enforcing"
    assert require_flag(world, "mz") == "pico.rcp.tls.require_clientauth=true"


def test_a_pass_cut_short_after_flipping_the_flag_never_rolls_it_back() -> None:
    """The flip is in status before the workloads are written: if the pass dies after its writes
    (operator killed, apiserver gone), the next one keeps the new flag instead of restoring
    the old one (an extra roll of every pod, twice)."""
    world = settled()
    world.get("Platform", "mz")["spec"]["tls"]["requireClientAuth"] = True
    decision = world.decide()
    kinds = [(type(a).__name__, getattr(a, "kind", None)) for a in decision.actions]
    first_workload = next(
        i for i, k in enumerate(kinds) if k in (("Write", "StatefulSet"), ("Write", "Deployment"))
    )
    early = [a for a in decision.actions[:first_workload] if isinstance(a, StatusPatch)]
    assert [a.status["clientAuth"]["effective"] for a in early] == [True]
    # Apply the writes and only that early status patch, as a pass killed at the end would.
    kept = [a for a in decision.actions if type(a).__name__ != "StatusPatch" or a in early]
    world.apply(Decision(kept))
    world.roll_out()
    world.reconcile()
    assert require_flag(world, "mz") == "pico.rcp.tls.require_clientauth=true"
    assert world.status("Platform", "mz")["clientAuth"]["effective"] is True


def mounted_cas(world: World, secret: str) -> list[str]:
    return [sha256_fingerprint(c) for c in certs_from_pem(world.secret_data(secret)["ca.crt"])]


def issuers_trusted_everywhere(world: World) -> bool:
    """Every mounted certificate's issuer is trusted by every CA-trusting store."""
    mounted = ["mz-rcp-tls", "ec1-rcp-tls"]
    bundles = [certs_from_pem(world.secret_data(s)["ca.crt"]) for s in mounted]
    leaves = [certs_from_pem(world.secret_data(s)["tls.crt"])[0] for s in mounted]
    return all(any(signed_by(leaf, ca) for ca in bundle) for leaf in leaves for bundle in bundles)


def test_a_requested_ca_rotation_trusts_both_reissues_then_drops_the_old_ca() -> None:
    world = settled(desktops=False)
    old_ca = world.secret_data("mz-ca")["tls.crt"]
    old_fp = sha256_fingerprint(certs_from_pem(old_ca)[0])
    before = keys(world)
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    phases, rolls = [], []
    for _ in range(7):
        decision = world.reconcile()
        phases.append((world.status("Platform", "mz").get("caRotation") or {}).get("phase"))
        rolls.append("StatefulSet/mz" in [f"{w.kind}/{w.name}" for w in decision.writes])
        assert issuers_trusted_everywhere(world)
        world.roll_out()
    # Each phase is written in one pass and left once the next pass sees it rolled out.
    assert phases == ["TrustBoth", "Reissue", "Reissue", "DropOld", "DropOld", None, None]
    assert rolls == [True, False, True, False, True, False, False]
    new_fp = sha256_fingerprint(certs_from_pem(world.secret_data("mz-ca")["tls.crt"])[0])
    assert new_fp != old_fp
    assert world.secret_data("mz-ca")["previous.crt"] == old_ca
    assert mounted_cas(world, "mz-rcp-tls") == [new_fp] == mounted_cas(world, "ec1-rcp-tls")
    assert keys(world) == before  # certificates reissued, keys kept
    reasons = [e.reason for e in world.events]
    assert reasons.count("CARenewed") == 1


def test_rotation_holds_its_phase_until_every_workload_ran_it() -> None:
    world = settled(desktops=False)
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    world.reconcile()
    world.reconcile()  # nothing rolled out meanwhile
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "TrustBoth"


def test_the_operator_ca_rotates_by_age_two_thirds_into_its_life() -> None:
    world = settled(desktops=False)
    ca = certs_from_pem(world.secret_data("mz-ca")["tls.crt"])[0]
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    due = ca.not_valid_after_utc - lifetime / 3
    world.now = due - timedelta(days=1)
    world.settle()
    assert "CARenewed" not in [e.reason for e in world.events]
    world.now = due + timedelta(minutes=1)
    decision = world.reconcile()
    renewed = [e for e in decision.events if e.reason == "CARenewed"]
    assert len(renewed) == 1 and "the CA expires on" in renewed[0].message
    assert world.secret_data("mz-ca")["previous.crt"] == ca.public_bytes(
        __import__("cryptography").hazmat.primitives.serialization.Encoding.PEM
    )
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "TrustBoth"


def test_pinned_renewal_is_staged_pinned_by_peers_first_then_promoted() -> None:
    world = settled({"trust": {"mode": "Pinned"}}, desktops=False)
    presented, _ = store(world, "ec1-rcp-tls")
    world.advance(days=365 - 29)  # inside renewBefore (720h) of the one-year certificates
    world.reconcile()
    staged = certs_from_pem(world.secret_data("ec1-rcp-tls-state")[names.NEXT_CERT_KEY])[0]
    assert store(world, "ec1-rcp-tls")[0] == presented  # still presents the old one
    # The platform pins the staged certificate beside the one in use.
    assert store(world, "mz-rcp-tls")[1] == {
        "ec-ec1": presented,
        "ec-ec1-2": sha256_fingerprint(staged),
    }
    world.roll_out()
    decision = world.reconcile()
    assert "CertificatesPromoted" in [e.reason for e in decision.events]
    assert store(world, "ec1-rcp-tls")[0] == sha256_fingerprint(staged)
    # The replaced certificate stays pinned (previous.crt) until it expires.
    assert store(world, "mz-rcp-tls")[1] == {
        "ec-ec1": presented,
        "ec-ec1-2": sha256_fingerprint(staged),
    }
    assert names.NEXT_CERT_KEY not in world.secret_data("ec1-rcp-tls-state")
    assert names.PREVIOUS_CERT_KEY in world.secret_data("ec1-rcp-tls-state")


REPAIRABLE = [
    ("Secret", "mz-rcp-tls"),
    ("Secret", "mz-rcp-tls-state"),
    ("Secret", "ec1-rcp-tls"),
    ("Secret", "ec1-rcp-tls-state"),
    ("Secret", "alice-desktop-key"),
    ("Secret", "alice-desktop-key-state"),
    ("ConfigMap", "mz-rcp-tls"),
    ("ConfigMap", "ec1-rcp-tls"),
    ("StatefulSet", "mz"),
    ("Deployment", "ec1"),
    ("Service", "mz"),
    ("Service", "mz-headless"),
]


@pytest.mark.parametrize(("kind", "name"), REPAIRABLE, ids=[f"{k}/{n}" for k, n in REPAIRABLE])
def test_a_deleted_object_comes_back_alone_with_the_same_keys(kind: str, name: str) -> None:
    world = settled()
    before = keys(world)
    hashes = {n: template(world, k, n) for k, n in (("StatefulSet", "mz"), ("Deployment", "ec1"))}
    world.delete(kind, name)
    decision = world.reconcile()
    assert [f"{w.kind}/{w.name}" for w in decision.writes] == [f"{kind}/{name}"]
    assert keys(world) == before
    assert "KeyLost" not in [e.reason for e in decision.events]
    world.roll_out()
    world.settle()  # status catches up; nothing else is written
    assert keys(world) == before
    assert {
        n: template(world, k, n) for k, n in (("StatefulSet", "mz"), ("Deployment", "ec1"))
    } == hashes


def test_an_edited_mounted_secret_is_restored_and_said_so() -> None:
    world = settled()
    before = world.get("Secret", "ec1-rcp-tls")["data"]["keystore.password"]
    world.get("Secret", "ec1-rcp-tls")["data"]["keystore.password"] = "ZWRpdGVk"
    decision = world.reconcile()
    assert [w.name for w in decision.writes] == ["ec1-rcp-tls"]
    assert [e.reason for e in decision.events] == ["SecretRestored"]
    assert world.get("Secret", "ec1-rcp-tls")["data"]["keystore.password"] == before


def test_a_key_held_nowhere_any_more_is_reported_not_silently_replaced() -> None:
    world = settled()
    old = keys(world)["ec1-rcp-tls-state"]
    world.delete("Secret", "ec1-rcp-tls")
    world.delete("Secret", "ec1-rcp-tls-state")
    decision = world.reconcile()
    lost = [e for e in decision.events if e.reason == "KeyLost"]
    assert [(e.type, e.involved["metadata"]["name"]) for e in lost] == [("Warning", "ec1")]
    assert keys(world)["ec1-rcp-tls-state"] != old


def test_a_deleted_desktop_is_revoked_from_the_platform_store() -> None:
    world = settled()
    alice = world.status("DesktopClient", "alice")["certificateFingerprint"]
    ca = world.status("Platform", "mz")["caFingerprint"]
    assert store(world, "mz-rcp-tls")[1] == {"desktop-alice": alice, "pico-ca": ca}
    before = template(world, "StatefulSet", "mz")
    world.delete("DesktopClient", "alice")
    decision = world.reconcile()
    assert store(world, "mz-rcp-tls")[1] == {"pico-ca": ca}
    assert template(world, "StatefulSet", "mz") != before
    assert "Deployment/ec1" not in describe(decision)  # CA trust: containers untouched


def test_a_deleted_ca_secret_becomes_a_rotation_with_overlap() -> None:
    world = settled(desktops=False)
    old = mounted_cas(world, "mz-rcp-tls")
    world.delete("Secret", "mz-ca")
    decision = world.reconcile()
    assert [e.reason for e in decision.events][:2] == ["CADeleted", "CARotation"]
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "TrustBoth"
    assert mounted_cas(world, "mz-rcp-tls")[1:] == old  # the old CA still trusted


def user_ca_secret(name: str, days: int = 3650) -> dict[str, Any]:
    from pico_tls.pki.certs import cert_to_pem, create_ca
    from pico_tls.pki.keys import KeyAlgorithm, generate_key, key_to_pem

    key = generate_key(KeyAlgorithm.EC_P256)
    ca = create_ca(name, key, duration=timedelta(days=days), now=NOW)  # valid on the World clock
    data = {"tls.crt": cert_to_pem(ca.certificate), "tls.key": key_to_pem(ca.key)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "corp-ca", "namespace": "ns"},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def user_ca_group() -> World:
    """A settled Platform and container whose CA is the user's (Secret corp-ca)."""
    world = World()
    world.add(user_ca_secret("corp CA 1"))
    tls = {**EC, "trust": {"mode": "CertificateAuthority", "caSecretRef": {"name": "corp-ca"}}}
    world.add(custom("Platform", "mz", {"image": "img", "tls": tls}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.settle()
    return world


def test_a_replaced_user_ca_rotates_with_overlap_and_is_never_renewed_by_us() -> None:
    world = user_ca_group()
    assert world.find("Secret", "mz-ca") is None  # the user's CA, not one of ours
    old = mounted_cas(world, "mz-rcp-tls")
    world.add(user_ca_secret("corp CA 2"))
    world.reconcile()
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "TrustBoth"
    assert mounted_cas(world, "mz-rcp-tls")[1:] == old
    world.settle()
    assert mounted_cas(world, "mz-rcp-tls") != old and len(mounted_cas(world, "mz-rcp-tls")) == 1
    assert "CARenewed" not in [e.reason for e in world.events]


def test_a_missing_password_secret_is_reported_and_retried_not_crashed_on() -> None:
    world = World()
    tls = {**EC, "passwordSecretRef": {"name": "nope"}}
    world.add(custom("Platform", "mz", {"image": "img", "tls": tls}))
    decision = world.reconcile()
    # The CA comes first (it needs no password); no keystore is written without its passwords.
    assert [w.name for w in decision.writes] == ["mz-ca"] and decision.requeue_after == 60.0
    ready = world.condition("Platform", "mz", "KeystoreReady")
    assert (ready["status"], ready["reason"]) == ("False", "PasswordSecretInvalid")
    warnings = [e.reason for e in decision.events if e.type == "Warning"]
    assert warnings == ["PasswordSecretInvalid"]
    assert world.reconcile().events == []  # reported once, not on every retry


def test_a_new_member_gets_one_event_for_its_key_and_store() -> None:
    """Under load every request counts: a new party's key, certificate and Secret are told in
    one Event (SecretCreated), not one for the key and one for the Secret."""
    world = settled()
    world.add(custom("ExecutionContainer", "ec2", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.add(custom("DesktopClient", "carol", {"platformRef": {"name": "mz"}, "user": "carol"}))
    decision = world.reconcile()
    for name in ("ec2", "carol"):
        told = [
            (a.reason, a.message)
            for a in decision.actions
            if isinstance(a, Event) and a.involved["metadata"]["name"] == name
        ]
        assert [reason for reason, _ in told] == ["SecretCreated"], told
        assert "key and a certificate valid until" in told[0][1]


def test_a_bulk_of_new_members_is_told_in_one_event_on_the_platform() -> None:
    """More than five new parties in one pass (a bulk apply): one SecretsCreated Event on the
    Platform names them, none goes to each; five or fewer keep theirs (above)."""
    world = settled()
    for n in range(4):
        spec = {"platformRef": {"name": "mz"}, "image": "i"}
        world.add(custom("ExecutionContainer", f"ec-{n}", spec))
        spec = {"platformRef": {"name": "mz"}, "user": f"user{n}"}
        world.add(custom("DesktopClient", f"user{n}", spec))
    decision = world.reconcile()
    told = [(e.involved["metadata"]["name"], e.reason, e.message) for e in decision.events]
    created = [(name, msg) for name, reason, msg in told if reason == "SecretsCreated"]
    assert [name for name, _ in created] == ["mz"]
    assert {name for name, _, _ in told} == {"mz"}, told  # the members get none
    message = created[0][1]
    assert "8 new parties: " in message and "certificate (valid until 20" in message
    for n in range(4):
        assert f"ExecutionContainer ec-{n}" in message and f"DesktopClient user{n}" in message


def test_the_next_rotation_phase_is_asked_for_when_nothing_rolls() -> None:
    """A pass that records the next CA-rotation phase with every workload rolled out gets no
    watch event after it (its own write, nothing rolling): it asks for the next pass itself,
    not the 30 s safety net (which made each phase of a rotation wait ~30 s)."""
    world = user_ca_group()
    world.add(user_ca_secret("corp CA 2"))
    rolling = world.reconcile()  # TrustBoth: stores with both CAs, pods roll
    assert rolling.requeue_after == 30.0  # the rollouts' watch events start the next pass
    world.roll_out()
    advancing = world.reconcile()  # everything runs TrustBoth: Reissue is recorded
    assert world.status("Platform", "mz")["caRotation"]["phase"] == "Reissue"
    assert not [w for w in advancing.writes if w.kind in ("Deployment", "StatefulSet")]
    assert advancing.requeue_after == 1.0
