"""`ObjectCache`: the operator's own objects and the custom resources as its watches delivered
them, so a pass reads them without a LIST.

Filled from three places: the watches' events (`put`, `drop`), the responses to the operator's
own writes (`put`: a pass sees what it wrote even before the watch brings it), and the LISTs of
a pass that reads from the API (`correct`). Each kind holds only what its watch selects
(`in_scope`, the same label rules as the watches'), and a newer resourceVersion always wins, so
a late event or response never brings back an older state or a deleted object. Objects are
kept as compressed JSON and decoded for each read: a pass gets its own copies, and a cached
Secret costs about two thirds of its size on the wire, not several times that as dicts.
Thread-safe.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pico_tls.builders.names import FIELD_MANAGER, MANAGED_BY, PLATFORM_LABEL
from pico_tls.kube.kinds import (
    CONFIGMAP,
    CONTAINER,
    DEPLOYMENT,
    DESKTOP,
    PLATFORM,
    SECRET,
    SERVICE,
    STATEFULSET,
    Kind,
)

Body = Mapping[str, Any]
Key = tuple[str, str, str]  # (kind, namespace, name)
OWNED_KINDS = ("Secret", "ConfigMap", "Service")  # watched by our managed-by label
WORKLOAD_KINDS = ("StatefulSet", "Deployment")  # watched by the platform label
CACHED: dict[Kind, str] = {
    SECRET: "Secret",
    CONFIGMAP: "ConfigMap",
    SERVICE: "Service",
    STATEFULSET: "StatefulSet",
    DEPLOYMENT: "Deployment",
    PLATFORM: "Platform",
    CONTAINER: "ExecutionContainer",
    DESKTOP: "DesktopClient",
}
BY_NAME: dict[str, Kind] = {name: kind for kind, name in CACHED.items()}
TOMBSTONES = 10_000  # dropped objects remembered, so their late events are ignored


def in_scope(body: Body) -> bool:
    """Whether the watch of `body`'s kind delivers it (the watches' label selectors)."""
    kind, labels = body.get("kind"), (body.get("metadata") or {}).get("labels") or {}
    if kind in OWNED_KINDS:
        return labels.get(MANAGED_BY) == FIELD_MANAGER
    if kind in WORKLOAD_KINDS:
        return PLATFORM_LABEL in labels
    return kind in CACHED.values()


def matches(body: Body, selector: str | None) -> bool:
    """`body`'s labels satisfy an equality selector (`a=b,c=d`; `a` alone: present)."""
    return _selects(selector, (body.get("metadata") or {}).get("labels") or {})


def _selects(selector: str | None, labels: Mapping[str, str]) -> bool:
    for term in filter(None, (selector or "").split(",")):
        key, sep, value = term.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def version(body: Body) -> int:
    text = str((body.get("metadata") or {}).get("resourceVersion") or "")
    return int(text) if text.isdigit() else -1


def key_of(body: Body) -> Key:
    meta = body.get("metadata") or {}
    return str(body.get("kind")), str(meta.get("namespace")), str(meta.get("name"))


class _Entry(NamedTuple):
    """An object as compressed JSON (a fraction of its size as dicts), with what the
    selections read of it."""

    version: int
    labels: Mapping[str, str]
    packed: bytes

    def body(self) -> Body:
        loaded: Body = json.loads(zlib.decompress(self.packed))
        return loaded


def _pack(body: Body) -> bytes:
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 1)


class ObjectCache:
    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], dict[str, _Entry]] = {}  # (kind, ns) -> by name
        # resourceVersion at which each dropped object left, so its late events are ignored
        self._gone: OrderedDict[Key, int] = OrderedDict()
        self._lock = threading.Lock()
        self.ready = False  # every watch has delivered its first listing

    def put(self, body: Body) -> None:
        """Keep `body` unless what is held is newer; out of scope: forget the object."""
        (kind, namespace, name), at = key_of(body), version(body)
        if kind not in CACHED.values():
            return
        entry = None
        if in_scope(body):
            labels = dict((body.get("metadata") or {}).get("labels") or {})
            entry = _Entry(at, labels, _pack(body))
        with self._lock:
            held = self._objects.setdefault((kind, namespace), {})
            if self._gone.get((kind, namespace, name), -1) >= at:
                return
            if name in held and held[name].version > at:
                return
            if entry is not None:
                held[name] = entry
            else:
                held.pop(name, None)

    def drop(self, body: Body) -> None:
        """The object was deleted, or left its watch's selection, at `body`'s version."""
        key, at = key_of(body), version(body)
        with self._lock:
            held = self._objects.get(key[:2], {})
            if key[2] in held and held[key[2]].version <= at:
                del held[key[2]]
            self._gone[key] = max(at, self._gone.pop(key, -1))
            while len(self._gone) > TOMBSTONES:
                self._gone.popitem(last=False)

    def list(self, kind: Kind, namespace: str, selector: str | None = None) -> list[Body]:
        """The objects of that selection, decoded afresh: nothing a pass does changes them."""
        with self._lock:
            held = self._objects.get((CACHED[kind], namespace), {})
            found = sorted((n, e) for n, e in held.items() if _selects(selector, e.labels))
        return [entry.body() for _, entry in found]

    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        with self._lock:
            found = self._objects.get((CACHED[kind], namespace), {}).get(name)
        return None if found is None else found.body()

    def correct(
        self, kind: Kind, namespace: str, selector: str | None, items: Iterable[Body], at: int
    ) -> None:
        """A LIST at resourceVersion `at` returned `items`: keep them, and forget the cached
        objects of that selection it did not return unless they are newer than the LIST."""
        listed = list(items)
        seen = {key_of(b)[2] for b in listed}
        for body in listed:
            self.put(body)
        with self._lock:
            held = self._objects.get((CACHED[kind], namespace), {})
            for name in [
                n
                for n, e in held.items()
                if n not in seen and _selects(selector, e.labels) and e.version <= at
            ]:
                del held[name]
