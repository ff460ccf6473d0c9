"""`Kube`: a small JSON client over the `kubernetes` package's authenticated transport: get,
list, server-side apply with one field manager, create and conditional update (key material,
the leader Lease), status merge-patches and Events.

Every write but the Lease's passes the fence first (`Kube.fence`, set by the leader election):
a replica that does not hold the Lease raises `Fenced` instead of writing.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pico_tls.builders.names import ATTACH_LABEL, ATTACH_MANAGER, FIELD_MANAGER, MANAGED_BY
from pico_tls.kube import watch
from pico_tls.kube.errors import KubeError
from pico_tls.kube.kinds import EVENT, LEASE, METADATA_LIST, Kind, kind_of

METADATA_PAGE = 500


def _open_fence() -> None:
    return None


class Kube:
    """Thread-safe JSON access to the API; counts requests by verb for benchmarks."""

    def __init__(self, api_client: Any | None = None) -> None:
        if api_client is None:
            api_client = _default_client()
        self._client = api_client
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        # Called before every write but the Lease's; raises `Fenced` to refuse it.
        self.fence: Callable[[], None] = _open_fence
        self.on_response: Callable[[str, int], None] = _ignore  # (verb, status): metrics
        # Called with the object as stored after each write of ours (apply, create, replace,
        # status patch): the change filter then knows its own writes when the watch brings them.
        self.on_written: Callable[[Mapping[str, Any]], None] = _ignore_object

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Iterable[tuple[str, str]] = (),
        content_type: str = "application/json",
        accept: str = "application/json",
        fenced: bool = True,
    ) -> Any:
        if fenced and method != "GET":
            self.fence()
        with self._lock:
            self.requests[method] += 1
        headers = {"Accept": accept, "Content-Type": content_type}
        _, url, headers, payload, _ = self._client.param_serialize(
            method,
            path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._client.call_api(
            method, url, header_params=headers, body=payload, _request_timeout=30
        )
        self.on_response(method, response.status)
        raw = response.read()
        if response.status >= 400:
            message = api_reason = ""
            with contextlib.suppress(ValueError, AttributeError):
                found = json.loads(raw)
                message, api_reason = str(found.get("message", "")), str(found.get("reason", ""))
            raise KubeError(
                method, path, response.status, str(response.reason), message, api_reason
            )
        return json.loads(raw) if raw else None

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.request("GET", kind.path(namespace, name))
        except KubeError as err:
            if err.status == 404:
                return None
            raise
        return result

    def list_objects(
        self, kind: Kind, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return self.list_at(kind, namespace, label_selector)[0]

    def list_at(
        self, kind: Kind, namespace: str, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The objects, and the resourceVersion the list was read at (-1: not a number)."""
        query = [("labelSelector", label_selector)] if label_selector else []
        result = self.request("GET", kind.path(namespace), query=query)
        items: list[dict[str, Any]] = result.get("items") or []
        item_kind = str(result.get("kind", "")).removesuffix("List")
        for item in items:  # list responses leave kind and apiVersion off their items
            item.setdefault("kind", item_kind)
            item.setdefault("apiVersion", result.get("apiVersion"))
        at = str((result.get("metadata") or {}).get("resourceVersion") or "")
        return items, int(at) if at.isdigit() else -1

    def list_metadata(self, kind: Kind, namespace: str) -> list[dict[str, Any]]:
        """Every object of `kind` in `namespace`, metadata only (never Secret data) and only what
        the name-clash check needs: name, owner references and our managed-by label. Read in
        pages, so a namespace crowded with other objects costs a page of memory at a time."""
        out: list[dict[str, Any]] = []
        token = ""
        while True:
            query = [("limit", str(METADATA_PAGE))] + ([("continue", token)] if token else [])
            page = self.request("GET", kind.path(namespace), query=query, accept=METADATA_LIST)
            out += [_slim(item.get("metadata") or {}) for item in page.get("items") or []]
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return out

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply with our field manager, taking ownership of conflicting fields."""
        kind, meta = kind_of(manifest), manifest["metadata"]
        result: dict[str, Any] = self.request(
            "PATCH",
            kind.path(meta["namespace"], meta["name"]),
            body=json.dumps(manifest),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            content_type="application/apply-patch+yaml",
        )
        self.on_written(result)
        return result

    def apply_attached(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply to a user's workload with the attach field manager, never forced:
        a field another manager owns with another value is a 409 naming that manager."""
        kind, meta = kind_of(manifest), manifest["metadata"]
        result: dict[str, Any] = self.request(
            "PATCH",
            kind.path(meta["namespace"], meta["name"]),
            body=json.dumps(manifest),
            query=[("fieldManager", ATTACH_MANAGER)],
            content_type="application/apply-patch+yaml",
        )
        return result

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create only: a 409 `KubeError` (conflict) when the object exists already."""
        kind, meta = kind_of(manifest), manifest["metadata"]
        result: dict[str, Any] = self.request(
            "POST",
            kind.path(meta["namespace"]),
            body=dict(manifest),
            query=[("fieldManager", FIELD_MANAGER)],
            fenced=kind is not LEASE,
        )
        self.on_written(result)
        return result

    def replace(self, manifest: Mapping[str, Any], resource_version: str) -> dict[str, Any]:
        """Update the whole object if it still has `resource_version`, else a 409 `KubeError`
        (conflict): nothing read before that version is overwritten."""
        kind, meta = kind_of(manifest), manifest["metadata"]
        body = {**manifest, "metadata": {**meta, "resourceVersion": resource_version}}
        result: dict[str, Any] = self.request(
            "PUT",
            kind.path(meta["namespace"], meta["name"]),
            body=body,
            query=[("fieldManager", FIELD_MANAGER)],
            fenced=kind is not LEASE,
        )
        self.on_written(result)
        return result

    def patch_status(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: str | None = None,
    ) -> str:
        """Merge-patch the status; with `resource_version`, only if the object still has it
        (else a 409 `KubeError`). Every failure raises (a 404 too). Returns the new version."""
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        result = self.request(
            "PATCH",
            kind.path(namespace, name, "status"),
            body=body,
            content_type="application/merge-patch+json",
        )
        if result:
            self.on_written(result)
        return str(((result or {}).get("metadata") or {}).get("resourceVersion", ""))

    def event(
        self,
        involved: Mapping[str, Any],
        event_type: str,
        reason: str,
        message: str,
        *,
        now: datetime,
    ) -> None:
        """Record a core/v1 Event on a custom resource (message must hold no secret)."""
        meta = involved["metadata"]
        stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
        }
        with contextlib.suppress(KubeError):  # Events are best effort
            self.request("POST", EVENT.path(meta["namespace"]), body=body)

    def watch_secret(
        self, namespace: str, name: str, stop: threading.Event, changed: Callable[[], None]
    ) -> None:
        """Call `changed` whenever the Secret `name` is created, edited or deleted (see
        `watch.watch_one`), until `stop` is set."""
        watch.watch_one(self, namespace, name, stop, changed)

    def stream(
        self, path: str, query: list[tuple[str, str]], *, accept: str, timeout: float
    ) -> Iterator[dict[str, Any]]:
        """The JSON lines of a watch response, one event at a time."""
        with self._lock:
            self.requests["WATCH"] += 1
        _, url, headers, _, _ = self._client.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": accept},
            auth_settings=["BearerToken"],
        )  # fmt: skip
        response = self._client.call_api(
            "GET", url, header_params=headers, _request_timeout=(10, timeout)
        )
        if response.status >= 400:
            raise KubeError("GET", path, response.status, str(response.reason))
        pending = b""
        for chunk in response.response.stream(4096, decode_content=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)


_SLIM_LABELS = (MANAGED_BY, ATTACH_LABEL)  # ours; the consent of a workload's owner to attach


def _slim(meta: Mapping[str, Any]) -> dict[str, Any]:
    ours = {k: v for k, v in (meta.get("labels") or {}).items() if k in _SLIM_LABELS}
    slim = {"name": meta.get("name"), "labels": ours}
    if meta.get("ownerReferences"):
        slim["ownerReferences"] = meta["ownerReferences"]
    return {"metadata": slim}


def _ignore_object(body: Mapping[str, Any]) -> None:
    pass


def _ignore(verb: str, code: int) -> None:
    pass


def _default_client() -> Any:
    from kubernetes import client, config

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()
