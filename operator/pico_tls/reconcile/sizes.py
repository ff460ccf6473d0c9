"""The size of what the operator writes, checked before writing: the API refuses a Secret or
ConfigMap whose data passes 1 MiB, and the Platform's keystore grows with every pinned
member. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from pico_tls.builders import names
from pico_tls.parties import DesktopMember, PlatformMember
from pico_tls.plan import GroupPlan, PlannedStore
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.report import reject

SECRET_LIMIT = 1024 * 1024  # bytes of data (decoded) the API accepts in a Secret or ConfigMap
WARN_AT = SECRET_LIMIT * 3 // 4  # a Warning well before the limit
MARGIN = 16 * 1024  # room kept below the limit (metadata, estimates)
ENTRY_OVERHEAD = 160  # bytes a keystore entry adds besides its certificate (alias, bags, MAC)
STORE_FULL = "StoreFull"


def secret_size(manifest: Mapping[str, Any]) -> int:
    """Bytes of a Secret's (base64) or a ConfigMap's data, as the API counts them."""
    total = 0
    for value in (manifest.get("data") or {}).values():
        text = str(value)
        if manifest.get("kind") == "Secret":
            total += len(text) * 3 // 4 - text[-2:].count("=")
        else:
            total += len(text.encode())
    return total


def _pins_size(store: PlannedStore) -> int:
    """A quick upper bound of the keystore's size: its certificates, with an entry overhead."""
    certs = [c for _, c in store.content.trusted]
    if store.content.key_entry is not None:
        certs += list(store.content.key_entry.chain)
    return sum(len(c.public_bytes(Encoding.DER)) + ENTRY_OVERHEAD for c in certs) + 4096


def store_size(store: PlannedStore) -> int:
    """Bytes the store's Secret holds: estimated when far below the warning, else exact."""
    others = sum(len(v.encode() if isinstance(v, str) else v) for v in store.data(b"").values())
    estimate = others + _pins_size(store)
    return estimate if estimate < WARN_AT // 2 else secret_size(store.encode())


def _desktop_cost(desktop: DesktopMember, plan: GroupPlan) -> int:
    """What a desktop adds to the Platform's store (its pins), from its own store's chain."""
    own = next((s for s in plan.stores if s.name == names.desktop_secret(desktop.spec.name)), None)
    if own is None:
        return ENTRY_OVERHEAD
    versions = [own.identity.previous, own.identity.certificate, own.identity.next]
    return sum(len(c.public_bytes(Encoding.DER)) + ENTRY_OVERHEAD for c in versions if c)


def fit(
    run: PassContext,
    platform: PlatformMember,
    desktops: Sequence[DesktopMember],
    plan: GroupPlan,
) -> tuple[list[DesktopMember], str | None]:
    """The desktops the Platform's store has room for (past the limit the newest are refused:
    Ready=False StoreFull), and a warning when the store is near the limit."""
    p = platform.spec
    store = next((s for s in plan.stores if s.name == names.tls_secret(p.name)), None)
    if store is None:
        return list(desktops), None
    size = store_size(store)
    kept = sorted(desktops, key=_age)
    refused: list[DesktopMember] = []
    while size > SECRET_LIMIT - MARGIN and kept:
        newest = kept.pop()
        refused.append(newest)
        size -= _desktop_cost(newest, plan)
    for member in refused:
        run.decision.forget_events(member.body)  # its new key is not kept: no KeyMaterial
        reject(
            run,
            member.body,
            f"the keystore of Platform {p.name} has no room for this desktop's certificate "
            f"(Secret {names.tls_secret(p.name)} would pass the API's 1 MiB limit); delete "
            "desktops you no longer need, or give this one another Platform",
            STORE_FULL,
        )
    warning = None
    if size >= WARN_AT:
        warning = (
            f"Secret {names.tls_secret(p.name)} holds over {size // 32768 * 32} KiB of the API's "
            f"1024 KiB limit ({len(kept)} desktops pinned); past it the newest desktops "
            "are refused"
        )
    return [d for d in desktops if d not in refused], warning


def _age(member: DesktopMember) -> tuple[str, str]:
    meta = member.body["metadata"]
    return str(meta.get("creationTimestamp", "")), str(meta.get("uid", ""))
