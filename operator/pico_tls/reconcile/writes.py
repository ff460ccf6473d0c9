"""Which planned objects a pass writes: only those whose meaning differs from what is there
(in what the operator owns: owned.py), with the Event that tells their owner why. Pure:
everything goes into the Decision."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pico_tls.builders import names
from pico_tls.keystore import KeystoreError, content_fingerprint, decode_keystore
from pico_tls.pki.certs import cert_to_pem
from pico_tls.plan_model import GroupPlan, PlannedStore
from pico_tls.reconcile import owned
from pico_tls.reconcile.attachments import decide_attachments
from pico_tls.reconcile.decision import Decision
from pico_tls.reconcile.drift import drifted_fields
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.rollout import owner_uids, rolled_out, template_hash

Body = Mapping[str, Any]
CREATED = "SecretCreated"  # a new party's Secret, key and certificate: one Event on it
GATHERED = "SecretsCreated"  # more than BULK of them in one pass: one Event on the Platform
BULK = 5
NAMED = 12  # parties a gathered Event names


@dataclass(frozen=True)
class Written:
    """What `decide_writes` decided: per workload, whether it runs its current template on
    every replica (a workload written in this pass does not yet), and the custom resources
    whose objects this pass writes."""

    rolled_out: Mapping[str, bool]
    owners: frozenset[tuple[str, str]]


def decide_writes(run: PassContext, plan: GroupPlan) -> Written:
    """Record the writes of `plan` (only what differs in meaning from the snapshot)."""
    snap = run.snapshot
    written: list[Mapping[str, Any]] = []
    for manifest in plan.state_secrets:
        current = snap.secrets.get(manifest["metadata"]["name"])
        if (
            current is None
            or owned.ours(current, current.get("data") or {}) != manifest["data"]
            or owner_uids(current["metadata"]) != owner_uids(manifest["metadata"])
        ):
            run.decision.write(manifest)
            written.append(manifest["metadata"])
    changed = [store for store in plan.stores if _store_differs(run, store)]
    encoded = run.encoder([(store.content, store.options) for store in changed])
    for store, keystore in zip(changed, encoded, strict=True):
        _write_store(run, store, keystore)
        written.append(store.meta)
    for manifest in plan.configmaps:
        if _write_if_changed(run, manifest, snap.configmaps):
            written.append(manifest["metadata"])
            if _exists(manifest, snap.configmaps):
                message = f"ConfigMap {manifest['metadata']['name']}: rcp-tls.properties written"
                _tell_owner(run, manifest["metadata"], "PropertiesUpdated", message)
    settled: dict[str, bool] = {}
    for manifest in plan.workloads:
        name = manifest["metadata"]["name"]
        before = snap.workloads.get(name)
        written_now = _write_if_changed(run, manifest, snap.workloads)
        if written_now and before is not None and template_hash(before) != template_hash(manifest):
            message = f"{manifest['kind']} {name}: mounted TLS content changed"
            _tell_owner(run, manifest["metadata"], "RollingPods", message)
        elif (
            not written_now and before is not None and (edited := drifted_fields(before, manifest))
        ):
            run.decision.write(manifest)
            written_now = True
            message = f"{manifest['kind']} {name}: put back {', '.join(edited)} (edited by hand)"
            _tell_owner(run, manifest["metadata"], "WorkloadRestored", message)
        if written_now:
            written.append(manifest["metadata"])
        settled[name] = not written_now and rolled_out(before)
        if manifest["kind"] == "StatefulSet":  # the Platform's Services follow its workload
            _write_services(run, plan, written)
    if plan.attachments:
        owners = {str(b["metadata"]["name"]): b for b in (snap.platform, *snap.containers) if b}
        settled |= decide_attachments(run, plan.attachments, owners)
        if not any(m["kind"] == "StatefulSet" for m in plan.workloads):  # attached Platform
            _write_services(run, plan, written)
    return Written(settled, frozenset(filter(None, map(_owner, written))))


def _write_services(run: PassContext, plan: GroupPlan, written: list[Mapping[str, Any]]) -> None:
    for service in plan.services:
        if _write_if_changed(run, service, run.snapshot.services):
            written.append(service["metadata"])


def _owner(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    refs = meta.get("ownerReferences") or []
    return (str(refs[0]["kind"]), str(refs[0]["name"])) if refs else None


def _store_differs(run: PassContext, store: PlannedStore) -> bool:
    """True unless the store's Secret already means the same."""
    current = run.snapshot.secrets.get(store.name)
    return current is None or not run.decoded(
        current,
        f"match:{store.data_digest}",
        lambda data: _data_matches(store, owned.ours(current, data)),
    )


def _write_store(run: PassContext, store: PlannedStore, keystore: bytes) -> None:
    """Record the store's write (`keystore`: its content, encoded) and tell its owner."""
    current = run.snapshot.secrets.get(store.name)
    run.decision.write(store.manifest(keystore))
    reason, message = _store_event(current, store)
    _tell_owner(run, store.meta, reason, f"Secret {store.name}: {message}")


def _store_event(current: Body | None, store: PlannedStore) -> tuple[str, str]:
    """What really happened to a keystore Secret: made, put back after a hand edit (the
    operator wants what it wrote last time), or changed by the operator (and how)."""
    if current is None:  # one Event for a new party: its key, certificate and store
        until = store.identity.certificate.not_valid_after_utc.strftime("%Y-%m-%d")
        return CREATED, f"wrote its key and a certificate valid until {until}"
    annotations = current["metadata"].get("annotations") or {}
    if annotations.get(names.DATA_DIGEST) == store.data_digest:
        return "SecretRestored", "restored what the operator wrote (it had been edited)"
    written_cert = (current.get("data") or {}).get("tls.crt")
    renewed = written_cert != base64.b64encode(cert_to_pem(store.identity.certificate)).decode()
    message = "certificate renewed" if renewed else "trust or settings updated"
    if not store.with_properties:  # a desktop's key: re-import only if its keystore changed
        if annotations.get(names.CONTENT_FINGERPRINT) != store.fingerprint:
            message += "; import it again in the Desktop Launcher"
        elif not renewed:
            message = "platform.crt updated; its keystore is unchanged (no re-import needed)"
    return "KeystoreUpdated", message


def _exists(manifest: Mapping[str, Any], current: Mapping[str, Body]) -> bool:
    return manifest["metadata"]["name"] in current


def _write_if_changed(
    run: PassContext, manifest: dict[str, Any], current: Mapping[str, Body]
) -> bool:
    """Record a write unless the object already carries this manifest's applied hash (and,
    for a ConfigMap edited by hand, the same data). True when it writes."""
    found = current.get(manifest["metadata"]["name"])
    wanted = manifest["metadata"]["annotations"][names.APPLIED_HASH]
    if (
        found is not None
        and found.get("kind") == manifest["kind"]
        and (found["metadata"].get("annotations") or {}).get(names.APPLIED_HASH) == wanted
        and owned.ours(found, found.get("data", manifest.get("data")) or {})
        == (manifest.get("data") or {})
    ):
        return False
    run.decision.write(manifest)
    return True


def _tell_owner(run: PassContext, meta: Mapping[str, Any], reason: str, message: str) -> None:
    """A Normal Event on the written object's first owner, if it has one."""
    refs = meta.get("ownerReferences") or []
    if refs:
        ref = refs[0]
        owner = {
            "apiVersion": ref["apiVersion"],
            "kind": ref["kind"],
            "metadata": {"name": ref["name"], "namespace": meta["namespace"], "uid": ref["uid"]},
        }
        run.decision.event(owner, "Normal", reason, message)


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


def gather_created(decision: Decision, platform: Body) -> None:
    """A pass that makes more than BULK new parties (a bulk apply) tells them in one Event on
    the Platform instead of one on each: their status says the rest, and every Event is a
    request to the API."""
    created = [a for a in decision.events if a.reason == CREATED]
    if len(created) <= BULK:
        return
    gathered = {id(e) for e in created}
    decision.actions = [a for a in decision.actions if id(a) not in gathered]
    parties = [f"{e.involved['kind']} {e.involved['metadata']['name']}" for e in created]
    more = f" and {len(parties) - NAMED} more" if len(parties) > NAMED else ""
    until = sorted({e.message.rsplit(" ", 1)[-1] for e in created})
    message = (
        f"wrote the key, a certificate (valid until {', '.join(until)}) and the Secret of "
        f"{len(parties)} new parties: {', '.join(parties[:NAMED])}{more}"
    )
    decision.event(platform, "Normal", GATHERED, message)
