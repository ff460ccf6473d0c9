"""StatefulSet, Services and Deployments that run the pico instances and mount their TLS.

The pod template carries one annotation, the hash of what the pod mounts, so a pod rolls
exactly when its keystore, passwords or properties change, never otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pico_tls.builders import form_content, names
from pico_tls.builders.pod_delivery import PASSWORD_ENV, PodDelivery, pod_delivery
from pico_tls.delivery_choice import DeliverySpec
from pico_tls.spec_model import ContainerSpec, PlatformSpec, PodTemplateSpec

EC_WEB_PORT = 9090
KEYSTORE_VOLUME = "pico-tls"
STORE_PASSWORD_ENV = PASSWORD_ENV[form_content.STORE]
KEY_PASSWORD_ENV = PASSWORD_ENV[form_content.KEY]


def mounted_content_hash(*parts: str) -> str:
    """Hash of what a pod mounts, from content fingerprints (never raw keystore bytes)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def manifest_hash(manifest: Mapping[str, Any]) -> str:
    """Stable hash of a manifest we write, kept on it to skip writes that change nothing."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def with_applied_hash(manifest: dict[str, Any]) -> dict[str, Any]:
    meta = manifest["metadata"]
    annotations = {**meta.get("annotations", {}), names.APPLIED_HASH: manifest_hash(manifest)}
    return {**manifest, "metadata": {**meta, "annotations": annotations}}


def _selector(component: str, instance: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "pico",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
    }


def _pod_template(
    *,
    container_name: str,
    image: str,
    pull_policy: str | None,
    pod: PodTemplateSpec,
    selector: Mapping[str, str],
    tls_secret: str | None,
    mount_path: str,
    delivered: PodDelivery,
    ports: list[dict[str, Any]],
    probe_port: str,
    content_hash: str,
) -> dict[str, Any]:
    env: list[dict[str, Any]] = [dict(e) for e in pod.env] + delivered.env
    mounts, volumes = list(delivered.mounts), list(delivered.volumes)
    if tls_secret is not None:
        mounts.append(keystore_mount(mount_path))
        volumes.append(keystore_volume(tls_secret))
    container: dict[str, Any] = {
        "name": container_name,
        "image": image,
        "ports": ports,
        "env": env,
        "volumeMounts": mounts + [dict(m) for m in pod.volume_mounts],
        # A TCP probe needs no client certificate, so required client auth cannot break it.
        "readinessProbe": {"tcpSocket": {"port": probe_port}, "periodSeconds": 10},
    }
    if delivered.args:
        container["args"] = delivered.args
    if pull_policy:
        container["imagePullPolicy"] = pull_policy
    if pod.resources:
        container["resources"] = dict(pod.resources)
    if pod.security_context:
        container["securityContext"] = dict(pod.security_context)
    spec: dict[str, Any] = {
        "containers": [container],
        "volumes": volumes + [dict(v) for v in pod.volumes],
    }
    for key, value in (
        ("nodeSelector", pod.node_selector),
        ("affinity", pod.affinity),
        ("securityContext", pod.pod_security_context),
    ):
        if value:
            spec[key] = dict(value)
    if pod.tolerations:
        spec["tolerations"] = [dict(t) for t in pod.tolerations]
    return {
        "metadata": {
            "labels": {**pod.labels, **selector},
            "annotations": {**pod.annotations, names.MOUNTED_CONTENT: content_hash},
        },
        "spec": spec,
    }


def keystore_mount(mount_path: str) -> dict[str, Any]:
    return {"name": KEYSTORE_VOLUME, "mountPath": mount_path, "readOnly": True}


def keystore_volume(tls_secret: str) -> dict[str, Any]:
    return {"name": KEYSTORE_VOLUME, "secret": {"secretName": tls_secret, "defaultMode": 0o440}}


def _delivered(
    name: str, props: Mapping[str, str], choice: DeliverySpec, tls_secret: str | None, mount: str
) -> PodDelivery:
    settings = form_content.pico_settings(props, web_ui_tls=choice.web_ui_tls)
    return pod_delivery(settings, choice, tls_secret, mount, names.properties_configmap(name))


def pod_additions(
    name: str, props: Mapping[str, str], choice: DeliverySpec, tls_secret: str | None, mount: str
) -> PodDelivery:
    """Everything a pod of party `name` gets for TLS, the keystore volume included (what the
    operator adds to an attached workload)."""
    out = _delivered(name, props, choice, tls_secret, mount)
    if tls_secret is not None:
        out.mounts.append(keystore_mount(mount))
        out.volumes.append(keystore_volume(tls_secret))
    return out


def platform_statefulset(
    platform: PlatformSpec,
    meta: dict[str, Any],
    content_hash: str,
    props: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`props`: the Platform's public properties (`properties.rcp_properties`), carried
    in its delivery form."""
    selector = _selector("platform", platform.name)
    tls = platform.tls
    tls_secret = names.tls_secret(platform.name) if tls.enabled else None
    template = _pod_template(
        container_name="platform",
        image=platform.image,
        pull_policy=platform.image_pull_policy,
        pod=platform.pod,
        selector=selector,
        tls_secret=tls_secret,
        mount_path=tls.mount_path,
        delivered=_delivered(
            platform.name, props or {}, platform.delivery, tls_secret, tls.mount_path
        ),
        ports=[
            {"name": "rcp", "containerPort": platform.service.rcp_port},
            {"name": "web", "containerPort": platform.service.web_port},
        ],
        probe_port="rcp",
        content_hash=content_hash,
    )
    return with_applied_hash(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta,
            "spec": {
                "replicas": 1,
                "serviceName": names.headless_service(platform.name),
                "selector": {"matchLabels": selector},
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate"},
                "template": template,
            },
        }
    )


def platform_services(
    platform: PlatformSpec,
    meta: dict[str, Any],
    headless_meta: dict[str, Any],
    attached_selector: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The Platform's Services; for an attached workload they select its pods (its
    `matchLabels`) and target the port numbers (its ports need not be named rcp and web)."""
    selector = dict(attached_selector or _selector("platform", platform.name))
    rcp, web = platform.service.rcp_port, platform.service.web_port
    ports = [
        {"name": "rcp", "port": rcp, "targetPort": rcp if attached_selector else "rcp"},
        {"name": "web", "port": web, "targetPort": web if attached_selector else "web"},
    ]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"type": platform.service.type, "selector": selector, "ports": ports},
    }
    headless = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": headless_meta,
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector,
            "ports": ports,
        },
    }
    return [with_applied_hash(service), with_applied_hash(headless)]


def container_deployment(
    container: ContainerSpec,
    platform: PlatformSpec,
    meta: dict[str, Any],
    content_hash: str,
    props: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    selector = _selector("execution-container", container.name)
    tls_secret = names.tls_secret(container.name) if platform.tls.enabled else None
    mount_path = platform.tls.mount_path
    template = _pod_template(
        container_name="ec",
        image=container.image,
        pull_policy=container.image_pull_policy,
        pod=container.pod,
        selector=selector,
        tls_secret=tls_secret,
        mount_path=mount_path,
        delivered=_delivered(
            container.name, props or {}, container.delivery_under(platform), tls_secret, mount_path
        ),
        ports=[{"name": "web", "containerPort": EC_WEB_PORT}],
        probe_port="web",
        content_hash=content_hash,
    )
    return with_applied_hash(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": container.replicas,
                "selector": {"matchLabels": selector},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                },
                "template": template,
            },
        }
    )
