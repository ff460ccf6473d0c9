"""Hand edits of owned workloads (`kubectl scale`, `kubectl set image`): the applied-hash
annotation survives them, so the fields the operator sets are compared with the live object
too. A live object may carry more than the manifest (API defaults, other field managers'
fields); only what the manifest sets must be there, equal. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Compared on Deployments and StatefulSets: replicas, containers, template metadata;
# `resources` and volumes are left out (the API rewrites quantities, e.g. 0.5 -> 500m, which
# would read as drift on every pass).
SKIPPED = frozenset({"resources"})


def covers(live: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(live, Mapping) and all(
            k in SKIPPED or (k in live and covers(live[k], v)) for k, v in wanted.items()
        )
    if isinstance(wanted, list) and wanted and all(isinstance(w, Mapping) for w in wanted):
        if not isinstance(live, list):
            return False
        if all("name" in w for w in wanted):  # containers, env: by name, others may add
            by_name = {item.get("name"): item for item in live if isinstance(item, Mapping)}
            return all(w["name"] in by_name and covers(by_name[w["name"]], w) for w in wanted)
        return len(live) == len(wanted) and all(map(covers, live, wanted))
    return bool(live == wanted)


def drifted_fields(live: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[str]:
    """The operator's fields of a workload that differ on the live object (empty: none)."""
    out = []
    spec, live_spec = manifest.get("spec") or {}, live.get("spec") or {}
    if "replicas" in spec and live_spec.get("replicas") != spec["replicas"]:
        out.append(f"spec.replicas ({live_spec.get('replicas')}, wanted {spec['replicas']})")
    template = spec.get("template") or {}
    live_template = live_spec.get("template") or {}
    wanted_pod, live_pod = template.get("spec") or {}, live_template.get("spec") or {}
    for field in ("containers", "initContainers"):
        if field in wanted_pod and not covers(live_pod.get(field), wanted_pod[field]):
            out.append(f"spec.template.spec.{field}{_images(live_pod.get(field))}")
    if not covers(live_template.get("metadata") or {}, template.get("metadata") or {}):
        out.append("spec.template.metadata")
    return out


def _images(containers: Any) -> str:
    if not isinstance(containers, Sequence):
        return ""
    images = [str(c.get("image")) for c in containers if isinstance(c, Mapping) and "image" in c]
    return f" (images now {', '.join(images)})" if images else ""
