"""Attached workloads (spec.workloadRef): the minimal server-side apply configuration that adds
a party's TLS delivery to the user's own StatefulSet or Deployment, and the empty one that takes
it back. Applied with the field manager `pico-tls-attach` (never forced), so it carries only
the operator's fields: volumes, the pico container's mounts, env and (for the forms that need
them) args, the mounted-content annotation of the pod template, and two annotations on the
workload naming who attached it. Never replicas, images or anything else. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pico_tls.builders import names, workloads
from pico_tls.builders.pod_delivery import PodDelivery
from pico_tls.delivery_choice import DeliverySpec
from pico_tls.spec_model import ContainerSpec, PlatformSpec, TlsSpec

Body = Mapping[str, Any]


def _pod_spec(workload: Body) -> Mapping[str, Any]:
    return ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}


def pico_container(workload: Body, container_name: str | None) -> str | None:
    """The container that runs the pico: the one named, else the pod's first; None when the
    pod has no such container."""
    found = [str(c.get("name")) for c in _pod_spec(workload).get("containers") or ()]
    if container_name is None:
        return found[0] if found else None
    return container_name if container_name in found else None


def match_labels(workload: Body) -> dict[str, str]:
    """The workload's pod selector labels (a Service selects its pods with them)."""
    selector = (workload.get("spec") or {}).get("selector") or {}
    return {str(k): str(v) for k, v in (selector.get("matchLabels") or {}).items()}


def _target(workload: Body) -> dict[str, Any]:
    meta = workload["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": str(workload["kind"]),
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }


def attach_patch(
    workload: Body,
    *,
    owner: str,
    platform: str,
    container: str,
    delivered: PodDelivery,
    content_hash: str,
    keep_on_delete: bool = False,
) -> dict[str, Any]:
    """What the operator applies to `workload` for the party `owner` ("Platform/mz"):
    `delivered` (pod_additions) on `container`, and the content hash that rolls the pods.
    The workload gets the label picotls.dev/platform (the operator watches workloads by it)."""
    annotations = {names.ATTACHED_BY: owner}
    if keep_on_delete:
        annotations[names.KEEP_ON_DELETE] = "true"
    pico: dict[str, Any] = {"name": container}
    for key, value in (
        ("env", delivered.env),
        ("volumeMounts", delivered.mounts),
        ("args", delivered.args),
    ):
        if value:
            pico[key] = [v if isinstance(v, str) else dict(v) for v in value]
    pod: dict[str, Any] = {"containers": [pico]}
    if delivered.volumes:
        pod["volumes"] = [dict(v) for v in delivered.volumes]
    template = {"metadata": {"annotations": {names.MOUNTED_CONTENT: content_hash}}, "spec": pod}
    out = _target(workload)
    out["metadata"].update(labels={names.PLATFORM_LABEL: platform}, annotations=annotations)
    return {**out, "spec": {"template": template}}


def detach_patch(workload: Body) -> dict[str, Any]:
    """The empty configuration: applied with the same field manager, server-side apply drops
    every field the operator alone set (fields another manager also set stay theirs)."""
    return _target(workload)


def attached_by(workload: Body) -> str | None:
    """ "<Kind>/<name>" of the custom resource whose additions the workload carries."""
    value = (workload["metadata"].get("annotations") or {}).get(names.ATTACHED_BY)
    return str(value) if value else None


def keeps_additions(workload: Body) -> bool:
    annotations = workload["metadata"].get("annotations") or {}
    return annotations.get(names.KEEP_ON_DELETE) == "true"


def consent(workload: Body) -> str | None:
    """The Platform the workload's owner offered it to (label picotls.dev/attach), or None."""
    value = (workload["metadata"].get("labels") or {}).get(names.ATTACH_LABEL)
    return str(value) if value else None


def party_patch(
    live: Body,
    kind: str,  # of the custom resource: Platform or ExecutionContainer
    spec: PlatformSpec | ContainerSpec,
    choice: DeliverySpec,
    tls: TlsSpec,
    props: Mapping[str, str],
    content_hash: str,
) -> dict[str, Any] | None:
    """The additions of one party (its delivery form `choice`, the Platform's `tls`) to its
    own workload `live`; None when that workload has no such container."""
    ref = spec.workload_ref
    container = pico_container(live, ref.container_name if ref else None)
    if ref is None or container is None:
        return None
    tls_secret = names.tls_secret(spec.name) if tls.enabled else None
    delivered = workloads.pod_additions(spec.name, props, choice, tls_secret, tls.mount_path)
    return attach_patch(
        live,
        owner=f"{kind}/{spec.name}",
        platform=spec.platform if isinstance(spec, ContainerSpec) else spec.name,
        container=container,
        delivered=delivered,
        content_hash=content_hash,
        keep_on_delete=ref.keep_on_delete,
    )
