"""Names never collide silently. Before anything is written, every custom resource of the
group is checked against the objects it would write:
- another custom resource of the namespace would write the same object (a Platform named like
  an ExecutionContainer: both write `<name>-rcp-tls-state`): the newcomer (later
  creationTimestamp, then larger uid) is refused, the older one keeps its objects;
- the object exists and belongs to something else (its controller owner reference names
  another resource; or it has no owner and is not the operator's): the writer is refused.
An object the operator made for a resource of the same kind and name (a deleted and recreated
custom resource, or one retained by `retainOnDelete`) is adopted. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pico_tls.builders import names

Body = Mapping[str, Any]
ObjectKey = tuple[str, str]  # (kind, name)

NAME_CLASH = "NameClash"  # the reason of a refusal for a name clash


def writes_of(body: Body) -> set[ObjectKey]:
    """The objects a custom resource makes the operator write (all it may write)."""
    kind, name = str(body["kind"]), str(body["metadata"]["name"])
    if kind == "DesktopClient":
        key = names.desktop_secret(name)
        return {("Secret", key), ("Secret", names.state_secret(key))}
    tls = names.tls_secret(name)
    out = {
        ("Secret", tls),
        ("Secret", names.state_secret(tls)),
        ("ConfigMap", names.properties_configmap(name)),
    }
    own_workload = not (body.get("spec") or {}).get("workloadRef")  # else the user's, attached
    if kind == "ExecutionContainer":
        return out | ({("Deployment", name)} if own_workload else set())
    out |= {("Service", name), ("Service", names.headless_service(name))}
    if own_workload:
        out.add(("StatefulSet", name))
    spec_tls = (body.get("spec") or {}).get("tls") or {}
    trust = spec_tls.get("trust") or {}
    if not trust.get("caSecretRef") and trust.get("mode", "CertificateAuthority") != "Pinned":
        out.add(("Secret", names.ca_secret(name)))
    return out


def _age(body: Body) -> tuple[str, str]:
    meta = body["metadata"]
    return str(meta.get("creationTimestamp") or ""), str(meta.get("uid") or "")


def _label(body: Body) -> str:
    return f"{body['kind']} {body['metadata']['name']}"


def _with_other_resources(body: Body, everyone: Iterable[Body]) -> str | None:
    """A message when an older custom resource writes one of `body`'s objects."""
    mine = writes_of(body)
    for other in everyone:
        if _label(other) == _label(body):
            continue
        shared = sorted(mine & writes_of(other))
        if shared and _age(other) < _age(body):
            kind, name = shared[0]
            return (
                f"{_label(body)} would write {kind} {name}, which {_label(other)} "
                f"(created earlier) writes too: rename {_label(body)}; nothing was written for it"
            )
    return None


def _controller(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refs = meta.get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def _with_namespace_objects(body: Body, namespace_objects: Mapping[ObjectKey, Body]) -> str | None:
    """A message when an object `body` would write exists and belongs to something else."""
    for kind, name in sorted(writes_of(body)):
        found = namespace_objects.get((kind, name))
        if found is None:
            continue
        meta = found["metadata"]
        owner = _controller(meta)
        if owner is None:
            if (meta.get("labels") or {}).get(names.MANAGED_BY) == names.FIELD_MANAGER:
                continue  # the operator's, left without owner (retained): adopted
            return (
                f"{_label(body)} would write {kind} {name}, which exists and was not made by "
                f"the operator: rename or delete that {kind}, or rename {_label(body)}"
            )
        if (owner.get("kind"), owner.get("name")) != (body["kind"], body["metadata"]["name"]):
            return (
                f"{_label(body)} would write {kind} {name}, which belongs to "
                f"{owner.get('kind')} {owner.get('name')}: rename one of them; "
                f"nothing was written for {_label(body)}"
            )
    return None


def name_clash(
    body: Body, everyone: Iterable[Body], namespace_objects: Mapping[ObjectKey, Body]
) -> str | None:
    """Why `body` must not write its objects, or None."""
    return _with_other_resources(body, everyone) or _with_namespace_objects(body, namespace_objects)
