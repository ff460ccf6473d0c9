"""What the operator's ServiceAccount may do, and `kubectl auth can-i --list` read back as rules:
shared by the RBAC test of the default install (tests/e2e/test_rbac.py) and the install modes
(tests/e2e/test_install_modes_live.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PICO = "picotls.dev"
Key = tuple[str, str, str]  # group, resource, subresource

# The operator's needs in a namespace it serves (manifests/cluster-wide/rbac.yaml): lists for its
# snapshots, watches for kopf, server-side apply (patch; create for a new object), reads by name
# of the user's Secrets, status patches, Events. Nothing cluster-scoped.
NEEDED: dict[Key, set[str]] = {
    ("", "secrets", ""): {"get", "list", "watch", "create", "patch", "update"},  # update: key
    # material at the resourceVersion read
    ("", "configmaps", ""): {"list", "watch", "create", "patch"},
    ("", "services", ""): {"list", "watch", "create", "patch"},
    ("apps", "statefulsets", ""): {"list", "watch", "create", "patch"},
    ("apps", "deployments", ""): {"list", "watch", "create", "patch"},
    ("", "events", ""): {"create"},
    **{(PICO, r, ""): {"list", "watch"} for r in ("platforms", "executioncontainers")},
    (PICO, "desktopclients", ""): {"list", "watch"},
    **{(PICO, r, "status"): {"patch"} for r in ("platforms", "executioncontainers")},
    (PICO, "desktopclients", "status"): {"patch"},
}
# What every authenticated user may do (ClusterRoles system:basic-user and friends).
EVERYONE: dict[Key, set[str]] = {
    ("authorization.k8s.io", "selfsubjectaccessreviews", ""): {"create"},
    ("authorization.k8s.io", "selfsubjectrulesreviews", ""): {"create"},
    ("authentication.k8s.io", "selfsubjectreviews", ""): {"create"},
}
Row = tuple[str, str, str, set[str], str]


def listed_rules(table: str) -> Iterator[Row]:
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


LEASES: Key = ("coordination.k8s.io", "leases", "")
LEASE_BY_NAME = {"get", "update"}


def rules_in(
    cluster: Any, user: str, namespace: str, lease: str | None = None
) -> dict[Key, set[str]]:
    """`kubectl auth can-i --list --as=user -n namespace` as {(group, resource, sub): verbs};
    resource names are refused outright, but for get and update of the one Lease `lease` (leader
    election, in the operator's own namespace), which are checked here and left out."""
    out = cluster.kubectl("auth", "can-i", "--list", f"--as={user}", "-n", namespace).stdout
    found: dict[Key, set[str]] = {}
    for group, resource, sub, verbs, names in listed_rules(out):
        if lease and (group, resource, sub) == LEASES and names:
            assert (names, verbs) == (lease, LEASE_BY_NAME), (namespace, names, verbs)
            continue
        assert not names, (namespace, resource, names)
        found.setdefault((group, resource, sub), set()).update(verbs)
    return found
