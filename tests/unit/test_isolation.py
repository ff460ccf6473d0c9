"""One member whose objects the API refuses is left out and reported on itself; the Platform
and every other member keep converging (snapshots over an in-memory API, no cluster)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pico_harness.support.world import World, WorldKube, custom
from pico_tls.kube import KubeError
from pico_tls.reconcile.exclusions import redact, retry_delay
from pico_tls.reconcile.group import GroupReconciler, WriteRefused

EC = {"key": {"algorithm": "ECDSA"}}
SECRET_LOOKING = "c2VjcmV0LXBhc3N3b3JkLWluLWJhc2U2NC1mb3Jt"
REFUSED = KubeError(
    "PATCH",
    "/apis/apps/v1/namespaces/ns/deployments/bad",
    422,
    "Unprocessable Entity",
    'Deployment.apps "bad" is invalid: spec.template.spec.tolerations[0].operator: '
    f'Unsupported value: "Bogus"; env[0].value: Invalid value: "{SECRET_LOOKING}": no',
    "Invalid",
)


def container(name: str, **spec: Any) -> dict[str, Any]:
    return custom("ExecutionContainer", name, {"platformRef": {"name": "mz"}, "image": "i", **spec})


class Api:
    """A World behind the real read -> decide -> apply loop (GroupReconciler over WorldKube)."""

    def __init__(self) -> None:
        self.world = World()
        self.world.add(custom("Platform", "mz", {"image": "img", "tls": dict(EC)}))
        self.world.add(container("good"))
        self.world.add(container("bad"))
        spec = {"platformRef": {"name": "mz"}, "user": "alice", **EC}
        self.world.add(custom("DesktopClient", "alice", spec))
        self.kube = WorldKube(self.world)
        self.reconciler = GroupReconciler(self.kube, clock=lambda: self.world.now)  # type: ignore[arg-type]

    def passes(self, count: int = 6) -> None:
        for _ in range(count):
            self.reconciler.reconcile("ns", "mz")
            self.world.roll_out()

    def warnings(self, name: str) -> list[str]:
        return [
            e.message
            for e in self.world.events
            if e.type == "Warning" and e.involved["metadata"]["name"] == name
        ]

    def excluded(self) -> list[dict[str, Any]]:
        return list(self.world.status("Platform", "mz").get("excludedMembers") or [])


@pytest.fixture
def api() -> Api:
    found = Api()
    found.kube.refusals["Deployment", "bad"] = REFUSED
    return found


def test_a_refused_member_is_reported_on_itself_and_the_rest_converges(api: Api) -> None:
    api.passes()
    ready = api.world.condition("ExecutionContainer", "bad", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "WriteFailed")
    assert "Deployment bad (422 Invalid)" in ready["message"]
    assert api.world.condition("Platform", "mz", "Ready")["status"] == "True"
    assert api.world.condition("ExecutionContainer", "good", "Ready")["status"] == "True"
    assert api.world.condition("DesktopClient", "alice", "Ready")["status"] == "True"
    assert api.world.find("Deployment", "good") is not None
    assert api.world.find("Deployment", "bad") is None
    members = api.world.condition("Platform", "mz", "MembersReady")
    assert (members["status"], members["reason"]) == ("False", "MembersExcluded")
    assert "ExecutionContainer bad: WriteFailed" in members["message"]
    [entry] = api.excluded()
    assert (entry["kind"], entry["name"], entry["attempts"]) == ("ExecutionContainer", "bad", 1)
    assert entry["retryAt"] > "2026-06-01T00:00:00Z"
    assert api.world.status("Platform", "mz")["trustedClients"] == 2  # good and alice
    assert len(api.warnings("bad")) == 1, api.warnings("bad")  # one Event, not one per pass


def test_the_refused_message_is_redacted(api: Api) -> None:
    api.passes(2)
    message = api.world.condition("ExecutionContainer", "bad", "Ready")["message"]
    assert SECRET_LOOKING not in message and SECRET_LOOKING not in api.warnings("bad")[0]
    assert "Invalid value: (value not shown)" in message
    assert "Unsupported value" in message  # the API's reason stays readable
    assert SECRET_LOOKING not in redact(SECRET_LOOKING[::-1] + " " + SECRET_LOOKING)


def test_client_auth_and_new_members_go_on_while_one_is_refused(api: Api) -> None:
    api.passes()
    platform = api.world.get("Platform", "mz")
    platform["spec"]["tls"]["requireClientAuth"] = True
    platform["metadata"]["generation"] = 2
    api.world.add(container("late"))
    api.passes(10)
    assert api.world.status("Platform", "mz")["clientAuth"]["phase"] == "Enforced"
    assert api.world.find("Deployment", "late") is not None
    assert [e["name"] for e in api.excluded()] == ["bad"]


def test_a_refused_member_is_retried_with_growing_backoff_then_included(api: Api) -> None:
    api.passes()
    first = api.excluded()[0]
    api.world.advance(seconds=retry_delay(1).total_seconds() + 1)
    api.passes(2)
    second = api.excluded()[0]
    assert second["attempts"] == 2 and second["retryAt"] > first["retryAt"]
    assert len(api.warnings("bad")) == 1  # same failure, same message: no second Event
    assert retry_delay(2) == 2 * retry_delay(1) and retry_delay(30) == timedelta(minutes=10)
    del api.kube.refusals["Deployment", "bad"]
    api.world.advance(seconds=retry_delay(2).total_seconds() + 1)
    api.passes()
    assert api.world.find("Deployment", "bad") is not None
    assert api.world.condition("ExecutionContainer", "bad", "Ready")["status"] == "True"
    assert api.excluded() == []
    assert api.world.condition("Platform", "mz", "MembersReady")["status"] == "True"


def test_a_spec_change_retries_the_member_at_once(api: Api) -> None:
    api.passes()
    del api.kube.refusals["Deployment", "bad"]
    api.passes(2)
    assert api.world.find("Deployment", "bad") is None  # waits for its retry time
    api.world.get("ExecutionContainer", "bad")["metadata"]["generation"] = 2
    api.passes()
    assert api.world.find("Deployment", "bad") is not None
    assert api.excluded() == []


def test_a_refused_platform_write_is_reported_and_backs_off() -> None:
    api = Api()
    api.kube.refusals["StatefulSet", "mz"] = KubeError(
        "PATCH", "/apis/apps/v1/x", 422, "Unprocessable Entity", "spec: Invalid", "Invalid"
    )
    for _ in range(3):
        with pytest.raises(WriteRefused):  # the scheduler retries it with backoff
            api.reconciler.reconcile("ns", "mz")
    ready = api.world.condition("Platform", "mz", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "WriteFailed")
    assert "StatefulSet mz (422 Invalid)" in ready["message"]
    assert len(api.warnings("mz")) == 1
    assert api.world.find("Deployment", "good") is None  # nothing after the refused write


@pytest.mark.parametrize("code", [503, 429])
def test_an_unavailable_api_is_not_blamed_on_the_member(code: int) -> None:
    api = Api()
    api.kube.refusals["Deployment", "bad"] = KubeError("PATCH", "/x", code, "Unavailable")
    with pytest.raises(KubeError):
        api.reconciler.reconcile("ns", "mz")
    assert "excludedMembers" not in api.world.status("Platform", "mz")


def test_a_storage_timeout_is_not_blamed_on_the_member() -> None:
    api = Api()
    api.kube.refusals["Deployment", "bad"] = KubeError(
        "PATCH", "/x", 500, "Internal Server Error", "etcdserver: request timed out"
    )
    with pytest.raises(KubeError):
        api.reconciler.reconcile("ns", "mz")
    assert "excludedMembers" not in api.world.status("Platform", "mz")
