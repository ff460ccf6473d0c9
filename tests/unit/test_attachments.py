"""The attach decisions, pure: who may attach (consent, missing, taken, container), what is
written and said when the additions are missing, put back or rolled, when a reverting manager
stops the operator, and which workloads get their additions taken back."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from pico_tls.builders import attach, names
from pico_tls.reconcile import attachments
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.snapshot import Snapshot
from pico_tls.reconcile.status import iso

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
REF = ("Deployment", "ec-app")


def workload(labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ec-app", "namespace": "ns", "labels": labels or {}, **meta},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {},
                "spec": {"containers": [{"name": "pico", "image": "vendor/ec:1"}]},
            },
        },
        "status": {
            "observedGeneration": 1,
            "updatedReplicas": 2,
            "readyReplicas": 2,
            "replicas": 2,
        },
    }


def container(
    name: str = "ec1", created: str = "2026-01-01T00:00:00Z", **status: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "picotls.dev/v1alpha1",
        "kind": "ExecutionContainer",
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created, "uid": name},
        "spec": {
            "platformRef": {"name": "mz"},
            "workloadRef": {"kind": "Deployment", "name": "ec-app"},
        },
        "status": status,
    }


def snapshot(live: dict[str, Any] | None, *members: dict[str, Any], meta: Any = None) -> Snapshot:
    objects = {REF: {"metadata": meta}} if meta is not None else {}
    offered = live is not None and (live["metadata"]["labels"].get(names.ATTACH_LABEL) == "mz")
    return Snapshot(
        "ns",
        "mz",
        containers=members,
        namespace_members=members,
        namespace_objects=objects,
        attachable={REF: live} if offered and live else {},
        workloads={"ec1": live} if offered and live else {},
    )


OFFERED = {names.ATTACH_LABEL: "mz"}


def test_consent_missing_and_taken_are_refused_with_what_to_do() -> None:
    ec1 = container()
    found = attachments.problem(snapshot(None, ec1), ec1, NOW)
    assert found and found[0] == attachments.WORKLOAD_NOT_FOUND
    unlabelled = {"name": "ec-app", "labels": {}}
    found = attachments.problem(snapshot(None, ec1, meta=unlabelled), ec1, NOW)
    assert found and found[0] == attachments.NOT_CONSENTED and "picotls.dev/attach=mz" in found[1]
    other = {"name": "ec-app", "labels": {names.ATTACH_LABEL: "mz2"}}
    found = attachments.problem(snapshot(None, ec1, meta=other), ec1, NOW)
    assert found and "Platform mz2" in found[1]
    younger = container("ec2", created="2026-02-01T00:00:00Z")
    both = snapshot(workload(OFFERED), ec1, younger)
    assert attachments.problem(both, ec1, NOW) is None
    found = attachments.problem(both, younger, NOW)
    assert found and found[0] == attachments.ATTACH_TAKEN and "ExecutionContainer ec1" in found[1]
    ec1["spec"]["workloadRef"]["containerName"] = "nope"
    found = attachments.problem(both, ec1, NOW)
    assert found and found[0] == attachments.CONTAINER_NOT_FOUND


def patch_for(live: dict[str, Any], content: str = "h1") -> dict[str, Any]:
    from pico_tls.builders.pod_delivery import PodDelivery

    delivered = PodDelivery(env=[{"name": "PICO_PROPERTIES_FILES", "value": "/x"}])
    return attach.attach_patch(
        live, owner="ExecutionContainer/ec1", platform="mz", container="pico",
        delivered=delivered, content_hash=content,
    )  # fmt: skip


def merged(live: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The live object after the patch (enough of server-side apply for these fields)."""
    out = copy.deepcopy(live)
    out["metadata"]["labels"].update(patch["metadata"]["labels"])
    out["metadata"]["annotations"] = dict(patch["metadata"]["annotations"])
    out["metadata"]["managedFields"] = [{"manager": names.ATTACH_MANAGER}]
    out["spec"]["template"]["metadata"] = copy.deepcopy(patch["spec"]["template"]["metadata"])
    wanted = patch["spec"]["template"]["spec"]["containers"][0]
    out["spec"]["template"]["spec"]["containers"][0]["env"] = copy.deepcopy(wanted["env"])
    return out


def decide(live: dict[str, Any], owner: dict[str, Any], patch: dict[str, Any]) -> PassContext:
    run = PassContext(snapshot(live, owner), NOW)
    attachments.decide_attachments(run, [patch], {"ec1": owner})
    return run


def test_missing_additions_are_written_once_and_settled_ones_are_not() -> None:
    live, ec1 = workload(OFFERED), container()
    run = decide(live, ec1, patch_for(live))
    (write,) = run.decision.writes
    assert write.attached_by == ("ExecutionContainer", "ec1") and write.to_users_workload
    assert [e.reason for e in run.decision.events] == ["Attached"]
    record = run.decision.status_patches[0].status["attachment"]
    assert record == {"workload": "Deployment/ec-app", "hash": "h1", "putBack": []}
    settled = attachments.decide_attachments(
        PassContext(snapshot(merged(live, patch_for(live)), ec1), NOW),
        [patch_for(live)],
        {"ec1": ec1},
    )
    assert settled == {"ec1": True}


def test_a_content_change_rolls_and_a_revert_is_counted_then_refused() -> None:
    live, record = workload(OFFERED), {"workload": "Deployment/ec-app", "hash": "h1", "putBack": []}
    ec1 = container(attachment=record)
    rolled = decide(merged(live, patch_for(live, "h1")), ec1, patch_for(live, "h2"))
    assert [e.reason for e in rolled.decision.events] == ["RollingPods"]
    reverted = workload(OFFERED)  # a controller wrote its whole template back
    reverted["metadata"]["managedFields"] = [
        {
            "manager": "fake-controller",
            "operation": "Update",
            "time": iso(NOW),
            "fieldsV1": {"f:spec": {}},
        }
    ]
    run = decide(reverted, ec1, patch_for(live, "h1"))
    (event,) = run.decision.events
    assert (event.type, event.reason) == ("Warning", "AttachmentRestored")
    assert "fake-controller" in event.message
    put_back = run.decision.status_patches[0].status["attachment"]
    assert put_back["by"] == "fake-controller" and len(put_back["putBack"]) == 1
    three = {**put_back, "putBack": [iso(NOW - timedelta(minutes=m)) for m in (1, 2, 3)]}
    stalled = attachments.problem(
        snapshot(reverted, container(attachment=three)), container(attachment=three), NOW
    )
    assert stalled and stalled[0] == attachments.REVERTED and "fake-controller" in stalled[1]
    old = {**three, "putBack": [iso(NOW - timedelta(minutes=m)) for m in (11, 12, 13)]}
    assert (
        attachments.problem(
            snapshot(reverted, container(attachment=old)), container(attachment=old), NOW
        )
        is None
    )


def test_orphaned_additions_are_taken_back_unless_kept() -> None:
    live = merged(workload(OFFERED), patch_for(workload(OFFERED)))
    run = PassContext(snapshot(live), NOW)
    attachments.detach_orphans(run, ())
    (write,) = run.decision.writes
    assert write.detach and write.manifest == attach.detach_patch(live)
    assert [e.reason for e in run.decision.events] == ["Detached"]
    still = PassContext(snapshot(live, container()), NOW)
    attachments.detach_orphans(still, (container(),))
    assert still.decision.writes == []
    live["metadata"]["annotations"][names.KEEP_ON_DELETE] = "true"
    kept = PassContext(snapshot(live), NOW)
    attachments.detach_orphans(kept, ())
    assert kept.decision.writes == []


def test_a_revocation_while_blocked_never_rewrites_an_attached_workload() -> None:
    from pico_tls.reconcile import revocation

    users = workload(OFFERED)
    configmap = {"metadata": {"name": "mz-rcp-tls"}, "data": {names.PROPERTIES_FILE: "x=1\n"}}
    snap = Snapshot("ns", "mz", workloads={"mz": users}, configmaps={"mz-rcp-tls": configmap})
    run = PassContext(snap, NOW)
    assert revocation._statefulset(run, "mz", "fingerprint") is False
    assert run.decision.writes == []
    ours = copy.deepcopy(users)
    ours["metadata"]["labels"] = {names.MANAGED_BY: names.FIELD_MANAGER}
    run = PassContext(
        Snapshot("ns", "mz", workloads={"mz": ours}, configmaps={"mz-rcp-tls": configmap}), NOW
    )
    assert revocation._statefulset(run, "mz", "fingerprint") is True
