"""Every Ready=False reason the user must act on comes with a Warning Event (docs/install.md's
troubleshooting table lists them): here the member whose Platform does not exist."""

from __future__ import annotations

from pico_harness.support.world import World, custom


def test_a_member_without_its_platform_gets_one_warning_event() -> None:
    world = World()
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    for _ in range(3):
        world.reconcile()
    ready = world.condition("ExecutionContainer", "ec1", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PlatformNotFound")
    warned = [e for e in world.events if e.reason == "PlatformNotFound"]
    assert [e.type for e in warned] == ["Warning"]  # once, not at every pass
    assert "mz" in warned[0].message
