"""No private key or password, clear or base64 (as in a manifest), reaches a log line, an
Event or a status: a whole operator pass (read, decide, apply, the handler's log line) over an
in-memory API, with every logger at DEBUG."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from pico_harness.support.world import World, WorldKube, custom
from pico_tls.builders import names
from pico_tls.config import OperatorConfig
from pico_tls.handlers import reconciler_entry
from pico_tls.reconcile.group import GroupReconciler

SECRET_KEYS = ("keystore.password", "key.password", "tls.key", "previous.key")


def secret_strings(world: World, seen: set[str]) -> set[str]:
    """Every Secret value as the API holds it (base64), and each password and key line in
    clear; accumulated over the test, so replaced ones count too."""
    for secret in world.of_kind("Secret"):
        for key, value in (secret.get("data") or {}).items():
            seen.add(value)
            text = base64.b64decode(value).decode(errors="replace")
            if key in SECRET_KEYS or "PRIVATE KEY" in text:
                seen.update(line for line in text.splitlines() if len(line) >= 16)
        for key in ("keystore.p12", "keystore.jks"):
            if key in (secret.get("data") or {}):
                seen.add(secret["data"][key][:64])
    return seen


def test_an_operator_pass_logs_and_reports_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    ec = {"key": {"algorithm": "ECDSA"}}
    world.add(custom("Platform", "mz", {"image": "img", "tls": ec}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.add(custom("DesktopClient", "alice", {"platformRef": {"name": "mz"}, "user": "alice"}))
    kube = WorldKube(world)
    reconciler = GroupReconciler(kube, clock=lambda: world.now)  # type: ignore[arg-type]
    run = reconciler_entry(reconciler, kube, OperatorConfig())  # type: ignore[arg-type]
    seen: set[str] = set()
    caplog.set_level(logging.DEBUG)
    for step in range(8):
        if step == 3:  # a CA rotation and a repair: new keys and passwords meet old ones
            world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
            world.delete("Secret", "ec1-rcp-tls-state")
        if step == 5:
            world.advance(days=340)
        assert run("ns", "mz") is not None
        world.roll_out()
        secret_strings(world, seen)
    assert "reconciled platform ns/mz" in caplog.text  # the logs were captured
    public = {
        "log": caplog.text,
        "events": json.dumps([[e.reason, e.message] for e in world.events]),
        "status": json.dumps([o.get("status") for o in world.of_kind("Platform", "DesktopClient")]),
    }
    leaks = [(where, s[:12]) for s in seen for where, text in public.items() if s in text]
    assert leaks == []
    assert len(seen) > 40  # passwords, keys and stores of three parties and two CAs
