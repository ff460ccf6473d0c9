"""A pass that cannot read its group (403, 5xx) or decide (an unexpected exception) says so
on the Platform: Ready=False with a reason, one Warning Event (the real read -> decide ->
apply loop over the in-memory API)."""

from __future__ import annotations

from typing import Any

import pytest

from pico_harness.support.world import World, WorldKube, custom
from pico_tls.kube import KubeError
from pico_tls.reconcile import group as group_module
from pico_tls.reconcile.group import GroupReconciler

EC = {"key": {"algorithm": "ECDSA"}}


class ForbiddenSecrets(WorldKube):
    def list_objects(self, kind: Any, namespace: str, label_selector: str | None = None) -> list:
        if kind.plural == "secrets":
            raise KubeError(
                "GET",
                "/api/v1/namespaces/ns/secrets",
                403,
                "Forbidden",
                'secrets is forbidden: User "system:serviceaccount:x:y" cannot list',
                "Forbidden",
            )
        return super().list_objects(kind, namespace, label_selector)


def world() -> World:
    found = World()
    found.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    return found


def test_a_forbidden_list_is_a_condition_and_one_warning() -> None:
    w = world()
    reconciler = GroupReconciler(ForbiddenSecrets(w), clock=lambda: w.now)  # type: ignore[arg-type]
    for _ in range(3):
        with pytest.raises(KubeError):
            reconciler.reconcile("ns", "mz")
    ready = w.condition("Platform", "mz", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ReadFailed")
    assert "403 Forbidden" in ready["message"]
    assert [e.reason for e in w.events if e.type == "Warning"] == ["ReadFailed"]


def test_an_unexpected_exception_is_a_condition_and_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = world()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("secret-looking detail c2VjcmV0LXBhc3N3b3Jk")

    monkeypatch.setattr(group_module, "decide", broken)
    reconciler = GroupReconciler(WorldKube(w), clock=lambda: w.now)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            reconciler.reconcile("ns", "mz")
    ready = w.condition("Platform", "mz", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InternalError")
    assert "ZeroDivisionError" in ready["message"] and "c2Vj" not in ready["message"]
    assert [e.reason for e in w.events if e.type == "Warning"] == ["InternalError"]
