"""The size of what the operator writes, checked before writing: the API refuses a Secret or
ConfigMap whose data passes 1 MiB, and the Platform's keystore grows with every pinned
member. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from pico_tls.builders import names
from pico_tls.parties import DesktopMember, PlatformMember
from pico_tls.plan_model import GroupPlan, PlannedStore
from pico_tls.reconcile.exclusions import WriteFailure
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.report import reject

SECRET_LIMIT = 1024 * 1024  # bytes of data (decoded) the API accepts in a Secret or ConfigMap
WARN_AT = SECRET_LIMIT * 3 // 4  # a Warning well before the limit
MARGIN = 16 * 1024  # room kept below the limit (metadata, estimates)
ENTRY_OVERHEAD = 160  # bytes a keystore entry adds besides its certificate (alias, bags, MAC)
STORE_FULL = "StoreFull"
TOO_LARGE = "RequestEntityTooLarge"  # the API's reason for such a write


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
            f"Secret {names.tls_secret(p.name)} holds over {_kib(size)} KiB of the API's "
            f"1024 KiB limit ({len(kept)} desktops pinned); past it the newest desktops "
            "are refused"
        )
    return [d for d in desktops if d not in refused], warning


def _age(member: DesktopMember) -> tuple[str, str]:
    meta = member.body["metadata"]
    return str(meta.get("creationTimestamp", "")), str(meta.get("uid", ""))


# -- every Secret and ConfigMap of the plan -----------------------------------------------


Measured = list[tuple[str, Mapping[str, Any], int]]


def measure(plan: GroupPlan) -> Measured:
    """(kind, metadata, bytes of data) of each Secret and ConfigMap the plan holds."""
    return list(_written(plan))


def _written(plan: GroupPlan) -> Iterator[tuple[str, Mapping[str, Any], int]]:
    for manifest in plan.state_secrets:
        yield "Secret", manifest["metadata"], secret_size(manifest)
    for store in plan.stores:
        yield "Secret", store.meta, store_size(store)
    for manifest in plan.configmaps:
        yield "ConfigMap", manifest["metadata"], secret_size(manifest)


def too_big(measured: Measured, platform: str) -> tuple[WriteFailure, ...]:
    """The plan's Secrets and ConfigMaps the API would refuse for their size, as refused
    writes of their owners (the Platform's when they have none: the retained ones), so the
    owner is left out (a member) or stops the group (the Platform) before anything is sent."""
    found = []
    for kind, meta, size in measured:
        if size <= SECRET_LIMIT - MARGIN:
            continue
        refs = meta.get("ownerReferences") or []
        owner = (str(refs[0]["kind"]), str(refs[0]["name"])) if refs else ("Platform", platform)
        message = (
            f"its data would hold {size // 1024} KiB, over the API's {SECRET_LIMIT // 1024} KiB "
            "limit; make what it holds smaller (properties, pinned members)"
        )
        name = str(meta["name"])
        found.append(WriteFailure(*owner, kind, name, 413, TOO_LARGE, message, sent=False))
    return tuple(found)


def near_limit(measured: Measured) -> str | None:
    """A warning when one of the plan's Secrets or ConfigMaps nears the limit."""
    near = [(kind, meta, size) for kind, meta, size in measured if size >= WARN_AT]
    if not near:
        return None
    kind, meta, size = max(near, key=lambda found: found[2])
    return (
        f"{kind} {meta['name']} holds over {_kib(size)} KiB of the API's "
        f"{SECRET_LIMIT // 1024} KiB limit; past it its owner is left out"
    )


def _kib(size: int) -> int:
    """KiB in steps of 1/32 of the limit (32 KiB), so a message (and its one Warning) changes
    only with a step, not with every certificate."""
    step = SECRET_LIMIT // 32
    return size // step * step // 1024
