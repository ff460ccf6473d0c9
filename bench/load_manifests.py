"""Manifests of the load benchmark (bench_load.py): the custom resources of the operator run, and
the bare objects of the baseline run, equivalent to what the operator makes for them.

Per namespace the operator makes, for a Platform: 3 Secrets (CA, key state, keystore), a
ConfigMap, a StatefulSet and 2 Services; per ExecutionContainer: 2 Secrets, a ConfigMap and a
Deployment; per DesktopClient: 2 Secrets (keystore, key state). The baseline writes the same
objects with payloads of about the same size (random bytes, no key material).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

GROUP_VERSION = "picotls.dev/v1alpha1"
RUN_LABEL = "picotls.dev/load"
PLATFORM = "mz"
IMAGE = "registry.example.com/pico/ec:9.3"
SECRET_BYTES = 4096  # a keystore Secret holds a PKCS12 store, PEMs and properties: ~4-6 KB
STATE_BYTES = 2048  # a key state Secret: a PEM key, a certificate, passwords


@dataclass(frozen=True)
class Layout:
    """`containers` and `desktops` spread over `namespaces` (round robin)."""

    namespaces: int
    containers: int
    desktops: int
    prefix: str

    def namespace_names(self) -> list[str]:
        return [f"{self.prefix}-{i:02d}" for i in range(self.namespaces)]

    def members(self, count: int) -> Iterator[tuple[str, str]]:
        spaces = self.namespace_names()
        for i in range(count):
            yield spaces[i % len(spaces)], f"{i:04d}"

    @property
    def objects(self) -> int:
        """Custom resources of the operator run."""
        return self.namespaces + self.containers + self.desktops


def _meta(namespace: str, name: str, run: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {RUN_LABEL: run}}


def custom_resources(layout: Layout, run: str) -> list[dict[str, Any]]:
    """A Platform per namespace (client auth required, CA trust, per-container keys), then the
    ExecutionContainers (1 replica) and DesktopClients."""
    out: list[dict[str, Any]] = [
        {
            "apiVersion": GROUP_VERSION,
            "kind": "Platform",
            "metadata": _meta(ns, PLATFORM, run),
            "spec": {
                "image": "registry.example.com/pico/platform:9.3",
                "tls": {"requireClientAuth": True, "keystoreMode": "PerContainer"},
            },
        }
        for ns in layout.namespace_names()
    ]
    out += [
        {
            "apiVersion": GROUP_VERSION,
            "kind": "ExecutionContainer",
            "metadata": _meta(ns, f"ec{i}", run),
            "spec": {"platformRef": {"name": PLATFORM}, "image": IMAGE, "replicas": 1},
        }
        for ns, i in layout.members(layout.containers)
    ]
    out += [
        {
            "apiVersion": GROUP_VERSION,
            "kind": "DesktopClient",
            "metadata": _meta(ns, f"desk{i}", run),
            "spec": {"platformRef": {"name": PLATFORM}, "user": f"User {i}"},
        }
        for ns, i in layout.members(layout.desktops)
    ]
    return out


def _secret(namespace: str, name: str, run: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(namespace, name, run),
        "type": "Opaque",
        "data": {"payload": base64.b64encode(os.urandom(size)).decode()},
    }


def _configmap(namespace: str, name: str, run: str) -> dict[str, Any]:
    props = "\n".join(f"pico.rcp.tls.setting{i}=value{i}" for i in range(12))
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(namespace, name, run),
        "data": {"rcp-tls.properties": props},
    }


def _pod_template(name: str, secret: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": "pico",
                    "image": IMAGE,
                    "volumeMounts": [{"name": "tls", "mountPath": "/etc/pico/tls"}],
                }
            ],
            "volumes": [{"name": "tls", "secret": {"secretName": secret}}],
        },
    }


def _workload(namespace: str, name: str, run: str, kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": name}},
        "template": _pod_template(name, f"{name}-rcp-tls"),
    }
    if kind == "StatefulSet":
        spec["serviceName"] = f"{name}-headless"
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": _meta(namespace, name, run),
        "spec": spec,
    }


def _service(namespace: str, name: str, run: str, headless: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"app": PLATFORM},
        "ports": [{"name": "rcp", "port": 6790}, {"name": "web", "port": 9000}],
    }
    if headless:
        spec["clusterIP"] = "None"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(namespace, name, run),
        "spec": spec,
    }


def bare_objects(layout: Layout, run: str) -> list[dict[str, Any]]:
    """The baseline: the objects the operator would write for `custom_resources(layout)`,
    Secrets first, workloads last (as the operator orders its writes)."""
    secrets: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for ns in layout.namespace_names():
        secrets += [
            _secret(ns, f"{PLATFORM}-ca", run, STATE_BYTES),
            _secret(ns, f"{PLATFORM}-rcp-tls-state", run, STATE_BYTES),
            _secret(ns, f"{PLATFORM}-rcp-tls", run, SECRET_BYTES),
        ]
        rest += [
            _configmap(ns, f"{PLATFORM}-rcp-tls", run),
            _service(ns, PLATFORM, run, headless=False),
            _service(ns, f"{PLATFORM}-headless", run, headless=True),
            _workload(ns, PLATFORM, run, "StatefulSet"),
        ]
    for ns, i in layout.members(layout.containers):
        name = f"ec{i}"
        secrets += [
            _secret(ns, f"{name}-rcp-tls-state", run, STATE_BYTES),
            _secret(ns, f"{name}-rcp-tls", run, SECRET_BYTES),
        ]
        rest += [_configmap(ns, f"{name}-rcp-tls", run), _workload(ns, name, run, "Deployment")]
    for ns, i in layout.members(layout.desktops):
        secrets += [
            _secret(ns, f"desk{i}-desktop-key-state", run, STATE_BYTES),
            _secret(ns, f"desk{i}-desktop-key", run, SECRET_BYTES),
        ]
    return secrets + rest
