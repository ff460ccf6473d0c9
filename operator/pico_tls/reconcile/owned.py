"""What of an object the operator owns: the data keys its field manager applied, read from
`metadata.managedFields`. A key another manager added (a tool annotating a Secret with a
data key of its own) is theirs: server-side apply keeps it, so the write decision must not
count it as a difference, or every pass would write again. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pico_tls.builders import names


def owned_keys(obj: Mapping[str, Any], field: str = "data") -> set[str] | None:
    """Keys of `obj[field]` the operator's field manager applied; None when the object records
    no apply of ours (made by hand, or by an API that keeps no managedFields)."""
    entries = [
        entry
        for entry in obj.get("metadata", {}).get("managedFields") or []
        if entry.get("manager") == names.FIELD_MANAGER and entry.get("operation") == "Apply"
    ]
    if not entries:
        return None
    keys: set[str] = set()
    for entry in entries:
        fields = (entry.get("fieldsV1") or {}).get(f"f:{field}") or {}
        keys |= {key[2:] for key in fields if key.startswith("f:")}
    return keys


def ours(obj: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` (obj's data, raw or decoded) without the keys other managers own."""
    keys = owned_keys(obj)
    return dict(data) if keys is None else {k: v for k, v in data.items() if k in keys}
