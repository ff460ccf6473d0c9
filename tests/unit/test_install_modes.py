"""The three install modes, rendered by kustomize (manifests/) and by the Helm chart, compared
without a cluster: the same permissions, command, namespaces served and admission policy; nothing
cluster-wide in the namespaced modes. tests/e2e/test_install_modes_live.py runs them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from pico_harness.support.helm import chart_objects, kustomize_objects

# mode folder -> (namespaces served, the same as chart values)
MODES: dict[str, list[str]] = {
    "cluster-wide": [],
    "namespace": ["pico-apps"],
    "namespaces": ["pico-team-a", "pico-team-b"],
}
CLUSTER_SCOPED_RBAC = {"ClusterRole", "ClusterRoleBinding"}
LEADER_ELECTION = "-leader-election"

Obj = dict[str, Any]


def of_kind(objects: Iterable[Obj], *kinds: str) -> list[Obj]:
    return [o for o in objects if o["kind"] in kinds]


def grants(objects: Iterable[Obj]) -> dict[str, set[tuple[str, str, str]]]:
    """namespace ('' cluster-wide) -> {(group, resource, verb)} of the (Cluster)Roles."""
    out: dict[str, set[tuple[str, str, str]]] = {}
    for role in of_kind(objects, "ClusterRole", "Role"):
        if role["metadata"]["name"].endswith(LEADER_ELECTION):
            continue  # the Lease in the operator's own namespace: leader_election()
        found = out.setdefault(role["metadata"].get("namespace", ""), set())
        for rule in role["rules"]:
            assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
            found |= {
                (g, r, v)
                for g in rule["apiGroups"]
                for r in rule["resources"]
                for v in rule["verbs"]
            }
    return out


def container(objects: Iterable[Obj]) -> Obj:
    (deployment,) = of_kind(objects, "Deployment")
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(found)


def served(objects: Iterable[Obj]) -> list[str]:
    args = container(objects)["args"]
    if args == ["--all-namespaces"]:
        return []
    assert all(a.startswith("--namespace=") for a in args), args
    return [a.removeprefix("--namespace=") for a in args]


@pytest.fixture(scope="module", params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def rendered(mode: str) -> tuple[list[Obj], list[Obj]]:
    """(kustomize, helm) objects of one mode."""
    return kustomize_objects(mode), chart_objects({"watchNamespaces": MODES[mode]})


def test_default_kustomization_is_cluster_wide() -> None:
    assert kustomize_objects() == kustomize_objects("cluster-wide")


def test_each_mode_serves_its_namespaces_with_a_role_in_each(
    mode: str, rendered: tuple[list[Obj], list[Obj]]
) -> None:
    for objects in rendered:
        namespaces = MODES[mode]
        assert served(objects) == namespaces
        scopes = grants(objects)
        assert set(scopes) == (set(namespaces) if namespaces else {""})
        bindings = [
            b
            for b in of_kind(objects, "RoleBinding", "ClusterRoleBinding")
            if not b["metadata"]["name"].endswith(LEADER_ELECTION)
        ]
        assert len(bindings) == len(scopes)
        account = of_kind(objects, "ServiceAccount")[0]["metadata"]
        for binding in bindings:
            assert binding["subjects"] == [
                {
                    "kind": "ServiceAccount",
                    "name": account["name"],
                    "namespace": account["namespace"],
                }
            ]
        if namespaces:  # nothing cluster-wide: no Secret outside the namespaces served
            assert not of_kind(objects, *CLUSTER_SCOPED_RBAC)


def test_every_scope_grants_the_same_rules_in_both_renderings(
    rendered: tuple[list[Obj], list[Obj]],
) -> None:
    kustomized, charted = rendered
    reference = grants(kustomize_objects("cluster-wide"))[""]
    for objects in (kustomized, charted):
        assert all(found == reference for found in grants(objects).values())
    assert ("", "secrets", "delete") not in reference
    assert ("", "secrets", "update") in reference  # key material: at the resourceVersion read


def leader_election(objects: Iterable[Obj]) -> tuple[str, list[Obj]]:
    (role,) = [
        r for r in of_kind(objects, "Role") if r["metadata"]["name"].endswith(LEADER_ELECTION)
    ]
    return role["metadata"]["namespace"], role["rules"]


def test_both_renderings_hold_one_lease_in_the_operators_namespace(
    rendered: tuple[list[Obj], list[Obj]],
) -> None:
    for objects in rendered:
        namespace, rules = leader_election(objects)
        assert namespace == of_kind(objects, "ServiceAccount")[0]["metadata"]["namespace"]
        env = {e["name"]: e.get("value") for e in container(objects)["env"]}
        assert rules == [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "resourceNames": [env["PICO_TLS_LEASE_NAME"]],
                "verbs": ["get", "update"],
            },
        ]


def test_the_chart_runs_the_kustomized_command(rendered: tuple[list[Obj], list[Obj]]) -> None:
    kustomized, charted = (container(objects) for objects in rendered)
    assert charted["command"] == kustomized["command"]
    assert charted["args"] == kustomized["args"]
    for key in ("securityContext", "resources", "livenessProbe", "readinessProbe", "volumeMounts"):
        assert charted[key] == kustomized[key], key
    pods = [of_kind(objs, "Deployment")[0]["spec"]["template"]["spec"] for objs in rendered]
    assert pods[1]["securityContext"] == pods[0]["securityContext"]
    assert pods[1]["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"


def policy_logic(objects: Iterable[Obj]) -> Mapping[str, Any]:
    (policy,) = of_kind(objects, "ValidatingAdmissionPolicy")
    (binding,) = of_kind(objects, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    spec = dict(policy["spec"])
    (condition,) = spec.pop("matchConditions")
    account = of_kind(objects, "ServiceAccount")[0]["metadata"]
    user = f"system:serviceaccount:{account['namespace']}:{account['name']}"
    assert condition["expression"] == f"request.userInfo.username == '{user}'"
    return spec


def test_the_admission_policy_is_the_same_and_matches_the_service_account(
    rendered: tuple[list[Obj], list[Obj]],
) -> None:
    kustomized, charted = (policy_logic(objects) for objects in rendered)
    assert charted == kustomized
    assert {v["name"] for v in kustomized["variables"]} >= {"managed", "ownedByCustomResource"}


def test_a_pod_disruption_budget_selects_the_operator_pods(
    rendered: tuple[list[Obj], list[Obj]],
) -> None:
    for objects in rendered:
        (pdb,) = of_kind(objects, "PodDisruptionBudget")
        (deployment,) = of_kind(objects, "Deployment")
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
        assert pdb["spec"]["maxUnavailable"] == 1


def test_both_renderings_install_the_same_crds(rendered: tuple[list[Obj], list[Obj]]) -> None:
    kustomized, charted = (of_kind(objects, "CustomResourceDefinition") for objects in rendered)
    assert [c["spec"] for c in charted] == [c["spec"] for c in sorted(kustomized, key=_name)]


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])
