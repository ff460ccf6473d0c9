"""Metrics: the samples a pass derives from its Decision and snapshot (pure), the registry that
applies them (series of deleted resources removed), API request and reconcile counting, and a
scrape that carries no Secret value."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pico_harness.support.leaks import find_leaks, sensitive_in
from pico_harness.support.world import World, custom
from pico_tls.builders import names
from pico_tls.config import OperatorConfig
from pico_tls.handlers import reconciler_entry
from pico_tls.kube import Kube, KubeError
from pico_tls.metrics import Metrics
from pico_tls.pki.certs import certs_from_pem
from pico_tls.reconcile import samples as s
from pico_tls.reconcile.samples import group_samples

EXPORTED = {
    "picotls_certificate_expiration_timestamp_seconds",
    "picotls_certificate_renewal_timestamp_seconds",
    "picotls_certificate_ready_status",
    "picotls_client_auth_phase",
    "picotls_ca_rotation_phase",
    "picotls_reconcile_total",
    "picotls_reconcile_duration_seconds",
    "picotls_api_requests_total",
    "picotls_leader_status",
}


def settled_world() -> World:
    world = World()
    ec = {"key": {"algorithm": "ECDSA"}}
    world.add(custom("Platform", "mz", {"image": "img", "tls": ec}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.add(custom("DesktopClient", "alice", {"platformRef": {"name": "mz"}, "user": "alice"}))
    world.settle()
    return world


def values(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, parsed as Prometheus parses it."""
    out = {}
    for family in text_string_to_metric_families(metrics.scrape()):
        for sample in family.samples:
            out[sample.name, frozenset(sample.labels.items())] = sample.value
    return out


def cert_labels(kind: str, name: str) -> frozenset[tuple[str, str]]:
    return frozenset({"namespace": "ns", "name": name, "kind": kind}.items())


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_expiry_and_renewal_of_every_kind_and_the_ca_come_from_status() -> None:
    world = settled_world()
    metrics = Metrics()
    metrics.record_group(("ns", "mz"), group_samples(world.snapshot(), world.decide()))
    got = values(metrics)
    for kind, name in (
        ("Platform", "mz"),
        ("ExecutionContainer", "ec1"),
        ("DesktopClient", "alice"),
    ):
        status = world.status(kind, name)
        assert got[s.EXPIRATION, cert_labels(kind, name)] == stamp(status["notAfter"])
        assert got[s.RENEWAL, cert_labels(kind, name)] == stamp(status["renewalTime"])
        ready = cert_labels(kind, name) | {("condition", "True")}
        assert got[s.READY, ready] == 1.0
        assert got[s.READY, cert_labels(kind, name) | {("condition", "False")}] == 0.0
    ca = certs_from_pem(world.secret_data("mz-ca")["tls.crt"])[0]
    assert got[s.EXPIRATION, cert_labels("CA", "mz")] == ca.not_valid_after_utc.timestamp()
    life = ca.not_valid_after_utc - ca.not_valid_before_utc
    renew = (ca.not_valid_after_utc - life / 3).timestamp()
    assert got[s.RENEWAL, cert_labels("CA", "mz")] == renew
    phase = frozenset({"namespace": "ns", "name": "mz", "phase": "Disabled"}.items())
    assert got[s.CLIENT_AUTH_PHASE, phase] == 1.0


def test_a_pass_that_patches_no_status_reports_the_status_as_it_stands() -> None:
    world = settled_world()
    decision = world.decide()
    assert not decision.status_patches
    samples = group_samples(world.snapshot(), decision)
    expiry = [x for x in samples if x.metric == s.EXPIRATION]
    assert len(expiry) == 4


def test_a_renewal_moves_the_expiry_in_the_same_pass() -> None:
    world = settled_world()
    before = world.status("Platform", "mz")["notAfter"]
    world.advance(days=200)
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.RENEW: "1"}
    snapshot = world.snapshot()
    decision = world.decide()
    samples = {(x.metric, x.labels): x.value for x in group_samples(snapshot, decision)}
    labels = tuple(sorted({"namespace": "ns", "name": "mz", "kind": "Platform"}.items()))
    assert samples[s.EXPIRATION, labels] > stamp(before)


def rotation_phases(metrics: Metrics) -> dict[str, float]:
    return {
        dict(labels)["phase"]: value
        for (name, labels), value in values(metrics).items()
        if name == s.CA_ROTATION_PHASE
    }


def test_a_ca_rotation_shows_its_phase_and_none_once_done() -> None:
    world = settled_world()
    metrics = Metrics()
    world.get("Platform", "mz")["metadata"]["annotations"] = {names.ROTATE_CA: "1"}
    seen = []
    for _ in range(8):
        snapshot = world.snapshot()
        decision = world.apply(world.decide())
        metrics.record_group(("ns", "mz"), group_samples(snapshot, decision))
        phases = rotation_phases(metrics)
        seen.append(next((p for p, v in phases.items() if v == 1.0), None))
        world.roll_out()
    assert seen[0] == "TrustBoth" and "Reissue" in seen and "DropOld" in seen
    assert seen[-1] is None
    assert set(rotation_phases(metrics)) == {"TrustBoth", "Reissue", "DropOld"}


def test_series_of_a_deleted_member_and_of_a_deleted_platform_are_removed() -> None:
    world = settled_world()
    metrics = Metrics()
    metrics.record_group(("ns", "mz"), group_samples(world.snapshot(), world.decide()))
    alice = cert_labels("DesktopClient", "alice")
    assert (s.EXPIRATION, alice) in values(metrics)
    world.delete_collected("DesktopClient", "alice")
    metrics.record_group(("ns", "mz"), group_samples(world.snapshot(), world.apply(world.decide())))
    got = values(metrics)
    assert (s.EXPIRATION, alice) not in got
    assert not [k for k in got if k[0] == s.READY and ("name", "alice") in k[1]]
    assert (s.EXPIRATION, cert_labels("Platform", "mz")) in got
    world.delete_collected("Platform", "mz")
    assert group_samples(world.snapshot(), world.decide()) == ()
    metrics.record_group(("ns", "mz"), ())
    assert not [k for k in values(metrics) if ("namespace", "ns") in k[1]]


class FakeResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.reason, self._body = status, "Reason", body

    def read(self) -> bytes:
        return self._body


class FakeClient:
    """The two calls Kube makes on the kubernetes ApiClient."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses

    def param_serialize(self, method: str, path: str, **_: Any) -> tuple[Any, ...]:
        return (method, path, {}, None, None)

    def call_api(self, method: str, url: str, **_: Any) -> FakeResponse:
        status = self.statuses.pop(0)
        return FakeResponse(status, b'{"items": []}' if status < 400 else b"{}")


def test_api_requests_are_counted_by_verb_and_code() -> None:
    metrics = Metrics()
    kube = Kube(FakeClient([200, 200, 404, 409]))
    kube.on_response = metrics.count_request
    kube.list_objects(kube_kind(), "ns")
    kube.list_objects(kube_kind(), "ns")
    assert kube.get(kube_kind(), "ns", "x") is None
    with pytest.raises(KubeError):
        kube.apply(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "n"}}
        )
    got = values(metrics)
    total = "picotls_api_requests_total"
    assert got[total, frozenset({("verb", "GET"), ("code", "200")})] == 2
    assert got[total, frozenset({("verb", "GET"), ("code", "404")})] == 1
    assert got[total, frozenset({("verb", "PATCH"), ("code", "409")})] == 1


def kube_kind() -> Any:
    from pico_tls.kube import SECRET

    return SECRET


class Reconciler:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def reconcile(self, namespace: str, platform: str) -> Any:
        if self.fail:
            raise RuntimeError("boom")
        from pico_tls.reconcile.group import Outcome

        return Outcome(5.0, 0, ())


def test_reconciles_are_counted_by_result_and_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = Metrics()
    monkeypatch.setattr("pico_tls.handlers.METRICS", metrics)
    config = OperatorConfig()
    ok = reconciler_entry(cast(Any, Reconciler(False)), Kube(FakeClient([])), config)
    bad = reconciler_entry(cast(Any, Reconciler(True)), Kube(FakeClient([])), config)
    assert ok("ns", "mz") == 5.0
    with pytest.raises(RuntimeError):
        bad("ns", "mz")
    got = values(metrics)
    assert got["picotls_reconcile_total", frozenset({("result", "success")})] == 1
    assert got["picotls_reconcile_total", frozenset({("result", "error")})] == 1
    assert got["picotls_reconcile_duration_seconds_count", frozenset()] == 2


def test_every_metric_is_exported_and_no_secret_is_in_a_scrape() -> None:
    world = settled_world()
    metrics = Metrics()
    metrics.record_group(("ns", "mz"), group_samples(world.snapshot(), world.decide()))
    metrics.observe_reconcile("success", 0.2)
    metrics.count_request("GET", 200)
    metrics.leader.set(1)
    families = {f.name for f in text_string_to_metric_families(metrics.scrape())}
    assert {n.removesuffix("_total") for n in EXPORTED} <= families
    secrets = [x for x in world.of_kind("Secret") if x.get("data")]
    items = [i for secret in secrets for i in sensitive_in(secret)]
    assert {i.kind for i in items} == {"password", "private key"}
    scrape = metrics.scrape()
    assert find_leaks(items, {"scrape": scrape}) == []
    # the check finds a password that did get into a label
    password = next(i for i in items if i.kind == "password")
    metrics.count_request(password.value.decode(), 200)
    assert find_leaks(items, {"scrape": metrics.scrape()}) != []
