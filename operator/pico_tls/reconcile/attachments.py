"""Attached workloads (spec.workloadRef), pure: whether a resource may attach (the workload
exists, its owner offered it to this Platform, no other resource attaches to it, it has the
pico container, nobody keeps reverting the additions), which additions to put on it or back,
and the additions to take back from workloads no resource attaches to any more.

A controller that keeps taking the additions back is not fought: each put-back is recorded
in the resource's `status.attachment.putBack`; at `PUT_BACK_LIMIT` within `WINDOW` the
resource is refused (`AttachReverted`, Stalled, one Warning naming the other field manager)
and nothing is put back until the window has passed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pico_tls.builders import attach, names
from pico_tls.reconcile.drift import covers
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.rollout import rolled_out, template_hash
from pico_tls.reconcile.snapshot import Snapshot, workload_ref
from pico_tls.reconcile.status import iso

Body = Mapping[str, Any]
WORKLOAD_NOT_FOUND = "WorkloadNotFound"
NOT_CONSENTED = "AttachNotConsented"
ATTACH_TAKEN = "AttachTaken"
CONTAINER_NOT_FOUND = "AttachContainerNotFound"
REVERTED = "AttachReverted"
PUT_BACK_LIMIT = 3
WINDOW = timedelta(minutes=10)


def _label(ref: tuple[str, str]) -> str:
    return f"{ref[0]} {ref[1]}"


def problem(snapshot: Snapshot, body: Body, now: datetime) -> tuple[str, str] | None:
    """(reason, message) when `body` may not attach to its workloadRef now, else None."""
    ref = workload_ref(body)
    if ref is None:
        return None
    live = snapshot.attachable.get(ref)
    if live is None:
        return _not_offered(snapshot, ref)
    taken = _taken_by(snapshot, body, ref)
    if taken is not None:
        return ATTACH_TAKEN, (
            f"{_label(ref)} is attached to {taken} (created earlier): name another workload; "
            "nothing was added for this resource"
        )
    wanted = ((body.get("spec") or {}).get("workloadRef") or {}).get("containerName")
    if attach.pico_container(live, wanted) is None:
        return CONTAINER_NOT_FOUND, (
            f"{_label(ref)} has no container {wanted!r}: set workloadRef.containerName to the "
            "container that runs the pico"
        )
    return _reverted(body, live, now)


def _not_offered(snapshot: Snapshot, ref: tuple[str, str]) -> tuple[str, str]:
    meta = (snapshot.namespace_objects.get(ref) or {}).get("metadata")
    platform = snapshot.platform_name
    if meta is None:
        return WORKLOAD_NOT_FOUND, (
            f"{_label(ref)} does not exist in namespace {snapshot.namespace}: create it, "
            "or correct spec.workloadRef"
        )
    labels = meta.get("labels") or {}
    if labels.get(names.MANAGED_BY) == names.FIELD_MANAGER or meta.get("ownerReferences"):
        owner = "the operator's own" if labels.get(names.MANAGED_BY) else "owned by another object"
        return NOT_CONSENTED, f"{_label(ref)} is {owner}: attach to a workload you deploy"
    offered = labels.get(names.ATTACH_LABEL)
    if offered:
        return NOT_CONSENTED, (
            f"{_label(ref)} is offered to Platform {offered} (label {names.ATTACH_LABEL}="
            f"{offered}), not to {platform}: change the label or the workloadRef"
        )
    return NOT_CONSENTED, (
        f"{_label(ref)} does not carry the label {names.ATTACH_LABEL}={platform}: the operator "
        f"changes only workloads their owner offered it; label it to attach"
    )


def _taken_by(snapshot: Snapshot, body: Body, ref: tuple[str, str]) -> str | None:
    def age(b: Body) -> tuple[str, str]:
        return str(b["metadata"].get("creationTimestamp") or ""), str(b["metadata"].get("uid"))

    me = (body["kind"], body["metadata"]["name"])
    for other in (*snapshot.platforms, *snapshot.namespace_members):
        if (other["kind"], other["metadata"]["name"]) == me or workload_ref(other) != ref:
            continue
        if age(other) < age(body):
            return f"{other['kind']} {other['metadata']['name']}"
    return None


def _history(body: Body, live: Body, now: datetime) -> list[str]:
    """The put-backs of this workload's additions recorded within the window."""
    record = (body.get("status") or {}).get("attachment") or {}
    if record.get("workload") != f"{live['kind']}/{live['metadata']['name']}":
        return []
    since = iso(now - WINDOW)
    return [str(t) for t in record.get("putBack") or () if str(t) >= since]


def _reverted(body: Body, live: Body, now: datetime) -> tuple[str, str] | None:
    if len(_history(body, live, now)) < PUT_BACK_LIMIT:
        return None
    by = ((body.get("status") or {}).get("attachment") or {}).get("by") or "another manager"
    return REVERTED, (
        f"{live['kind']} {live['metadata']['name']}: the operator's additions were taken back "
        f"{PUT_BACK_LIMIT} times within {int(WINDOW.total_seconds() // 60)} min, last by "
        f"field manager {by!r}; not putting them back (tried again after the window). Stop "
        f"{by} from managing the pod template's TLS fields, or exclude them from it"
    )


def other_manager(live: Body) -> str | None:
    """The field manager (not ours) that last wrote the workload's spec."""
    entries = [
        m
        for m in live["metadata"].get("managedFields") or ()
        if m.get("manager") != names.ATTACH_MANAGER
        and not m.get("subresource")
        and "f:spec" in (m.get("fieldsV1") or {})
    ]
    latest = max(entries, key=lambda m: str(m.get("time") or ""), default=None)
    return str(latest["manager"]) if latest else None


def carries_ours(live: Body) -> bool:
    fields = live["metadata"].get("managedFields") or ()
    return any(m.get("manager") == names.ATTACH_MANAGER for m in fields)


def decide_attachments(
    run: PassContext, patches: Sequence[dict[str, Any]], owners: Mapping[str, Body]
) -> dict[str, bool]:
    """Record the additions that are missing on their workloads; per party, whether its
    workload runs them on every replica. `owners`: the custom resources by name."""
    settled: dict[str, bool] = {}
    for patch in patches:
        kind, _, party = str(patch["metadata"]["annotations"][names.ATTACHED_BY]).partition("/")
        owner, live = owners[party], run.snapshot.workloads[party]
        if covers(live, patch):
            settled[party] = rolled_out(live)
            continue
        settled[party] = False
        run.decision.attach(patch, (kind, party))
        _report_write(run, owner, live, patch)
    return settled


def _report_write(run: PassContext, owner: Body, live: Body, patch: Mapping[str, Any]) -> None:
    """The Event of an attach write and the status record of what was applied."""
    label = f"{live['kind']} {live['metadata']['name']}"
    wanted = patch["spec"]["template"]["metadata"]["annotations"][names.MOUNTED_CONTENT]
    record = dict((owner.get("status") or {}).get("attachment") or {})
    workload = f"{live['kind']}/{live['metadata']['name']}"
    history = _history(owner, live, run.now)
    if record.get("workload") != workload:
        event = (
            "Normal",
            "Attached",
            f"{label}: TLS delivery added (field manager pico-tls-attach)",
        )
    elif template_hash(live) == record.get("hash") and wanted != record.get("hash"):
        event = ("Normal", "RollingPods", f"{label}: mounted TLS content changed")
    else:
        by = other_manager(live) or "another manager"
        history.append(iso(run.now))
        record["by"] = by
        event = ("Warning", "AttachmentRestored", f"{label}: put back the additions {by} took")
    run.decision.event(owner, *event)
    record.update(workload=workload, hash=wanted, putBack=history)
    run.decision.status(owner, {"attachment": record})


def detach_orphans(run: PassContext, attaching: Sequence[Body]) -> None:
    """Take the additions back from workloads of the group no resource in `attaching`
    attaches to any more (deleted), unless they asked to keep them (keepOnDelete)."""
    wanted = {workload_ref(b) for b in attaching}
    for ref, live in sorted(run.snapshot.attachable.items()):
        if ref in wanted or not carries_ours(live) or attach.keeps_additions(live):
            continue
        run.decision.detach(attach.detach_patch(live))
        by = attach.attached_by(live) or "a deleted resource"
        message = f"{_label(ref)}: took back the TLS additions of {by} (it is gone)"
        run.decision.event(live, "Normal", "Detached", message)
