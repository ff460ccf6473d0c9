"""The one module that talks to the Kubernetes API.

A small JSON client over the `kubernetes` package's authenticated transport: get, list,
server-side apply with one field manager, create and conditional update (key material, the
leader Lease), status merge-patches and Events. Errors become `KubeError` carrying the API's
status code and reason, never a request body (which may hold Secret data).

Every write but the Lease's passes the fence first (`Kube.fence`, set by the leader election):
a replica that does not hold the Lease raises `Fenced` instead of writing.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pico_tls.builders.names import FIELD_MANAGER, MANAGED_BY
from pico_tls.spec_model import GROUP, VERSION


@dataclass(frozen=True)
class Kind:
    api_path: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        out = f"{self.api_path}/namespaces/{namespace}/{self.plural}"
        if name is not None:
            out += f"/{name}"
        if subresource is not None:
            out += f"/{subresource}"
        return out


SECRET = Kind("/api/v1", "secrets")
CONFIGMAP = Kind("/api/v1", "configmaps")
SERVICE = Kind("/api/v1", "services")
EVENT = Kind("/api/v1", "events")
STATEFULSET = Kind("/apis/apps/v1", "statefulsets")
DEPLOYMENT = Kind("/apis/apps/v1", "deployments")
PLATFORM = Kind(f"/apis/{GROUP}/{VERSION}", "platforms")
CONTAINER = Kind(f"/apis/{GROUP}/{VERSION}", "executioncontainers")
DESKTOP = Kind(f"/apis/{GROUP}/{VERSION}", "desktopclients")
LEASE = Kind("/apis/coordination.k8s.io/v1", "leases")
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
KINDS_BY_MANIFEST = {
    ("v1", "Secret"): SECRET,
    ("v1", "ConfigMap"): CONFIGMAP,
    ("v1", "Service"): SERVICE,
    ("apps/v1", "StatefulSet"): STATEFULSET,
    ("apps/v1", "Deployment"): DEPLOYMENT,
    ("coordination.k8s.io/v1", "Lease"): LEASE,
}


class KubeError(RuntimeError):
    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        reason: str,
        message: str = "",
        api_reason: str = "",
    ):
        self.status = status
        self.reason = reason
        self.message = message
        self.api_reason = api_reason or reason  # the Status reason: Invalid, Forbidden, ...
        super().__init__(f"{method} {path}: {status} {reason} {message}".strip())

    @property
    def conflict(self) -> bool:
        """409: the object exists already (create), or changed since it was read (update)."""
        return self.status == 409

    @property
    def namespace_terminating(self) -> bool:
        """A create refused because its namespace is being deleted: nothing left to do there."""
        return self.status == 403 and "being terminated" in self.message


class Fenced(RuntimeError):
    """A write refused before it was sent: this replica does not hold the leader Lease."""


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

    def _request(
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
            result: dict[str, Any] = self._request("GET", kind.path(namespace, name))
        except KubeError as err:
            if err.status == 404:
                return None
            raise
        return result

    def list_objects(
        self, kind: Kind, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = [("labelSelector", label_selector)] if label_selector else []
        result = self._request("GET", kind.path(namespace), query=query)
        items: list[dict[str, Any]] = result.get("items") or []
        item_kind = str(result.get("kind", "")).removesuffix("List")
        for item in items:  # list responses leave kind and apiVersion off their items
            item.setdefault("kind", item_kind)
            item.setdefault("apiVersion", result.get("apiVersion"))
        return items

    def list_metadata(self, kind: Kind, namespace: str) -> list[dict[str, Any]]:
        """Every object of `kind` in `namespace`, metadata only (never Secret data) and only what
        the name-clash check needs: name, owner references and our managed-by label. Read in
        pages, so a namespace crowded with other objects costs a page of memory at a time."""
        out: list[dict[str, Any]] = []
        token = ""
        while True:
            query = [("limit", str(METADATA_PAGE))] + ([("continue", token)] if token else [])
            page = self._request("GET", kind.path(namespace), query=query, accept=METADATA_LIST)
            out += [_slim(item.get("metadata") or {}) for item in page.get("items") or []]
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return out

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply with our field manager, taking ownership of conflicting fields."""
        kind, meta = _kind_of(manifest), manifest["metadata"]
        result: dict[str, Any] = self._request(
            "PATCH",
            kind.path(meta["namespace"], meta["name"]),
            body=json.dumps(manifest),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            content_type="application/apply-patch+yaml",
        )
        return result

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create only: a 409 `KubeError` (conflict) when the object exists already."""
        kind, meta = _kind_of(manifest), manifest["metadata"]
        result: dict[str, Any] = self._request(
            "POST",
            kind.path(meta["namespace"]),
            body=dict(manifest),
            query=[("fieldManager", FIELD_MANAGER)],
            fenced=kind is not LEASE,
        )
        return result

    def replace(self, manifest: Mapping[str, Any], resource_version: str) -> dict[str, Any]:
        """Update the whole object if it still has `resource_version`, else a 409 `KubeError`
        (conflict): nothing read before that version is overwritten."""
        kind, meta = _kind_of(manifest), manifest["metadata"]
        body = {**manifest, "metadata": {**meta, "resourceVersion": resource_version}}
        result: dict[str, Any] = self._request(
            "PUT",
            kind.path(meta["namespace"], meta["name"]),
            body=body,
            query=[("fieldManager", FIELD_MANAGER)],
            fenced=kind is not LEASE,
        )
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
        result = self._request(
            "PATCH",
            kind.path(namespace, name, "status"),
            body=body,
            content_type="application/merge-patch+json",
        )
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
            self._request("POST", EVENT.path(meta["namespace"]), body=body)

    def watch_secret(
        self, namespace: str, name: str, stop: threading.Event, changed: Callable[[], None]
    ) -> None:
        """Call `changed` whenever the Secret `name` is created, edited or deleted, and once
        after every (re)list, until `stop` is set. The watch carries a field selector, so the
        API sends this one Secret and no other; errors are retried with a delay."""
        selector = ("fieldSelector", f"metadata.name={name}")
        path = SECRET.path(namespace)
        while not stop.is_set():
            try:
                listed = self._request("GET", path, query=[selector], accept=METADATA_LIST)
                changed()
                version = str((listed.get("metadata") or {}).get("resourceVersion", ""))
                query = [
                    selector,
                    ("watch", "true"),
                    ("resourceVersion", version),
                    ("timeoutSeconds", str(WATCH_SECONDS)),
                    ("allowWatchBookmarks", "false"),
                ]
                for event in self._stream("GET", path, query, accept=METADATA_WATCH):
                    if stop.is_set():
                        break
                    if event.get("type") == "ERROR":  # 410 Gone: list again
                        break
                    changed()
            except Exception:  # a dropped connection, the API restarting: list again
                stop.wait(WATCH_RETRY_SECONDS)

    def _stream(
        self, method: str, path: str, query: list[tuple[str, str]], *, accept: str
    ) -> Iterator[dict[str, Any]]:
        """The JSON lines of a watch response, one event at a time."""
        with self._lock:
            self.requests["WATCH"] += 1
        headers = {"Accept": accept}
        _, url, headers, _, _ = self._client.param_serialize(
            method, path, query_params=query, header_params=headers, auth_settings=["BearerToken"]
        )
        response = self._client.call_api(
            method, url, header_params=headers, _request_timeout=(10, WATCH_SECONDS + 30)
        )
        if response.status >= 400:
            raise KubeError(method, path, response.status, str(response.reason))
        pending = b""
        for chunk in response.response.stream(4096, decode_content=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)


def _slim(meta: Mapping[str, Any]) -> dict[str, Any]:
    ours = {k: v for k, v in (meta.get("labels") or {}).items() if k == MANAGED_BY}
    slim = {"name": meta.get("name"), "labels": ours}
    if meta.get("ownerReferences"):
        slim["ownerReferences"] = meta["ownerReferences"]
    return {"metadata": slim}


METADATA_PAGE = 500
WATCH_SECONDS = 60  # a watch request's server-side timeout: how late a stop may be noticed
WATCH_RETRY_SECONDS = 2.0


def _kind_of(manifest: Mapping[str, Any]) -> Kind:
    return KINDS_BY_MANIFEST[(manifest["apiVersion"], manifest["kind"])]


def _ignore(verb: str, code: int) -> None:
    pass


def _default_client() -> Any:
    from kubernetes import client, config

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


# ---------------------------------------------------------------------------------------------
# For people's commands (`pico-tls status` and the others of pico_tls/ctl): the user's own
# kubeconfig and context, any API path, the answer as bytes. Nothing above uses this block.
# ---------------------------------------------------------------------------------------------


class KubeConfigError(RuntimeError):
    """No kubeconfig, or no such context; the message says it for a person."""


class KubeUnreachable(RuntimeError):
    """The API server did not answer (no cluster there, wrong address, network)."""


@dataclass(frozen=True)
class UserSession:
    kube: Kube
    context: str
    namespace: str  # the context's namespace, else "default"
    server: str


def user_session(kubeconfig: str | None = None, context: str | None = None) -> UserSession:
    """A `Kube` on the user's kubeconfig (`KUBECONFIG`, else ~/.kube/config) and context."""
    from kubernetes import config

    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        chosen = next((c for c in contexts if c["name"] == context), None) if context else active
        if chosen is None:
            names = ", ".join(sorted(c["name"] for c in contexts)) or "none"
            raise KubeConfigError(f"no context {context!r} in the kubeconfig (contexts: {names})")
        api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=chosen["name"], persist_config=False
        )
    except (config.ConfigException, OSError) as err:
        where = kubeconfig or "$KUBECONFIG or ~/.kube/config"
        raise KubeConfigError(f"cannot use the kubeconfig ({where}): {err}") from None
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    host = str(api_client.configuration.host)
    return UserSession(Kube(api_client), str(chosen["name"]), str(namespace), host)


def call(
    kube: Kube,
    method: str,
    path: str,
    *,
    query: Iterable[tuple[str, str]] = (),
    body: Any = None,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> bytes:
    """One request, the answer's bytes (a pod log is text); KubeError as `Kube` raises it,
    KubeUnreachable when nothing answers."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    client = kube._client
    _, url, headers, payload, _ = client.param_serialize(
        method,
        path,
        query_params=list(query),
        header_params={"Accept": accept, "Content-Type": content_type},
        body=body,
        auth_settings=["BearerToken"],
    )
    try:
        response = client.call_api(
            method, url, header_params=headers, body=payload, _request_timeout=30
        )
    except (urllib3.exceptions.HTTPError, ApiException) as err:  # TLS errors come as the latter
        host = client.configuration.host
        raise KubeUnreachable(f"the API server at {host} does not answer ({err})") from None
    raw: bytes = response.read()
    if response.status >= 400:
        found: dict[str, Any] = {}
        with contextlib.suppress(ValueError, AttributeError):
            found = dict(json.loads(raw))
        message, api_reason = str(found.get("message", "")), str(found.get("reason", ""))
        raise KubeError(method, path, response.status, str(response.reason), message, api_reason)
    return raw
