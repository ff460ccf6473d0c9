"""Keys made ahead on every core (`reconcile.keysupply`): a pass with prepared keys writes what a
pass that generates them one by one writes, uses the prepared keys, and never replaces a key a
party already holds."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pico_harness.support.world import World, custom
from pico_tls.pki.keys import KeyAlgorithm, generate_key, key_to_pem
from pico_tls.reconcile import keysupply
from pico_tls.reconcile.decide import decide
from pico_tls.reconcile.decision import Write
from pico_tls.reconcile.keysupply import CA_KEY, GENERATE, KeySupply, prepare, wanted_keys

EC = {"key": {"algorithm": "ECDSA"}}


def group(containers: int = 2, desktops: int = 2) -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": {**EC}}))
    for i in range(containers):
        spec: dict[str, Any] = {"platformRef": {"name": "mz"}, "image": "i"}
        world.add(custom("ExecutionContainer", f"ec{i}", spec))
    for i in range(desktops):
        spec = {"platformRef": {"name": "mz"}, "user": f"user {i}"}
        if i == 0:
            spec["key"] = {"algorithm": "ECDSA", "size": 384}
        world.add(custom("DesktopClient", f"d{i}", spec))
    return world


def state_keys(world: World) -> dict[str, bytes]:
    """Every party's private key (PEM) by the Secret that keeps it (CA: tls.key of mz-ca)."""
    out = {"mz-ca": world.secret_data("mz-ca")["tls.key"]}
    for secret in world.of_kind("Secret"):
        name = secret["metadata"]["name"]
        if name.endswith("-state"):
            out[name] = world.secret_data(name)["tls.key"]
    return out


def writes(decision: Any) -> list[str]:
    return [f"{a.kind}/{a.name}" for a in decision.actions if isinstance(a, Write)]


def test_a_first_pass_wants_a_key_for_the_ca_and_every_party_with_its_algorithm() -> None:
    wanted = dict(wanted_keys(group().snapshot()))
    assert wanted == {
        CA_KEY: KeyAlgorithm.EC_P256,
        "platform/mz": KeyAlgorithm.EC_P256,
        "container/ec0": KeyAlgorithm.EC_P256,
        "container/ec1": KeyAlgorithm.EC_P256,
        "desktop/d0": KeyAlgorithm.EC_P384,
        "desktop/d1": KeyAlgorithm.RSA_2048,
    }


def test_prepared_keys_give_the_same_writes_as_serial_generation_and_are_the_keys_used() -> None:
    serial, parallel = group(), group()
    serial_decision = serial.apply(decide(serial.snapshot(), serial.now))
    supply = prepare(wanted_keys(parallel.snapshot()), workers=2)
    parallel_decision = parallel.apply(decide(parallel.snapshot(), parallel.now, keys=supply))
    assert writes(parallel_decision) == writes(serial_decision)
    reasons = [(e.reason, e.message.split(";")[0]) for e in parallel_decision.events]
    assert reasons == [(e.reason, e.message.split(";")[0]) for e in serial_decision.events]
    held = state_keys(parallel)
    assert held.keys() == state_keys(serial).keys()
    made = {owner: key_to_pem(key) for owner, key in supply.prepared.items()}
    assert held == {
        "mz-ca": made[CA_KEY],
        "mz-rcp-tls-state": made["platform/mz"],
        "ec0-rcp-tls-state": made["container/ec0"],
        "ec1-rcp-tls-state": made["container/ec1"],
        "d0-desktop-key-state": made["desktop/d0"],
        "d1-desktop-key-state": made["desktop/d1"],
    }


def test_keys_are_generated_on_the_pool_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[str] = set()

    def recorded(algorithm: KeyAlgorithm) -> Any:
        threads.add(threading.current_thread().name)
        return generate_key(algorithm)

    monkeypatch.setattr(keysupply, "generate_key", recorded)
    prepare([(f"container/ec{i}", KeyAlgorithm.EC_P256) for i in range(8)], workers=2)
    assert threads and all(name.startswith("keygen") for name in threads)


def test_a_settled_group_wants_keys_only_for_its_new_members_and_keeps_every_key() -> None:
    world = group()
    world.settle()
    before = state_keys(world)
    world.add(custom("ExecutionContainer", "ec9", {"platformRef": {"name": "mz"}, "image": "i"}))
    assert wanted_keys(world.snapshot()) == [("container/ec9", KeyAlgorithm.EC_P256)]
    # A supply holding a key for every owner: only the new member's may be used.
    owners = [CA_KEY, "platform/mz", "container/ec0", "container/ec1", "container/ec9"]
    owners += ["desktop/d0", "desktop/d1"]
    everyone = KeySupply({o: generate_key(KeyAlgorithm.EC_P256) for o in owners})
    world.apply(decide(world.snapshot(), world.now, keys=everyone))
    after = state_keys(world)
    assert {k: v for k, v in after.items() if k in before} == before
    assert after["ec9-rcp-tls-state"] == key_to_pem(everyone.prepared["container/ec9"])


def test_a_prepared_key_of_another_algorithm_is_not_used() -> None:
    supply = KeySupply({"container/ec0": generate_key(KeyAlgorithm.EC_P256)})
    key = supply.new_key("container/ec0", KeyAlgorithm.EC_P384)
    assert key is not supply.prepared["container/ec0"]
    assert GENERATE.new_key("x", KeyAlgorithm.EC_P256) is not None


def test_prepare_adds_only_what_the_supply_lacks() -> None:
    first = prepare([("platform/mz", KeyAlgorithm.EC_P256)])
    second = prepare(
        [("platform/mz", KeyAlgorithm.EC_P256), ("container/ec0", KeyAlgorithm.EC_P256)],
        have=first,
    )
    assert second.prepared["platform/mz"] is first.prepared["platform/mz"]
    assert set(second.prepared) == {"platform/mz", "container/ec0"}
