"""For people's commands (`pico-tls status` and the others of pico_tls/ctl): the user's own
kubeconfig and context, any API path, the answer as bytes. The operator never uses this."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pico_tls.kube.client import Kube
from pico_tls.kube.errors import KubeConfigError, KubeError, KubeUnreachable


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
