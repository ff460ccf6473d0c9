"""The operator's ServiceAccount, with manifests/rbac.yaml applied, asked of the real apiserver
for every verb on every resource and subresource it serves (discovered, not a sample): the
answers must be exactly the allow-list below, the permissions the operator needs plus what
Kubernetes grants every authenticated user.

Each question is a SubjectAccessReview (what `kubectl auth can-i --as=...` asks, under
impersonation, as a SelfSubjectAccessReview), all sent by one `kubectl create`; a second view,
`kubectl auth can-i --list --as=...`, must list no rule outside the allow-list either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pico_harness.support.leaks import json_objects

pytestmark = pytest.mark.e2e

NAMESPACE = "pico-tls-system"
ACCOUNT = "pico-tls-operator"
USER = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
GROUPS = ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}", "system:authenticated"]

# Every verb the authorizer knows of, the special ones included (RBAC matches them as words).
VERBS = (
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "escalate",
    "bind",
    "approve",
    "sign",
    "attest",
    "use",
    "proxy",
    "*",
)
# Resources the authorizer checks that discovery does not list: impersonation targets and
# certificate signers.
PSEUDO_RESOURCES = {
    ("", "users"),
    ("", "groups"),
    ("", "uids"),
    ("authentication.k8s.io", "userextras"),
    ("authentication.k8s.io", "uids"),
    ("certificates.k8s.io", "signers"),
}

WRITE = {"get", "list", "watch", "create", "patch"}
PICO = "picotls.dev"
# (group, resource, subresource) -> verbs allowed. The operator's needs (manifests/rbac.yaml):
NEEDED: dict[tuple[str, str, str], set[str]] = {
    ("", "secrets", ""): WRITE,
    ("", "configmaps", ""): WRITE,
    ("", "services", ""): WRITE,
    ("apps", "statefulsets", ""): WRITE,
    ("apps", "deployments", ""): WRITE,
    ("", "events", ""): {"create", "patch"},
    ("events.k8s.io", "events", ""): {"create", "patch"},
    ("apiextensions.k8s.io", "customresourcedefinitions", ""): {"get", "list", "watch"},
    ("", "namespaces", ""): {"list", "watch"},
    **{(PICO, r, ""): {"get", "list", "watch"} for r in ("platforms", "executioncontainers")},
    (PICO, "desktopclients", ""): {"get", "list", "watch"},
    **{(PICO, r, "status"): {"patch"} for r in ("platforms", "executioncontainers")},
    (PICO, "desktopclients", "status"): {"patch"},
}
# What every authenticated user may do (ClusterRoles system:basic-user and friends).
EVERYONE: dict[tuple[str, str, str], set[str]] = {
    ("authorization.k8s.io", "selfsubjectaccessreviews", ""): {"create"},
    ("authorization.k8s.io", "selfsubjectrulesreviews", ""): {"create"},
    ("authentication.k8s.io", "selfsubjectreviews", ""): {"create"},
}
ALLOWED = {**NEEDED, **EVERYONE}

Question = tuple[str, str, str, str, str]  # group, resource, subresource, verb, namespace


@pytest.fixture(scope="module")
def rbac(operator_kubeconfig: Any, crds: Any) -> Iterator[Any]:
    """The cluster with manifests/rbac.yaml applied (operator_kubeconfig does that)."""
    yield crds


def served_resources(cluster: Any) -> dict[tuple[str, str, str], bool]:
    """(group, resource, subresource) -> namespaced, for everything discovery lists."""
    paths = ["/api/v1"]
    for group in json.loads(cluster.kubectl("get", "--raw", "/apis").stdout)["groups"]:
        paths += [f"/apis/{v['groupVersion']}" for v in group["versions"]]
    found: dict[tuple[str, str, str], bool] = {}
    for path in paths:
        listing = json.loads(cluster.kubectl("get", "--raw", path).stdout)
        group = listing["groupVersion"].rpartition("/")[0]
        for res in listing["resources"]:
            resource, _, sub = res["name"].partition("/")
            found[(group, resource, sub)] = bool(res["namespaced"])
    return found


def questions(resources: dict[tuple[str, str, str], bool], test_ns: str) -> list[Question]:
    asked: list[Question] = []
    for (group, resource, sub), namespaced in sorted(resources.items()):
        # cluster-wide, the operator's own namespace, and a namespace it serves
        scopes = ["", NAMESPACE, test_ns] if namespaced else [""]
        asked += [(group, resource, sub, v, ns) for v in VERBS for ns in scopes]
    return asked


def review(group: str, resource: str, sub: str, verb: str, namespace: str) -> dict[str, Any]:
    attributes = {"group": group, "resource": resource, "verb": verb}
    if sub:
        attributes["subresource"] = sub
    if namespace:
        attributes["namespace"] = namespace
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": USER, "groups": GROUPS, "resourceAttributes": attributes},
    }


def ask(cluster: Any, asked: list[Question]) -> list[bool]:
    body = {"apiVersion": "v1", "kind": "List", "items": [review(*q) for q in asked]}
    out = cluster.kubectl(
        "create", "-f", "-", "-o", "json", input_text=json.dumps(body), timeout=600
    )
    items = list(
        json_objects(out.stdout.splitlines(keepends=True))
    )  # kubectl prints one object per created item
    assert len(items) == len(asked)
    return [bool(item["status"].get("allowed")) for item in items]


def listed_rules(table: str) -> Iterator[tuple[str, str, str, set[str], str]]:
    """Rows of `kubectl auth can-i --list` with a resource: (group, resource, subresource,
    verbs, resource names); the resource column reads `resource.group/subresource`."""
    for line in table.splitlines()[1:]:
        if not line.strip() or line[0].isspace():
            continue  # a non-resource URL
        name = line.split()[0]
        brackets = [part.strip("[]") for part in line.split("[")[1:]]
        verbs, names = set(brackets[-1].rstrip("] ").split()), brackets[-2].rstrip("] ")
        qualified, _, sub = name.partition("/")
        resource, _, group = qualified.partition(".")
        yield group, resource, sub, verbs, names


def expected(question: Question) -> bool:
    group, resource, sub, verb, _ = question
    return verb in ALLOWED.get((group, resource, sub), set())


def test_every_verb_on_every_resource(rbac: Any, namespace: str) -> None:
    resources = served_resources(rbac)
    resources.update({(g, r, ""): False for g, r in PSEUDO_RESOURCES})
    assert ("", "pods", "exec") in resources and ("", "serviceaccounts", "token") in resources
    assert (PICO, "platforms", "status") in resources
    asked = questions(resources, namespace)
    answers = ask(rbac, asked)
    extra = [q for q, yes in zip(asked, answers, strict=True) if yes and not expected(q)]
    missing = [q for q, yes in zip(asked, answers, strict=True) if not yes and expected(q)]
    print(
        f"\nRBAC: {len(asked)} questions on {len(resources)} resources and subresources, "
        f"{sum(answers)} allowed, {len(extra)} beyond the allow-list, {len(missing)} missing"
    )
    assert not extra, f"granted beyond the allow-list: {extra[:20]}"
    assert not missing, f"needed but not granted: {missing[:20]}"


def test_rules_review_lists_nothing_else(rbac: Any, namespace: str) -> None:
    """`kubectl auth can-i --list --as=...`: the rules the apiserver says the account has."""
    for ns in (NAMESPACE, namespace):
        out = rbac.kubectl("auth", "can-i", "--list", f"--as={USER}", "-n", ns)
        rows = list(listed_rules(out.stdout))
        for group, resource, sub, verbs, names in rows:
            allowed = ALLOWED.get((group, resource, sub), set())
            assert verbs <= allowed, (ns, group, resource, sub, verbs - allowed)
            assert not names, (ns, resource, names)
        listed = {(g, r, s): v for g, r, s, v, _ in rows}
        assert listed == ALLOWED, sorted(
            k for k in listed.keys() | ALLOWED.keys() if listed.get(k) != ALLOWED.get(k)
        )
