"""What a support bundle holds, pure: objects cleaned of anything private or noisy, grouped
into files. Never a Secret's data: Secrets enter only as metadata."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from pico_tls.builders.names import FIELD_MANAGER, MANAGED_BY

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # may copy a Secret's data


def clean_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata without managedFields (noise) and kubectl's last-applied copy."""
    out = {k: v for k, v in meta.items() if k != "managedFields"}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        out["annotations"] = annotations
    else:
        out.pop("annotations", None)
    return out


def custom_resource(body: Mapping[str, Any]) -> dict[str, Any]:
    """A custom resource with its spec and status (neither holds a secret)."""
    return {**body, "metadata": clean_metadata(body["metadata"])}


def written(items: Iterable[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Metadata of the objects the operator wrote (its managed-by label)."""
    return [
        {"kind": kind, "metadata": clean_metadata(i["metadata"])}
        for i in items
        if ((i.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) == FIELD_MANAGER
    ]


def ours(event: Mapping[str, Any], kinds: set[str]) -> bool:
    """An Event about one of our custom resources, or one the operator recorded."""
    involved = event.get("involvedObject") or {}
    source = (event.get("source") or {}).get("component")
    return involved.get("kind") in kinds or FIELD_MANAGER in (
        source,
        event.get("reportingComponent"),
    )


def event_line(event: Mapping[str, Any]) -> dict[str, Any]:
    involved = event.get("involvedObject") or {}
    return {
        "time": event.get("lastTimestamp") or event.get("eventTime"),
        "type": event.get("type"),
        "reason": event.get("reason"),
        "object": f"{involved.get('kind')}/{involved.get('name')}",
        "count": event.get("count"),
        "message": event.get("message"),
    }


def dump(docs: Iterable[Any]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)
