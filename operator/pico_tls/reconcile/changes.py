"""Which watch events of the operator's own objects (and of the custom resources) matter to a
pass.

A Deployment or StatefulSet changes its status several times while it rolls out (replicas
created, updated, ready, available, conditions); `decide` reads of that status only whether the
workload runs its current template everywhere (`rollout.rolled_out`) and whether its rollout is
stuck (`rollout.stuck`: a Deployment's controller gave up, or a StatefulSet's deadline passed,
a time no event brings). `relevant_state` is what `decide` can see of an object: for workloads
those answers beside the metadata and spec, for the other kinds the whole object. An event that
leaves it unchanged starts no pass (`ChangeFilter`). Bookkeeping fields (resourceVersion,
managedFields) never count. Pure but for the filter's memory.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pico_tls.reconcile.rollout import deadline_exceeded, rolled_out
from pico_tls.spec_model import GROUP

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
BOOKKEEPING = ("resourceVersion", "managedFields")
OURS = f"{GROUP}/"  # annotations of ours (a workload's applied hash)
ObjectKey = tuple[str, str, str]  # (kind, namespace, name)


def relevant_state(body: Mapping[str, Any]) -> str:
    """A digest of what `decide` reads of `body` (an object of one of the watched kinds)."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in BOOKKEEPING}
    seen: dict[str, Any] = {**body, "metadata": meta}
    if body.get("kind") in WORKLOAD_KINDS:
        # a StatefulSet's deadline is a time, which no event brings: decide's safety net looks
        seen["status"] = {"rolledOut": rolled_out(body), "gaveUp": deadline_exceeded(body)}
        annotations = meta.get("annotations") or {}  # the controller's revision is not read
        meta["annotations"] = {k: v for k, v in annotations.items() if k.startswith(OURS)}
    text = json.dumps(seen, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ChangeFilter:
    """Remembers the relevant state of every watched object; thread-safe."""

    def __init__(self) -> None:
        self._seen: dict[ObjectKey, str] = {}
        self._written: dict[ObjectKey, str] = {}  # what the operator's last write of each made
        self._lock = threading.Lock()

    def matters(self, body: Mapping[str, Any], deleted: bool = False) -> bool:
        """True when this event changes what a pass would read (always for a deletion and for
        an object not seen before)."""
        key = _key(body)
        with self._lock:
            if deleted:
                self._seen.pop(key, None)
                self._written.pop(key, None)
                return True
            digest = relevant_state(body)
            if self._seen.get(key) == digest:
                return False
            self._seen[key] = digest
            return True

    def saw(self, body: Mapping[str, Any]) -> None:
        """The operator wrote `body` (as stored): its watch event will not start a pass."""
        key, digest = _key(body), relevant_state(body)
        with self._lock:
            self._seen[key] = self._written[key] = digest

    def echo(self, body: Mapping[str, Any]) -> Callable[[], bool]:
        """A check for the scheduler: true once the operator's own write has produced what
        `body` holds (its watch event came before the write's response was recorded)."""
        key, digest = _key(body), relevant_state(body)

        def written() -> bool:
            with self._lock:
                return self._written.get(key) == digest

        return written


def _key(body: Mapping[str, Any]) -> ObjectKey:
    meta = body.get("metadata") or {}
    return (str(body.get("kind")), str(meta.get("namespace")), str(meta.get("name")))
