"""What the people's commands read and write, over `pico_tls.kube` (the one API caller):
custom resources, Secrets, Events, metadata, pod logs, annotation patches."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pico_tls import kube
from pico_tls.kube import KubeError

PICO_KINDS = ("Platform", "ExecutionContainer", "DesktopClient")
KINDS = {
    "Platform": kube.PLATFORM,
    "ExecutionContainer": kube.CONTAINER,
    "DesktopClient": kube.DESKTOP,
    "Secret": kube.SECRET,
    "ConfigMap": kube.CONFIGMAP,
    "Service": kube.SERVICE,
    "StatefulSet": kube.STATEFULSET,
    "Deployment": kube.DEPLOYMENT,
    "Event": kube.EVENT,
    "Pod": kube.Kind("/api/v1", "pods"),
}
WRITTEN_KINDS = ("Secret", "ConfigMap", "Service", "StatefulSet", "Deployment")


def _collection(kind: str, namespace: str | None) -> str:
    found = KINDS[kind]
    if namespace is None:
        return f"{found.api_path}/{found.plural}"
    return found.path(namespace)


@dataclass(frozen=True)
class Api:
    """One user's session: `namespace` is what -n or the context chose (None: -A)."""

    session: kube.UserSession

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        raw = kube.call(self.session.kube, method, path, **kwargs)
        return json.loads(raw) if raw else None

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._json("GET", KINDS[kind].path(namespace, name))
        except KubeError as err:
            if err.status == 404:
                return None
            raise
        found.setdefault("kind", kind)
        return found

    def objects(
        self, kind: str, namespace: str | None, *, selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = [("labelSelector", selector)] if selector else []
        result = self._json("GET", _collection(kind, namespace), query=query)
        items: list[dict[str, Any]] = result.get("items") or []
        for item in items:  # list answers leave kind and apiVersion off their items
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", result.get("apiVersion"))
        return items

    def list_metadata(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        """Names, labels, owners, annotations: never a Secret's data."""
        result = self._json("GET", _collection(kind, namespace), accept=kube.METADATA_LIST)
        items: list[dict[str, Any]] = result.get("items") or []
        return items

    def events_of(self, namespace: str | None, kinds: Iterable[str]) -> list[dict[str, Any]]:
        wanted = set(kinds)
        return [
            e
            for e in self.objects("Event", namespace)
            if (e.get("involvedObject") or {}).get("kind") in wanted
        ]

    def annotate(self, kind: str, namespace: str, name: str, key: str, value: str) -> None:
        """A merge patch of one annotation (the user's own resource: their field manager)."""
        patch = {"metadata": {"annotations": {key: value}}}
        kube.call(
            self.session.kube,
            "PATCH",
            KINDS[kind].path(namespace, name),
            body=patch,
            query=[("fieldManager", "pico-tls-cli")],
            content_type="application/merge-patch+json",
        )

    def pod_log(self, namespace: str, pod: str, container: str | None = None) -> str:
        query = [("container", container)] if container else []
        path = KINDS["Pod"].path(namespace, pod, "log")
        raw = kube.call(self.session.kube, "GET", path, query=query, accept="*/*")
        return raw.decode(errors="replace")

    def get_metadata(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One object's metadata alone (a Secret's data never travels)."""
        accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
        try:
            found: dict[str, Any] = self._json(
                "GET", KINDS[kind].path(namespace, name), accept=accept
            )
        except KubeError as err:
            if err.status == 404:
                return None
            raise
        return found
