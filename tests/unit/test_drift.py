"""Owned workloads edited by hand are put back on the next pass (no edit of the custom resource
needed), and Events say what really happened: a hand edit undone, or a change the operator
made (snapshots, no cluster)."""

from __future__ import annotations

from pico_harness.support.world import World, describe, settled_group
from pico_tls.builders import names


def settled() -> World:
    world = settled_group()
    world.events.clear()
    return world


def messages(world: World, reason: str) -> list[str]:
    return [e.message for e in world.events if e.reason == reason]


def test_kubectl_scale_is_put_back() -> None:
    world = settled()
    world.get("Deployment", "ec1")["spec"]["replicas"] = 3
    decision = world.reconcile()
    assert describe(decision).count("write Deployment/ec1") == 1
    assert world.get("Deployment", "ec1")["spec"]["replicas"] == 1
    [message] = messages(world, "WorkloadRestored")
    assert "spec.replicas (3, wanted 1)" in message and "edited by hand" in message
    world.roll_out()
    assert world.reconcile().writes == []


def test_kubectl_set_image_is_put_back() -> None:
    world = settled()
    container = world.get("StatefulSet", "mz")["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "evil/image:1"
    world.reconcile()
    live = world.get("StatefulSet", "mz")["spec"]["template"]["spec"]["containers"][0]
    assert live["image"] == "img"
    [message] = messages(world, "WorkloadRestored")
    assert "spec.template.spec.containers (images now evil/image:1)" in message


def test_api_defaults_and_other_managers_fields_are_not_drift() -> None:
    world = settled()
    template = world.get("Deployment", "ec1")["spec"]["template"]
    container = template["spec"]["containers"][0]
    container["terminationMessagePath"] = "/dev/termination-log"
    container.setdefault("env", []).append({"name": "ADDED_BY_SOMEONE", "value": "1"})
    for port in container.get("ports") or []:
        port["protocol"] = "TCP"
    template["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = "x"
    world.get("Deployment", "ec1")["spec"]["progressDeadlineSeconds"] = 600
    assert world.reconcile().writes == []


def test_a_platform_renewal_does_not_tell_desktops_they_were_edited() -> None:
    world = settled()
    body = world.get("Platform", "mz")
    body["metadata"].setdefault("annotations", {})[names.RENEW] = "now"
    world.settle()
    desktop = [e.message for e in world.events if e.involved["metadata"]["name"] == "alice"]
    assert desktop, "the desktop's Secret carries platform.crt: it is rewritten"
    assert not any("edited" in m for m in desktop), desktop
    assert not any("import it again in the Desktop Launcher" in m for m in desktop), desktop
    assert any("platform.crt updated; its keystore is unchanged" in m for m in desktop), desktop
    platform = messages(world, "KeystoreUpdated")
    assert any("mz-rcp-tls: certificate renewed" in m for m in platform), platform


def test_a_hand_edited_secret_is_said_to_be_restored() -> None:
    world = settled()
    world.get("Secret", "alice-desktop-key")["data"]["key.password"] = "ZWRpdGVk"
    world.reconcile()
    [message] = messages(world, "SecretRestored")
    assert "alice-desktop-key: restored what the operator wrote (it had been edited)" in message
