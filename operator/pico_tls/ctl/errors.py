"""API and kubeconfig failures said in a person's words (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pico_tls.kube import KubeConfigError, KubeError, KubeUnreachable

USAGE = 2  # exit code of every error (1 is kept for "something is not Ready")
_VERBS = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}
_USER = re.compile(r'User "([^"]+)"')


class CtlError(Exception):
    """A failure to report in one line, with the command's exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    verb: str
    resource: str  # "platforms.picotls.dev", "secrets", "pods/log"
    namespace: str | None
    name: str | None


def target_of(method: str, path: str) -> Target:
    """Which verb on which resource an API path is: what RBAC would name."""
    parts = path.split("?")[0].strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    namespace = None
    if len(rest) >= 2 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else None
    sub = f"/{rest[2]}" if len(rest) > 2 else ""
    verb = _VERBS.get(method, "get" if name else "list")
    resource = f"{plural}.{group}" if group else plural
    return Target(verb, resource + sub, namespace, name)


def _where(target: Target) -> str:
    return f"in namespace {target.namespace}" if target.namespace else "in all namespaces"


def explain_kube_error(err: KubeError, method: str, path: str) -> str:
    target = target_of(method, path)
    if err.status == 403:
        who = _USER.search(err.message)
        user = f" ({who.group(1)})" if who else ""
        ns = f" -n {target.namespace}" if target.namespace else " -A"
        return (
            f"forbidden: you{user} may not {target.verb} {target.resource} {_where(target)}; "
            f"ask for a Role that grants '{target.verb}' on '{target.resource}' "
            f"(check: kubectl auth can-i {target.verb} {target.resource}{ns})"
        )
    if err.status == 401:
        return "the cluster refused your credentials (401 Unauthorized): log in again"
    if err.status == 404 and target.name is None:
        return (
            f"the cluster does not serve {target.resource}: are the pico-tls CRDs installed "
            "(kubectl apply -k manifests/)?"
        )
    if err.status == 404:
        return f"{target.resource} {target.name} not found {_where(target)}"
    detail = err.message or err.reason
    return f"the API refused to {target.verb} {target.resource} {_where(target)}: {detail}"


def explain(exc: BaseException) -> str:
    """One line for a failure the commands expect; anything else is a bug and is raised."""
    if isinstance(exc, KubeConfigError):
        return f"no cluster to talk to: {exc}"
    if isinstance(exc, KubeUnreachable):
        return f"no cluster answers: {exc}; is the context right (--context, --kubeconfig)?"
    if isinstance(exc, KubeError):
        method, _, rest = str(exc).partition(" ")
        return explain_kube_error(exc, method, rest.split(":")[0])
    return str(exc)
