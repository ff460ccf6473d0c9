"""Step 1 of a pass: one read of a platform group's objects into a plain `Snapshot`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pico_tls.builders import names
from pico_tls.kube import (
    CONFIGMAP,
    CONTAINER,
    DEPLOYMENT,
    DESKTOP,
    PLATFORM,
    SECRET,
    SERVICE,
    STATEFULSET,
    Kind,
    Kube,
)
from pico_tls.kube.cache import BY_NAME, ObjectCache
from pico_tls.reconcile.clashes import writes_of
from pico_tls.reconcile.rollout import by_name

Body = Mapping[str, Any]
WRITTEN_KINDS = (
    (SECRET, "Secret"),
    (CONFIGMAP, "ConfigMap"),
    (SERVICE, "Service"),
    (STATEFULSET, "StatefulSet"),
    (DEPLOYMENT, "Deployment"),
)


@dataclass(frozen=True)
class Snapshot:
    """What the API held for one group when the pass started; `decide` reads only this."""

    namespace: str
    platform_name: str
    platforms: tuple[Body, ...] = ()  # every Platform of the namespace (for name clashes)
    containers: tuple[Body, ...] = ()  # ExecutionContainers of this platform, not being deleted
    desktops: tuple[Body, ...] = ()  # DesktopClients of this platform, not being deleted
    # The group's own objects (label picotls.dev/platform), by name.
    secrets: Mapping[str, Body] = field(default_factory=dict)
    configmaps: Mapping[str, Body] = field(default_factory=dict)
    services: Mapping[str, Body] = field(default_factory=dict)
    # The StatefulSets and Deployments that run the parties' pods, by the party's name: the
    # operator's own (named like their party) and the attached ones (spec.workloadRef).
    workloads: Mapping[str, Body] = field(default_factory=dict)
    # The user's Secrets the specs name (CA, passwords); None: not found.
    user_secrets: Mapping[str, Body | None] = field(default_factory=dict)
    # Every ExecutionContainer and DesktopClient of the namespace, not being deleted, and the
    # metadata of every object of the kinds the operator writes, by (kind, name): name clashes.
    namespace_members: tuple[Body, ...] = ()
    namespace_objects: Mapping[tuple[str, str], Body] = field(default_factory=dict)
    # The users' workloads labelled picotls.dev/attach=<this platform>, by (kind, name): the
    # ones the group's workloadRefs attach to are also in `workloads`, under the party's name.
    attachable: Mapping[tuple[str, str], Body] = field(default_factory=dict)

    @property
    def platform(self) -> Body | None:
        return next(
            (p for p in self.platforms if p["metadata"]["name"] == self.platform_name), None
        )


def referenced_secrets(platform: Body | None, desktops: Sequence[Body]) -> list[str]:
    """Names of the user Secrets the raw specs point at (CA, password Secrets)."""

    def ref(section: Any, key: str) -> str | None:
        found = section.get(key) if isinstance(section, Mapping) else None
        name = found.get("name") if isinstance(found, Mapping) else None
        return str(name) if name else None

    tls = ((platform or {}).get("spec") or {}).get("tls") or {}
    found = [ref(tls.get("trust") or {}, "caSecretRef"), ref(tls, "passwordSecretRef")]
    found += [ref(d.get("spec") or {}, "passwordSecretRef") for d in desktops]
    return sorted({n for n in found if n})


class _Reads:
    """Where a pass reads: the cache of what the watches delivered, or the API (whose LISTs
    then correct the cache)."""

    def __init__(self, kube: Kube, cache: ObjectCache | None, from_cache: bool) -> None:
        self.kube, self.cache = kube, cache
        self.from_cache = from_cache and cache is not None

    def list(self, kind: Kind, namespace: str, selector: str | None = None) -> list[Body]:
        if self.cache is None:
            return list(self.kube.list_objects(kind, namespace, selector))
        if self.from_cache:
            return self.cache.list(kind, namespace, selector)
        items, at = self.kube.list_at(kind, namespace, selector)
        self.cache.correct(kind, namespace, selector, items, at)
        return list(items)

    def cached(self, kind_name: str, namespace: str, name: str) -> Body | None:
        kind = BY_NAME.get(kind_name)
        if self.cache is None or kind is None:
            return None
        return self.cache.get(kind, namespace, name)


def read_snapshot(
    kube: Kube,
    namespace: str,
    platform_name: str,
    cache: ObjectCache | None = None,
    from_cache: bool = False,
) -> Snapshot:
    """The group's snapshot; `from_cache`: what the watches delivered stands in for LISTs,
    and the namespace is listed only for names the cache cannot vouch for."""
    reads = _Reads(kube, cache, from_cache)
    platforms = tuple(reads.list(PLATFORM, namespace))

    everyone = tuple(
        item
        for kind in (CONTAINER, DESKTOP)
        for item in reads.list(kind, namespace)
        if not item["metadata"].get("deletionTimestamp")
    )

    def members(kind: str) -> tuple[Body, ...]:
        return tuple(
            item
            for item in everyone
            if item["kind"] == kind
            and ((item.get("spec") or {}).get("platformRef") or {}).get("name") == platform_name
        )

    containers, desktops = members("ExecutionContainer"), members("DesktopClient")
    selector = f"{names.PLATFORM_LABEL}={platform_name}"
    # Workloads: ours only (attached ones carry the platform label too: they are watched by it).
    ours = f"{selector},{names.MANAGED_BY}={names.FIELD_MANAGER}"

    def owned(*kinds: Kind) -> dict[str, Body]:
        out: dict[str, Body] = {}
        for kind in kinds:
            workload = kind in (STATEFULSET, DEPLOYMENT)
            out.update(by_name(reads.list(kind, namespace, ours if workload else selector)))
        return out

    platform = next((p for p in platforms if p["metadata"]["name"] == platform_name), None)
    group = tuple(b for b in (platform, *containers, *desktops) if b is not None)
    attachable = _attachable(reads, namespace, platform_name, group)
    if platform is None or platform["metadata"].get("deletionTimestamp"):
        return Snapshot(
            namespace, platform_name, platforms, containers, desktops, attachable=attachable
        )
    return Snapshot(
        namespace,
        platform_name,
        platforms,
        containers,
        desktops,
        secrets=owned(SECRET),
        configmaps=owned(CONFIGMAP),
        services=owned(SERVICE),
        workloads=owned(STATEFULSET, DEPLOYMENT)
        | attached_workloads((platform, *containers), attachable),
        user_secrets={
            name: kube.get(SECRET, namespace, name)
            for name in referenced_secrets(platform, desktops)
        },
        namespace_members=everyone,
        namespace_objects=_namespace_objects(reads, namespace, group),
        attachable=attachable,
    )


def _attachable(
    reads: _Reads, namespace: str, platform: str, group: Sequence[Body]
) -> dict[tuple[str, str], Body]:
    """The users' workloads labelled to attach to `platform`. From the cache when it holds
    every workload the group's workloadRefs name (the others matter only once they carry our
    additions, and with them our platform label, which the watch selects)."""
    refs = {r for r in map(workload_ref, group) if r is not None}
    if any(reads.cached(kind, namespace, name) is None for kind, name in refs):
        reads = _Reads(reads.kube, reads.cache, from_cache=False)
    return {
        (str(item["kind"]), str(item["metadata"]["name"])): item
        for kind in (STATEFULSET, DEPLOYMENT)
        for item in reads.list(kind, namespace, f"{names.ATTACH_LABEL}={platform}")
    }


def _namespace_objects(
    reads: _Reads, namespace: str, group: Sequence[Body]
) -> dict[tuple[str, str], Body]:
    """The metadata of the namespace's objects a name-clash check or a workloadRef may meet:
    every object when reading from the API; from the cache, only the names the group writes or
    attaches to, with a metadata LIST of a kind only when one of its names is not cached."""
    if not reads.from_cache:
        return {
            (kind_name, str(item["metadata"]["name"])): item
            for kind, kind_name in WRITTEN_KINDS
            for item in reads.kube.list_metadata(kind, namespace)
        }
    wanted = {key for body in group for key in writes_of(body)}
    wanted |= {r for r in map(workload_ref, group) if r is not None}
    out: dict[tuple[str, str], Body] = {}
    for kind, kind_name in WRITTEN_KINDS:
        held = {n: reads.cached(kind_name, namespace, n) for k, n in wanted if k == kind_name}
        if all(body is not None for body in held.values()):
            out.update({(kind_name, n): b for n, b in held.items() if b is not None})
            continue
        for item in reads.kube.list_metadata(kind, namespace):
            out[(kind_name, str(item["metadata"]["name"]))] = item
    return out


def workload_ref(body: Body) -> tuple[str, str] | None:
    """(kind, name) of the workload a raw Platform or ExecutionContainer attaches to."""
    ref = (body.get("spec") or {}).get("workloadRef")
    if not isinstance(ref, Mapping) or not ref.get("kind") or not ref.get("name"):
        return None
    return str(ref["kind"]), str(ref["name"])


def attached_workloads(
    bodies: Sequence[Body], attachable: Mapping[tuple[str, str], Body]
) -> dict[str, Body]:
    """The attachable workloads the custom resources' workloadRefs name, by resource name."""
    out: dict[str, Body] = {}
    for body in bodies:
        ref = workload_ref(body)
        if ref is not None and ref in attachable:
            out[str(body["metadata"]["name"])] = attachable[ref]
    return out
