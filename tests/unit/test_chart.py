"""The Helm chart charts/pico-tls-operator, with the helm built from its Go module: `helm lint`,
`helm template` with its toggles, values.schema.json refusing bad values with a message, and its
copies of crds/ and the admission policy never stale (scripts/sync_chart_files.py)."""

from __future__ import annotations

from typing import Any

import pytest
from scripts import sync_chart_files

from pico_harness.support.helm import CHART, chart_objects, helm_bin, helm_template, run

Obj = dict[str, Any]


def kinds(objects: list[Obj]) -> list[str]:
    return sorted(o["kind"] for o in objects)


def one(objects: list[Obj], kind: str) -> Obj:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def test_helm_lint_passes_in_strict_mode() -> None:
    out = run(helm_bin(), "lint", "--strict", str(CHART), check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in out.stdout


def test_the_chart_copies_of_crds_and_policy_are_current() -> None:
    assert not sync_chart_files.stale(), "run: python scripts/sync_chart_files.py"


def test_defaults_render_a_two_replica_cluster_wide_install_keeping_crds() -> None:
    objects = chart_objects()
    assert kinds(objects) == sorted(
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment"]
        + ["PodDisruptionBudget", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
        + ["CustomResourceDefinition"] * 3
    )
    assert one(objects, "Deployment")["spec"]["replicas"] == 2
    for crd in (o for o in objects if o["kind"] == "CustomResourceDefinition"):
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_crd_toggles() -> None:
    no_keep = chart_objects({"crds": {"keep": False}})
    crds = [o for o in no_keep if o["kind"] == "CustomResourceDefinition"]
    assert len(crds) == 3
    assert all("helm.sh/resource-policy" not in o["metadata"].get("annotations", {}) for o in crds)
    assert "CustomResourceDefinition" not in kinds(chart_objects({"crds": {"enabled": False}}))


def test_admission_policy_only_where_the_api_serves_it_and_when_enabled() -> None:
    assert "ValidatingAdmissionPolicy" not in kinds(chart_objects(api_versions=()))
    off = chart_objects({"admissionPolicy": {"enabled": False}})
    assert "ValidatingAdmissionPolicyBinding" not in kinds(off)


@pytest.mark.parametrize("monitor", ["servicemonitor", "podmonitor"])
def test_monitor_toggles(monitor: str) -> None:
    objects = chart_objects({"prometheus": {monitor: {"enabled": True, "labels": {"team": "a"}}}})
    kind = {"servicemonitor": "ServiceMonitor", "podmonitor": "PodMonitor"}[monitor]
    found = one(objects, kind)
    assert found["metadata"]["labels"]["team"] == "a"
    other = ({"ServiceMonitor", "PodMonitor"} - {kind}).pop()
    assert other not in kinds(objects)
    assert ("Service" in kinds(objects)) == (kind == "ServiceMonitor")


def test_deployment_values_reach_the_pod() -> None:
    values = {
        "image": {"repository": "registry.internal/pico-tls-operator", "tag": "1.2.3"},
        "replicaCount": 3,
        "priorityClassName": "platform-critical",
        "watchNamespaces": ["a", "b"],
        "extraArgs": ["--verbose"],
        "extraEnv": [{"name": "PICO_TLS_WORKERS", "value": "4"}],
        "resources": {"requests": {"cpu": "100m"}},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "podDisruptionBudget": {"minAvailable": 1},
        "serviceAccount": {"name": "picotls"},
    }
    objects = chart_objects(values)
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.internal/pico-tls-operator:1.2.3"
    assert container["args"] == ["--namespace=a", "--namespace=b", "--verbose"]
    assert {"name": "PICO_TLS_WORKERS", "value": "4"} in container["env"]
    assert container["resources"]["requests"]["cpu"] == "100m"  # merged with the defaults
    assert deployment["spec"]["replicas"] == 3
    assert pod["priorityClassName"] == "platform-critical"
    assert pod["serviceAccountName"] == "picotls"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert one(objects, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 1,
        "selector": deployment["spec"]["selector"],
    }
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    digest = "sha256:" + "ab" * 32
    pinned = one(chart_objects({"image": {"repository": "r/p", "digest": digest}}), "Deployment")
    assert pinned["spec"]["template"]["spec"]["containers"][0]["image"] == f"r/p@{digest}"


# values the schema refuses, and a piece of helm's message naming what is wrong
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("typo", {"replicas": 2}, "replicas"),
    ("negative replicas", {"replicaCount": -1}, "replicaCount"),
    ("replicas as text", {"replicaCount": "two"}, "replicaCount"),
    ("namespace not a DNS label", {"watchNamespaces": ["Team_A"]}, "watchNamespaces"),
    ("pull policy", {"image": {"repository": "x", "pullPolicy": "Sometimes"}}, "pullPolicy"),
    ("digest", {"image": {"repository": "x", "digest": "latest"}}, "digest"),
    ("keep not boolean", {"crds": {"keep": "yes"}}, "keep"),
    ("extra arg not an option", {"extraArgs": ["rm -rf"]}, "extraArgs"),
    ("spread without key", {"topologySpreadConstraints": [{"maxSkew": 1}]}, "topologyKey"),
    (
        "both monitors",
        {"prometheus": {"servicemonitor": {"enabled": True}, "podmonitor": {"enabled": True}}},
        "prometheus",
    ),
]


@pytest.mark.parametrize(
    ("values", "expected"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_the_values_schema_refuses_bad_values(values: dict[str, Any], expected: str) -> None:
    out = helm_template(values, check=False)
    assert out.returncode != 0, f"accepted: {values}"
    assert "values don't meet the specifications of the schema" in out.stderr, out.stderr
    assert expected in out.stderr, out.stderr
