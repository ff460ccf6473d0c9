"""What one pass decided, in the order the apply step carries it out.

`decide` only records here; `apply.apply_decision` is the one step that calls the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pico_tls.reconcile.status import status_changed

Body = Mapping[str, Any]


@dataclass(frozen=True)
class Write:
    """Server-side apply of one manifest; to a user's workload (attach, detach) with the
    attach field manager, never forced."""

    manifest: dict[str, Any]
    attached_by: tuple[str, str] | None = None  # (kind, name) of the attaching resource
    detach: bool = False  # the empty configuration: takes the additions back

    @property
    def to_users_workload(self) -> bool:
        return self.attached_by is not None or self.detach

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])


@dataclass(frozen=True)
class StatusPatch:
    """A merge-patch of a custom resource's status."""

    kind: str  # "Platform", "ExecutionContainer", "DesktopClient"
    namespace: str
    name: str
    status: dict[str, Any]


@dataclass(frozen=True)
class Event:
    """A core/v1 Event on `involved` (its message holds no secret)."""

    involved: Body
    type: str
    reason: str
    message: str


Action = Write | StatusPatch | Event


@dataclass
class Decision:
    """Everything a pass will do: actions in order, and when to look again (seconds)."""

    actions: list[Action] = field(default_factory=list)
    requeue_after: float | None = None
    # User Secrets (CA, passwords) the group reads, so their changes wake the group
    # (None: not known, the Platform's spec is invalid).
    references: set[str] | None = None

    def write(self, manifest: dict[str, Any]) -> None:
        self.actions.append(Write(manifest))

    def attach(self, manifest: dict[str, Any], owner: tuple[str, str]) -> None:
        self.actions.append(Write(manifest, attached_by=owner))

    def detach(self, manifest: dict[str, Any]) -> None:
        self.actions.append(Write(manifest, detach=True))

    def event(self, involved: Body, event_type: str, reason: str, message: str) -> None:
        self.actions.append(Event(involved, event_type, reason, message))

    def forget_events(self, involved: Body) -> None:
        """Drop the Events decided so far about `involved` (a member the pass leaves out
        after its key material was resolved: nothing of it is written)."""
        key = (involved.get("kind"), involved["metadata"].get("name"))
        self.actions = [
            a
            for a in self.actions
            if not (
                isinstance(a, Event)
                and (a.involved.get("kind"), a.involved["metadata"].get("name")) == key
            )
        ]

    def status(self, body: Body, status: Mapping[str, Any]) -> None:
        """Patch `body`'s status, only when that changes anything."""
        if not status_changed(body.get("status") or {}, status):
            return
        meta = body["metadata"]
        self.actions.append(
            StatusPatch(body["kind"], meta["namespace"], meta["name"], dict(status))
        )

    @property
    def writes(self) -> list[Write]:
        return [a for a in self.actions if isinstance(a, Write)]

    @property
    def status_patches(self) -> list[StatusPatch]:
        return [a for a in self.actions if isinstance(a, StatusPatch)]

    @property
    def events(self) -> list[Event]:
        return [a for a in self.actions if isinstance(a, Event)]
