"""Pure helpers that read workloads: which template they run and whether it rolled out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pico_tls.builders import names

# A StatefulSet not rolled out this long after our apply is stuck: the default progress
# deadline of a Deployment (progressDeadlineSeconds 600), which StatefulSets lack.
STATEFULSET_DEADLINE = timedelta(minutes=10)


def by_name(items: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Index API objects by `metadata.name`."""
    return {str(i["metadata"]["name"]): i for i in items}


def owner_uids(meta: Mapping[str, Any]) -> set[str]:
    """The uids an object's owner references name."""
    return {str(r.get("uid")) for r in meta.get("ownerReferences") or []}


def template_hash(workload: Mapping[str, Any] | None) -> str | None:
    """The mounted-content checksum on a workload's pod template, if any."""
    if workload is None:
        return None
    annotations = workload["spec"]["template"]["metadata"].get("annotations") or {}
    value = annotations.get(names.MOUNTED_CONTENT)
    return str(value) if value is not None else None


def delivering(workloads: Mapping[str, Mapping[str, Any]], party: str) -> bool:
    """Whether the party's pods get the operator's delivery: its own workload exists, or the
    user's workload it attaches to carries the additions (the mounted-content annotation)."""
    found = workloads.get(party)
    if found is None:
        return False
    labels = found["metadata"].get("labels") or {}
    return labels.get(names.MANAGED_BY) == names.FIELD_MANAGER or template_hash(found) is not None


def rolled_out(workload: Mapping[str, Any] | None) -> bool:
    """True when a StatefulSet or Deployment runs its current template on every replica."""
    if workload is None:
        return False
    spec, status = workload["spec"], workload.get("status") or {}
    if status.get("observedGeneration", 0) < workload["metadata"].get("generation", 0):
        return False
    replicas = spec.get("replicas", 1)
    if replicas == 0:
        return True
    updated = status.get("updatedReplicas", 0) == replicas
    ready = status.get("readyReplicas", 0) == replicas
    if workload["kind"] == "StatefulSet":
        same_revision = status.get("currentRevision") == status.get("updateRevision")
        return bool(updated and ready and same_revision)
    return bool(updated and ready and status.get("replicas", 0) == replicas)


def stuck(workload: Mapping[str, Any] | None, now: datetime) -> bool:
    """True when a rollout will not finish by itself, so polling it every few seconds is in
    vain: a Deployment's controller gave up (progress deadline exceeded); a StatefulSet, which
    has no deadline, still not rolled out `STATEFULSET_DEADLINE` after the operator's last
    apply to it (the time of our field manager's entry in `managedFields`)."""
    if workload is None:
        return False
    if workload.get("kind") == "StatefulSet":
        since = applied_at(workload)
        return since is not None and not rolled_out(workload) and now - since > STATEFULSET_DEADLINE
    return deadline_exceeded(workload)


def deadline_exceeded(workload: Mapping[str, Any]) -> bool:
    """A Deployment's controller gave up its rollout (progress deadline exceeded)."""
    conditions = (workload.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") == "Progressing"
        and c.get("status") == "False"
        and c.get("reason") == "ProgressDeadlineExceeded"
        for c in conditions
    )


def applied_at(obj: Mapping[str, Any]) -> datetime | None:
    """When the operator's field manager last changed what it applies to `obj`, if known."""
    times = [
        str(entry.get("time") or "")
        for entry in (obj.get("metadata") or {}).get("managedFields") or []
        if entry.get("manager") == names.FIELD_MANAGER and entry.get("operation") == "Apply"
    ]
    try:
        return max(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times if t)
    except ValueError:  # none, or not a time
        return None
