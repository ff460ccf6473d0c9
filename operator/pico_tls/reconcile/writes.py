"""Write a group's planned objects, only those whose meaning differs from what is there."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pico_tls.builders import names
from pico_tls.keystore import KeystoreError, content_fingerprint, decode_keystore
from pico_tls.kube import Kube
from pico_tls.plan import GroupPlan, PlannedStore
from pico_tls.reconcile.rollout import template_hash

Decoder = Callable[[Mapping[str, bytes]], Any]
# (secret, what, decoder) -> decoded value, cached while the Secret is unchanged
DecodeCache = Callable[[Mapping[str, Any] | None, str, Decoder], Any]


class PassObjects(Protocol):
    """One pass's view of the group's objects (updated as we write) and its write count."""

    writes: int
    secrets: dict[str, Mapping[str, Any]]
    configmaps: dict[str, Mapping[str, Any]]
    services: dict[str, Mapping[str, Any]]
    workloads: dict[str, Mapping[str, Any]]


class GroupWriter:
    """Applies a plan; keeps no per-pass state (groups are reconciled in parallel threads)."""

    def __init__(self, kube: Kube, cached: DecodeCache) -> None:
        self.kube = kube
        self._cached = cached

    def apply(self, run: PassObjects, manifest: dict[str, Any]) -> dict[str, Any]:
        run.writes += 1
        return self.kube.apply(manifest)

    def write(self, run: PassObjects, plan: GroupPlan) -> dict[str, Mapping[str, Any]]:
        """Write what changed; returns the workloads (StatefulSets, Deployments) by name."""
        for manifest in plan.state_secrets:
            name = manifest["metadata"]["name"]
            current = run.secrets.get(name)
            if current is None or current.get("data") != manifest["data"]:
                run.secrets[name] = self.apply(run, manifest)
        for store in plan.stores:
            current = run.secrets.get(store.name)
            if self._store_matches(store, current):
                continue
            run.secrets[store.name] = self.apply(run, store.encode())
            if current is None:
                reason, verb = "SecretCreated", "wrote"
            elif (current.get("metadata", {}).get("annotations") or {}).get(
                names.CONTENT_FINGERPRINT
            ) == store.fingerprint:
                reason, verb = "SecretRestored", "restored (it had been edited)"
            else:
                reason, verb = "KeystoreUpdated", "updated"
            message = f"Secret {store.name}: {verb}"
            if current is not None and not store.with_properties:  # a desktop's key
                message += "; import it again in the Desktop Launcher"
            self._tell_owner(store.meta, reason, message)
        for manifest in plan.configmaps:
            self._apply_if_changed(run, manifest, run.configmaps)
        workloads: dict[str, Mapping[str, Any]] = {}
        for manifest in plan.workloads:
            name = manifest["metadata"]["name"]
            if manifest["kind"] == "Service":
                self._apply_if_changed(run, manifest, run.services)
                continue
            before = run.workloads.get(name)
            after = self._apply_if_changed(run, manifest, run.workloads)
            if before is not None and template_hash(before) != template_hash(after):
                message = f"{manifest['kind']} {name}: mounted TLS content changed"
                self._tell_owner(manifest["metadata"], "RollingPods", message)
            workloads[name] = after
        return workloads

    def _store_matches(self, store: PlannedStore, current: Mapping[str, Any] | None) -> bool:
        if current is None:
            return False
        return bool(
            self._cached(
                current, f"match:{store.data_digest}", lambda data: _data_matches(store, data)
            )
        )

    def _apply_if_changed(
        self, run: PassObjects, manifest: dict[str, Any], cache: dict[str, Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        name = manifest["metadata"]["name"]
        current = cache.get(name)
        wanted = manifest["metadata"]["annotations"][names.APPLIED_HASH]
        if (
            current is not None
            and current.get("kind") == manifest["kind"]
            and ((current["metadata"].get("annotations") or {}).get(names.APPLIED_HASH) == wanted)
            # a ConfigMap edited by hand keeps our annotation: compare what pods read too
            and current.get("data", manifest.get("data")) == manifest.get("data")
        ):
            return current
        cache[name] = self.apply(run, manifest)
        if current is not None and manifest["kind"] == "ConfigMap":
            message = f"ConfigMap {name}: rcp-tls.properties written"
            self._tell_owner(manifest["metadata"], "PropertiesUpdated", message)
        return cache[name]

    def _tell_owner(self, meta: Mapping[str, Any], reason: str, message: str) -> None:
        """A Normal Event on the written object's owner, if it has one."""
        owner = _owner_body(meta)
        if owner is not None:
            self.kube.event(owner, "Normal", reason, message)


def _owner_body(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A minimal body of the object's first owner, enough to attach an Event to it."""
    refs = meta.get("ownerReferences") or []
    if not refs:
        return None
    ref = refs[0]
    return {
        "apiVersion": ref["apiVersion"],
        "kind": ref["kind"],
        "metadata": {"name": ref["name"], "namespace": meta["namespace"], "uid": ref["uid"]},
    }


def _data_matches(store: PlannedStore, data: Mapping[str, bytes]) -> bool:
    """True when Secret data means what `store` wants: same files, same keystore content."""
    expected = store.data(b"")
    blob_key = next(k for k, v in expected.items() if v == b"")
    if set(data) != set(expected) or blob_key not in data:
        return False
    for key, value in expected.items():
        raw = value.encode() if isinstance(value, str) else value
        if key != blob_key and data[key] != raw:
            return False
    try:
        content = decode_keystore(data[blob_key], store.options)
    except KeystoreError:
        return False
    return content_fingerprint(content, store.options) == store.fingerprint
