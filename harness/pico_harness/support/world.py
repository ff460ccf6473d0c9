"""An in-memory API for `decide`: it holds a namespace's objects, hands out Snapshots, and
applies Decisions the way the API server would (server-side apply, status merge-patches,
workload generations), so the orchestration is tested pass by pass without a cluster."""

from __future__ import annotations

import base64
import copy
import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pico_tls.builders import names
from pico_tls.kube import KubeError
from pico_tls.reconcile.decide import decide
from pico_tls.reconcile.decision import Decision, Event, StatusPatch, Write
from pico_tls.reconcile.snapshot import Snapshot, read_snapshot

API = "picotls.dev/v1alpha1"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CUSTOM_KINDS = ("Platform", "ExecutionContainer", "DesktopClient")
WORKLOAD_KINDS = ("StatefulSet", "Deployment")
WRITTEN_KINDS = ("Secret", "ConfigMap", "Service", *WORKLOAD_KINDS)


def custom(kind: str, name: str, spec: Mapping[str, Any], namespace: str = "ns") -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 1},
        "spec": copy.deepcopy(dict(spec)),
    }


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """JSON merge-patch (RFC 7386)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _keep_foreign_data(old: Mapping[str, Any] | None, new: dict[str, Any]) -> None:
    """Server-side apply of `data`: keys another field manager owns stay, the operator's
    keys are those it applied now (recorded in managedFields)."""
    others = [
        m
        for m in (old or {}).get("metadata", {}).get("managedFields") or []
        if m.get("manager") != names.FIELD_MANAGER
    ]
    theirs = {k[2:] for m in others for k in (m.get("fieldsV1") or {}).get("f:data") or {}}
    old_data = (old or {}).get("data") or {}
    mine: dict[str, Any] = {"f:data": {f"f:{k}": {} for k in sorted(new["data"])}}
    new["data"] = {**{k: old_data[k] for k in theirs if k in old_data}, **new["data"]}
    new["metadata"]["managedFields"] = [
        *others,
        {"manager": names.FIELD_MANAGER, "operation": "Apply", "fieldsV1": mine},
    ]


class World:
    """One namespace: custom resources, the operator's objects, the Events it posted."""

    def __init__(self, platform: str = "mz", namespace: str = "ns") -> None:
        self.namespace = namespace
        self.platform = platform
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[Event] = []
        self.now = NOW
        self._versions = itertools.count(1)

    # -- objects --------------------------------------------------------------------------

    def add(self, body: Mapping[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(dict(body))
        obj["metadata"].setdefault("namespace", self.namespace)
        version = next(self._versions)
        obj["metadata"]["resourceVersion"] = str(version)
        obj["metadata"].setdefault(
            "creationTimestamp", f"2026-06-01T00:{version // 60:02}:{version % 60:02}Z"
        )
        self.objects[obj["kind"], obj["metadata"]["name"]] = obj
        return obj

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.objects[kind, name]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, name))

    def delete(self, kind: str, name: str) -> None:
        del self.objects[kind, name]

    def delete_collected(self, kind: str, name: str) -> None:
        """Delete a custom resource and what garbage collection takes with it: every object
        with an owner reference to its uid."""
        uid = self.get(kind, name)["metadata"]["uid"]
        self.delete(kind, name)
        for key, obj in list(self.objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                del self.objects[key]

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [o for (k, _), o in sorted(self.objects.items()) if k in kinds]

    def secret_data(self, name: str) -> dict[str, bytes]:
        data = self.get("Secret", name).get("data") or {}
        return {k: base64.b64decode(v) for k, v in data.items()}

    def status(self, kind: str, name: str) -> dict[str, Any]:
        return dict(self.get(kind, name).get("status") or {})

    def condition(self, kind: str, name: str, condition_type: str) -> dict[str, Any]:
        conditions = self.status(kind, name).get("conditions") or []
        return next(c for c in conditions if c["type"] == condition_type)

    # -- passes ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The production reader (`read_snapshot`) over this namespace, so what it leaves out
        (resources being deleted, other groups' objects) is left out here too."""
        return read_snapshot(WorldKube(self), self.namespace, self.platform)  # type: ignore[arg-type]

    def decide(self) -> Decision:
        return decide(self.snapshot(), self.now)

    def apply(self, decision: Decision) -> Decision:
        for action in decision.actions:
            if isinstance(action, Write):
                self._apply(action.manifest)
            elif isinstance(action, StatusPatch):
                obj = self.get(action.kind, action.name)
                _merge(obj.setdefault("status", {}), action.status)
                obj["metadata"]["resourceVersion"] = str(next(self._versions))
            else:
                self.events.append(action)
        return decision

    def reconcile(self) -> Decision:
        """One pass: snapshot, decide, apply."""
        return self.apply(self.decide())

    def _apply(self, manifest: Mapping[str, Any]) -> None:
        old = self.find(manifest["kind"], manifest["metadata"]["name"])
        new = copy.deepcopy(dict(manifest))
        if old is not None:
            new["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"]
        if manifest["kind"] in WORKLOAD_KINDS:
            generation = old["metadata"].get("generation", 1) if old else 0
            if old is None or old["spec"] != new["spec"]:
                generation += 1
            new["metadata"]["generation"] = generation
            new["status"] = old.get("status", {}) if old else {}
        if "data" in new:
            _keep_foreign_data(old, new)
        self.add(new)

    def roll_out(self) -> bool:
        """Every workload runs its current template on every replica (what the kubelet does);
        True when one did not before (its status changed: a watch would start a pass)."""
        changed = False
        for obj in self.of_kind(*WORKLOAD_KINDS):
            replicas = obj["spec"].get("replicas", 1)
            generation = obj["metadata"]["generation"]
            status = {
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "currentRevision": f"r{generation}",
                "updateRevision": f"r{generation}",
            }
            changed = changed or obj.get("status") != status
            obj["status"] = status
        return changed

    def settle(self, passes: int = 12) -> int:
        """Reconcile and roll out until a pass decides nothing and nothing was left to roll;
        returns the passes it took."""
        for count in range(1, passes + 1):
            decision = self.reconcile()
            rolled = self.roll_out()
            if not decision.actions and not rolled:
                return count
        raise AssertionError(f"still deciding after {passes} passes: {describe(decision)}")

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def describe(decision: Decision) -> list[str]:
    """A readable summary of a decision, for assertions and messages."""
    out = []
    for action in decision.actions:
        if isinstance(action, Write):
            out.append(f"write {action.kind}/{action.name}")
        elif isinstance(action, StatusPatch):
            out.append(f"status {action.kind}/{action.name}")
        else:
            out.append(f"event {action.reason}")
    return out


PLURALS = {
    "secrets": "Secret",
    "configmaps": "ConfigMap",
    "services": "Service",
    "statefulsets": "StatefulSet",
    "deployments": "Deployment",
    "platforms": "Platform",
    "executioncontainers": "ExecutionContainer",
    "desktopclients": "DesktopClient",
}


class WorldKube:
    """`pico_tls.kube.Kube`'s methods over a World, for the read and apply steps (no HTTP)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.calls: list[str] = []
        # (kind, name) -> the KubeError the API answers to a write of that object.
        self.refusals: dict[tuple[str, str], Exception] = {}

    def list_objects(
        self, kind: Any, namespace: str, label_selector: str | None = None
    ) -> list[Any]:
        self.calls.append(f"list {kind.plural}")
        found = self.world.of_kind(PLURALS[kind.plural])
        for term in (label_selector or "").split(","):
            if term:
                key, value = term.split("=")
                found = [o for o in found if (o["metadata"].get("labels") or {}).get(key) == value]
        return copy.deepcopy(found)

    def list_at(
        self, kind: Any, namespace: str, label_selector: str | None = None
    ) -> tuple[list[Any], int]:
        """The list and the newest resourceVersion of the world (what the list was read at)."""
        found = self.list_objects(kind, namespace, label_selector)
        versions = [int(o["metadata"]["resourceVersion"]) for o in self.world.objects.values()]
        return found, max(versions, default=0)

    def list_metadata(self, kind: Any, namespace: str) -> list[dict[str, Any]]:
        self.calls.append(f"list metadata {kind.plural}")
        found = self.world.of_kind(PLURALS[kind.plural])
        return [{"metadata": copy.deepcopy(o["metadata"])} for o in found]

    def get(self, kind: Any, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(f"get {kind.plural}/{name}")
        return copy.deepcopy(self.world.find(PLURALS[kind.plural], name))

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(f"apply {manifest['kind']}/{manifest['metadata']['name']}")
        refusal = self.refusals.get((manifest["kind"], manifest["metadata"]["name"]))
        if refusal is not None:
            raise refusal
        self.world.apply(Decision([Write(dict(manifest))]))
        return copy.deepcopy(self.world.get(manifest["kind"], manifest["metadata"]["name"]))

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        self._precondition(manifest["kind"], manifest["metadata"]["name"], None)
        return self.apply(manifest)

    def replace(self, manifest: Mapping[str, Any], resource_version: str) -> dict[str, Any]:
        self._precondition(manifest["kind"], manifest["metadata"]["name"], resource_version)
        return self.apply(manifest)

    def _precondition(self, kind: str, name: str, version: str | None) -> None:
        """As the API answers a create (`version` None) or a conditional update: 409, 404."""
        found = self.world.find(kind, name)
        if found is None and version is not None:
            raise KubeError("PUT", name, 404, "Not Found", "not found", "NotFound")
        current = None if found is None else found["metadata"]["resourceVersion"]
        if current != version:
            raise KubeError("PUT", name, 409, "Conflict", "changed", "Conflict")

    def patch_status(
        self,
        kind: Any,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: str | None = None,
    ) -> str:
        self.calls.append(f"status {kind.plural}/{name}")
        if resource_version is not None:
            self._precondition(PLURALS[kind.plural], name, resource_version)
        self.world.apply(
            Decision([StatusPatch(PLURALS[kind.plural], namespace, name, dict(status))])
        )
        obj = self.world.get(PLURALS[kind.plural], name)
        return str(obj["metadata"]["resourceVersion"])

    def event(
        self,
        involved: Mapping[str, Any],
        event_type: str,
        reason: str,
        message: str,
        *,
        now: datetime,
    ) -> None:
        self.calls.append(f"event {reason}")
        self.world.events.append(Event(involved, event_type, reason, message))


def settled_group() -> World:
    """Platform `mz` (ECDSA keys), ExecutionContainer `ec1` and DesktopClient `alice`, after
    the passes that leave nothing to do."""
    ecdsa = {"key": {"algorithm": "ECDSA"}}
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": dict(ecdsa)}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.add(
        custom("DesktopClient", "alice", {"platformRef": {"name": "mz"}, "user": "alice", **ecdsa})
    )
    world.settle()
    return world
