"""Revocation that never fails open. While a group is blocked (an invalid Platform spec, an
unreadable CA key, a user CA that cannot issue, a bad password Secret, a name clash, a refused
write of the Platform's) nothing is planned, yet
a deleted DesktopClient or ExecutionContainer must lose the Platform's trust at once. So the
Platform's stored keystore is rewritten from what it holds: the same key entry and CAs, less
every pinned certificate no member of the group holds any more (state or mounted Secret); the
StatefulSet rolls with the mounted-content hash a normal pass would compute, so unblocking
the group rolls nothing again. Only the Platform's own Secret and StatefulSet are written;
where that is impossible (not its own, or the write the API refused), the Platform's Ready
message and its Warning name who is still trusted. Pure."""

from __future__ import annotations

import base64
import copy
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from pico_tls.builders import names, secret_manifests, workloads
from pico_tls.keystore import (
    KeystoreContent,
    KeystoreError,
    StoreOptions,
    content_fingerprint,
    decode_keystore,
    detect_format,
    encode_keystore,
)
from pico_tls.keystore.model import Pkcs12Profile
from pico_tls.pki.certs import PkiError, certs_from_pem, sha256_fingerprint
from pico_tls.reconcile import owned, readback
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.rollout import owner_uids

Body = Mapping[str, Any]
# Fields the API server sets; never part of what the operator applies.
_SERVER_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")


@dataclass(frozen=True)
class _Stored:
    """The Platform's mounted Secret, its keystore, and the pins no member holds any more."""

    secret: Body
    data: Mapping[str, bytes]
    content: KeystoreContent
    options: StoreOptions
    revoked: list[tuple[str, x509.Certificate]]

    @property
    def who(self) -> str:
        return ", ".join(sorted({_subject(c) for _, c in self.revoked}))


def revoke_while_blocked(run: PassContext, platform: Body, why: str) -> None:
    """Drop the pins of deleted members from the Platform's stored keystore (see above)."""
    name = str(platform["metadata"]["name"])
    try:
        stored = _stored(run, platform)
    except (KeystoreError, PkiError, ValueError) as err:
        run.decision.event(
            platform,
            "Warning",
            "RevocationBlocked",
            f"{why}; Secret {names.tls_secret(name)} cannot be read ({err}): certificates of "
            "deleted members may still be trusted by the Platform until this is fixed",
        )
        return
    if stored is None or not stored.revoked or not writable(run, platform):
        return
    kept = tuple(entry for entry in stored.content.trusted if entry not in stored.revoked)
    new = KeystoreContent(stored.content.key_entry, kept)
    fingerprint = content_fingerprint(new, stored.options)
    blob = encode_keystore(new, stored.options)
    run.decision.write(_secret(stored.secret, stored.data, blob, fingerprint))
    rolled = _statefulset(run, name, fingerprint)
    run.decision.event(
        platform,
        "Warning",
        "Revoked",
        f"{why}; still, the certificates of deleted members ({stored.who}) were removed from "
        f"Secret {names.tls_secret(name)}" + ("; the Platform rolls" if rolled else ""),
    )


def writable(run: PassContext, platform: Body, refused: Collection[tuple[str, str]] = ()) -> bool:
    """Whether a revocation may be written: the mounted Secret and the StatefulSet are the
    Platform's own (owner reference) and the API did not refuse either (`refused`: the
    (kind, name) of refused writes)."""
    name, uid = str(platform["metadata"]["name"]), str(platform["metadata"].get("uid"))
    mine = (
        ("Secret", names.tls_secret(name), run.snapshot.secrets),
        ("StatefulSet", name, run.snapshot.workloads),
    )
    for kind, obj_name, found in mine:
        obj = found.get(obj_name)
        if (kind, obj_name) in refused or (obj and uid not in owner_uids(obj["metadata"])):
            return False
    return True


def still_trusted(run: PassContext, platform: Body) -> str:
    """For a message when no revocation can be written: who the Platform's store still
    trusts although they left the group ("" when nobody)."""
    try:
        stored = _stored(run, platform)
    except (KeystoreError, PkiError, ValueError):
        return (
            "; the Platform's keystore cannot be read: certificates of deleted members may "
            "still be trusted"
        )
    if stored is None or not stored.revoked:
        return ""
    return f"; no revocation can be written meanwhile: the Platform still trusts {stored.who}"


def _stored(run: PassContext, platform: Body) -> _Stored | None:
    """What the Platform's mounted Secret holds, or None when there is none (nothing is
    trusted); raises when it cannot be read."""
    secret = run.snapshot.secrets.get(names.tls_secret(str(platform["metadata"]["name"])))
    if secret is None:
        return None
    data = secret_manifests.decode_data(secret)
    content, options = _stored_store(platform, data)
    held = _held(run) | {sha256_fingerprint(c) for c in readback.cas_from(data)}
    revoked = [(a, c) for a, c in content.trusted if sha256_fingerprint(c) not in held]
    return _Stored(secret, data, content, options, revoked)


def _stored_store(
    platform: Body, data: Mapping[str, bytes]
) -> tuple[KeystoreContent, StoreOptions]:
    passwords = readback.passwords_from(data)
    blob = data.get("keystore.p12") or data.get("keystore.jks")
    if passwords is None or blob is None:
        raise KeystoreError("no keystore or no passwords in it")
    raw = (((platform.get("spec") or {}).get("tls") or {}).get("format") or {}).get("profile")
    profile = Pkcs12Profile(raw) if raw in set(Pkcs12Profile) else Pkcs12Profile.LEGACY_3DES
    options = StoreOptions(detect_format(blob), passwords.store, passwords.key, profile)
    return decode_keystore(blob, options), options


def _held(run: PassContext) -> set[str]:
    """Fingerprints of every certificate a member of the group (valid or not) holds."""
    secrets = run.snapshot.secrets
    found: set[str] = set()
    for mounted in _member_secrets(run):
        found |= _fingerprints(secrets.get(mounted), ("tls.crt",))
        state = secrets.get(names.state_secret(mounted))
        found |= _fingerprints(state, ("tls.crt", names.PREVIOUS_CERT_KEY, names.NEXT_CERT_KEY))
    return found


def _fingerprints(secret: Body | None, keys: Sequence[str]) -> set[str]:
    data = secret_manifests.decode_data(secret) if secret else {}
    found: set[str] = set()
    for key in keys:
        try:
            found |= {sha256_fingerprint(c) for c in certs_from_pem(data.get(key, b""))}
        except (PkiError, ValueError):
            continue
    return found


def _member_secrets(run: PassContext) -> Iterator[str]:
    for body in run.snapshot.containers:
        yield names.tls_secret(str(body["metadata"]["name"]))
    for body in run.snapshot.desktops:
        yield names.desktop_secret(str(body["metadata"]["name"]))


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or sha256_fingerprint(cert)


def _applied(obj: Body) -> dict[str, Any]:
    """An object as the operator applies it: without what the API server sets."""
    meta = {k: copy.deepcopy(v) for k, v in obj["metadata"].items() if k not in _SERVER_META}
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("metadata", "status")}
    return {**out, "metadata": meta}


def _secret(
    secret: Body, data: Mapping[str, bytes], blob: bytes, fingerprint: str
) -> dict[str, Any]:
    manifest = _applied(secret)
    blob_key = "keystore.p12" if "keystore.p12" in data else "keystore.jks"
    manifest["data"] = owned.ours(secret, manifest.get("data") or {})
    manifest["data"][blob_key] = base64.b64encode(blob).decode()
    annotations = manifest["metadata"].setdefault("annotations", {})
    annotations[names.CONTENT_FINGERPRINT] = fingerprint
    annotations.pop(names.DATA_DIGEST, None)  # a normal pass writes it again
    return manifest


def _ours(workload: Body) -> bool:
    labels = workload["metadata"].get("labels") or {}
    return labels.get(names.MANAGED_BY) == names.FIELD_MANAGER


def _statefulset(run: PassContext, name: str, fingerprint: str) -> bool:
    """The Platform's StatefulSet with the mounted-content hash of the new store and the
    stored properties (what a normal pass computes); False when there is none."""
    live = run.snapshot.workloads.get(name)
    configmap = run.snapshot.configmaps.get(names.tls_secret(name))
    if live is None or configmap is None or not _ours(live):
        return False  # an attached workload is the user's: it rolls with the next normal pass
    text = (configmap.get("data") or {}).get(names.PROPERTIES_FILE, "")
    manifest = _applied(live)
    template = manifest["spec"]["template"].setdefault("metadata", {})
    template.setdefault("annotations", {})[names.MOUNTED_CONTENT] = workloads.mounted_content_hash(
        fingerprint, text
    )
    run.decision.write(manifest)
    return True
