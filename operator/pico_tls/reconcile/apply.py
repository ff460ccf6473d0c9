"""Step 3 of a pass: carry out a Decision, in its order. The only step that writes to the API.

A write the API refuses for an object a member (ExecutionContainer, DesktopClient) owns does
not stop the pass: the member's later writes and status are skipped and the failure is
reported back (`Applied.failures`), so the next decision leaves the member out and says why.
Any other refused write (the Platform's own objects) stops the pass the same way.

Key material (the CA and state Secrets, which hold private keys) is never applied blindly: it is
created with create, or replaced only while it still has the resourceVersion the pass read;
a status patch that carries a phase is conditional the same way. A 409 raises `WriteConflict`:
someone else wrote meanwhile, so the pass reads again and decides again, never overwrites."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pico_tls.kube import CONTAINER, DESKTOP, PLATFORM, Kube, KubeError
from pico_tls.reconcile.decision import Decision, Event, StatusPatch, Write
from pico_tls.reconcile.exclusions import WriteFailure, redact
from pico_tls.reconcile.snapshot import Snapshot

# Statuses that say nothing about the object written: the pass fails and is retried.
TRANSIENT = (401, 404, 429, 502, 503, 504)
STORAGE_TROUBLE = ("etcd", "timeout", "timed out", "unable to handle the request")
STATUS_KINDS = {"Platform": PLATFORM, "ExecutionContainer": CONTAINER, "DesktopClient": DESKTOP}
PRIVATE_KEY = "tls.key"  # a Secret holding it is key material (CA, state Secrets)
PHASES = ("clientAuth", "caRotation")  # status fields that carry a phase
Versions = dict[tuple[str, str], str]  # (kind, name) -> resourceVersion the pass read


class WriteConflict(RuntimeError):
    """An object the pass decided from was written by someone else meanwhile (409)."""


@dataclass
class Applied:
    writes: int = 0
    failures: list[WriteFailure] = field(default_factory=list)

    @property
    def platform_failed(self) -> bool:
        return any(f.owner_kind == "Platform" for f in self.failures)


def _transient(err: KubeError) -> bool:
    """The API (or its storage) being unavailable, which says nothing about the object."""
    if err.status in TRANSIENT:
        return True
    text = err.message.lower()
    return err.status == 500 and any(word in text for word in STORAGE_TROUBLE)


def _owner(write: Write) -> tuple[str, str] | None:
    if write.attached_by is not None:
        return write.attached_by
    refs = write.manifest["metadata"].get("ownerReferences") or []
    return (str(refs[0]["kind"]), str(refs[0]["name"])) if refs else None


def _failure(write: Write, owner: tuple[str, str], err: KubeError) -> WriteFailure:
    return WriteFailure(
        owner[0], owner[1], write.kind, write.name, err.status, err.api_reason, redact(err.message)
    )


def read_versions(snapshot: Snapshot) -> Versions:
    """The resourceVersions the decision was made from: the custom resources, and the
    group's Secrets read in full (a Secret seen as metadata only is never replaced)."""
    found: Versions = {}
    for body in (*snapshot.platforms, *snapshot.containers, *snapshot.desktops):
        found[(str(body["kind"]), str(body["metadata"]["name"]))] = _version(body)
    for name, secret in snapshot.secrets.items():
        found[("Secret", name)] = _version(secret)
    return found


def _version(body: Mapping[str, Any]) -> str:
    return str(body["metadata"].get("resourceVersion", ""))


def _key_material(write: Write) -> bool:
    return write.kind == "Secret" and PRIVATE_KEY in (write.manifest.get("data") or {})


def _write(kube: Kube, write: Write, versions: Versions) -> None:
    """Apply, or for key material create / replace at the version read."""
    if write.to_users_workload:
        kube.apply_attached(write.manifest)  # a 409 names the manager owning a field
        return
    if not _key_material(write):
        kube.apply(write.manifest)
        return
    read = versions.get(("Secret", write.name))
    try:
        done = kube.replace(write.manifest, read) if read else kube.create(write.manifest)
    except KubeError as err:
        if err.conflict:
            raise WriteConflict(f"Secret {write.name}: {err.api_reason}") from err
        raise
    versions[("Secret", write.name)] = _version(done)


def _patch_status(kube: Kube, patch: StatusPatch, versions: Versions) -> None:
    key = (patch.kind, patch.name)
    read = versions.get(key) if any(p in patch.status for p in PHASES) else None
    try:
        new = kube.patch_status(
            STATUS_KINDS[patch.kind], patch.namespace, patch.name, patch.status, read or None
        )
    except KubeError as err:
        if err.conflict:
            raise WriteConflict(f"{patch.kind} {patch.name} status: {err.api_reason}") from err
        raise
    versions[key] = new


def _detach_refused(kube: Kube, write: Write, err: KubeError, now: datetime) -> None:
    """A detach the API refused (its resource is gone): a Warning Event on the workload."""
    message = (
        f"could not take back the TLS additions ({err.status} {err.api_reason}: "
        f"{redact(err.message)}); remove them by applying an empty configuration with the "
        "field manager pico-tls-attach"
    )
    kube.event(write.manifest, "Warning", "DetachFailed", message, now=now)


def apply_decision(
    kube: Kube, decision: Decision, now: datetime, snapshot: Snapshot | None = None
) -> Applied:
    """Writes, status patches and Events in decision order; a refused write of a member
    skips that member's remaining actions, a refused Platform write stops the writes.
    Without the `snapshot` the decision came from, key material can only be created."""
    done = Applied()
    failed: set[tuple[str, str]] = set()
    versions = read_versions(snapshot) if snapshot is not None else {}
    for action in decision.actions:
        if isinstance(action, Write):
            owner = _owner(action)
            if owner in failed or done.platform_failed:
                continue
            try:
                _write(kube, action, versions)
            except KubeError as err:
                if action.detach and not (err.namespace_terminating or _transient(err)):
                    _detach_refused(kube, action, err, now)
                    continue
                if owner is None or err.namespace_terminating or _transient(err):
                    raise  # not the member's doing: the scheduler retries with backoff
                done.failures.append(_failure(action, owner, err))
                failed.add(owner)
                continue
            done.writes += 1
        elif isinstance(action, StatusPatch):
            if (action.kind, action.name) in failed or done.platform_failed:
                continue
            _patch_status(kube, action, versions)
        elif isinstance(action, Event):
            kube.event(action.involved, action.type, action.reason, action.message, now=now)
    return done
