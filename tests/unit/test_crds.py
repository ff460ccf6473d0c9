"""The CRDs in crds/ and the deployment in manifests/, checked without a cluster.

The field contract is docs/architecture.md ("Custom resource fields"); the e2e test
tests/e2e/test_crd_validation.py checks the CEL rules and defaulting on a real apiserver.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from pico_tls import spec as pico_spec
from pico_tls import spec_model

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"
MANIFESTS = ROOT / "manifests"
CLUSTER_RBAC = "cluster-wide/rbac.yaml"
OPERATOR = "base/operator.yaml"

GROUP = "picotls.dev"
VERSION = "v1alpha1"

Schema = Mapping[str, Any]

# kind -> (file, plural, short name)
KINDS = {
    "Platform": ("platforms.yaml", "platforms", "pplat"),
    "ExecutionContainer": ("executioncontainers.yaml", "executioncontainers", "pec"),
    "DesktopClient": ("desktopclients.yaml", "desktopclients", "pdc"),
}

# Every default in the schemas, by field path below the root (the contract's defaults; nested
# objects default to {} so that their fields are filled in when the user leaves them out).
# Key size (RSA 2048 / ECDSA 256) and the PKCS12 profile (Legacy3DES) are defaulted by
# pico_tls.spec, not by the schema: a schema default cannot depend on another field, and a
# defaulted profile would make every JKS spec invalid.
EXPECTED_DEFAULTS: dict[str, dict[str, Any]] = {
    "Platform": {
        "spec.service": {},
        "spec.service.type": "ClusterIP",
        "spec.service.rcpPort": 6790,
        "spec.service.webPort": 9000,
        "spec.tls": {},
        "spec.tls.enabled": True,
        "spec.tls.requireClientAuth": False,
        "spec.tls.retainOnDelete": False,
        "spec.tls.desktopReimportPeriod": "0s",
        "spec.tls.keystoreMode": "PerContainer",
        "spec.tls.trust": {},
        "spec.tls.trust.mode": "CertificateAuthority",
        "spec.tls.format": {},
        "spec.tls.format.type": "PKCS12",
        "spec.tls.key": {},
        "spec.tls.key.algorithm": "RSA",
        "spec.tls.duration": "8760h",
        "spec.tls.renewBefore": "720h",
        "spec.tls.mountPath": "/etc/pico/tls",
        "spec.tls.alias": "platform",
    },
    "ExecutionContainer": {
        "spec.replicas": 1,
    },
    "DesktopClient": {
        "spec.key": {},
        "spec.key.algorithm": "RSA",
        "spec.duration": "8760h",
        "spec.format": {},
        "spec.format.type": "PKCS12",
        "spec.alias": "desktop",
    },
}

EXPECTED_COLUMNS = {
    "Platform": [
        "Ready",
        "ClientAuth",
        "Mode",
        "Trust",
        "Delivery",
        "NotAfter",
        "CARotation",
        "Age",
    ],
    "ExecutionContainer": ["Platform", "Replicas", "Ready", "NotAfter", "Age"],
    "DesktopClient": ["Platform", "User", "Ready", "NotAfter", "Age"],
}

# The only places where unknown fields are kept: Kubernetes-typed pieces of the pod.
POD_PIECES = {
    "resources",
    "env[]",
    "tolerations[]",
    "affinity",
    "securityContext",
    "podSecurityContext",
    "volumes[]",
    "volumeMounts[]",
}
PRESERVE_UNKNOWN_ALLOWED = {f"spec.podTemplate.{piece}" for piece in POD_PIECES}

STATUS_FIELDS = {
    "observedGeneration",
    "renewRequest",
    "conditions",
    "notAfter",
    "renewalTime",
    "certificateFingerprint",
    "caFingerprint",
}
CONDITION_FIELDS = {
    "type",
    "status",
    "reason",
    "message",
    "lastTransitionTime",
    "observedGeneration",
}


def load_crd(kind: str) -> dict[str, Any]:
    with (CRD_DIR / KINDS[kind][0]).open(encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    assert len(docs) == 1, f"{KINDS[kind][0]} must hold exactly one document"
    return docs[0]


def version_of(crd: Mapping[str, Any]) -> Mapping[str, Any]:
    versions = crd["spec"]["versions"]
    assert [v["name"] for v in versions] == [VERSION]
    return versions[0]


def schema_of(kind: str) -> Schema:
    return version_of(load_crd(kind))["schema"]["openAPIV3Schema"]


def walk(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with its path (`a.b`, `a.list[]`, `a.map{}`)."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        yield from walk(additional, f"{path}{{}}")


def node_at(schema: Schema, path: str) -> Schema:
    node = schema
    for part in path.split("."):
        node = node["properties"][part]
    return node


def apply_defaults(schema: Schema, value: Any) -> Any:
    """Structural defaulting as the apiserver does it: defaults of absent fields, recursively."""
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = apply_defaults(sub, value[name])
    elif isinstance(value, list) and "items" in schema:
        value = [apply_defaults(schema["items"], item) for item in value]
    return value


ALL_KINDS = list(KINDS)


def test_crd_folder_holds_exactly_the_three_crds() -> None:
    assert sorted(p.name for p in CRD_DIR.glob("*.yaml")) == sorted(f for f, _, _ in KINDS.values())
    kustomization = yaml.safe_load((CRD_DIR / "Kustomization").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(f for f, _, _ in KINDS.values())


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_names_group_and_version(kind: str) -> None:
    crd = load_crd(kind)
    _, plural, short = KINDS[kind]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.{GROUP}"
    assert crd["spec"]["group"] == GROUP == spec_model.GROUP
    assert crd["spec"]["scope"] == "Namespaced"
    names = crd["spec"]["names"]
    assert names["kind"] == kind
    assert names["plural"] == plural
    assert names["singular"] == kind.lower()
    assert names["shortNames"] == [short]
    assert names["categories"] == ["pico"]
    version = version_of(crd)
    assert version["served"] is True
    assert version["storage"] is True
    assert version["subresources"] == {"status": {}}


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_schema_is_structural(kind: str) -> None:
    schema = schema_of(kind)
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert schema["required"] == ["spec"]
    for path, node in walk(schema):
        assert "type" in node, f"{kind} {path or '<root>'}: every schema node needs a type"
        for forbidden in ("$ref", "allOf", "oneOf", "anyOf", "not", "additionalItems"):
            assert forbidden not in node, f"{kind} {path}: {forbidden} is not structural"
        if "properties" in node:
            assert "additionalProperties" not in node, f"{kind} {path}: properties and a map"
        if "required" in node:
            missing = set(node["required"]) - set(node.get("properties", {}))
            assert not missing, f"{kind} {path}: required fields {missing} are not declared"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_unknown_fields_only_in_kubernetes_typed_pod_pieces(kind: str) -> None:
    kept = {
        path
        for path, node in walk(schema_of(kind))
        if node.get("x-kubernetes-preserve-unknown-fields")
    }
    assert kept <= PRESERVE_UNKNOWN_ALLOWED, kept - PRESERVE_UNKNOWN_ALLOWED
    if kind != "DesktopClient":
        assert kept == PRESERVE_UNKNOWN_ALLOWED


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_defaults_match_the_contract(kind: str) -> None:
    schema = schema_of(kind)
    found = {path: node["default"] for path, node in walk(schema) if "default" in node}
    assert found == EXPECTED_DEFAULTS[kind]
    for path, value in found.items():
        node = node_at(schema, path)
        parent = path.rpartition(".")[0]
        # A nested default only works when its parent object is there: spec is required and
        # every defaulted object below it defaults to {}.
        if parent != "spec":
            parent_default = node_at(schema, parent).get("default")
            assert parent_default == {}, f"{kind} {parent} needs default {{}}"
        if "enum" in node:
            assert value in node["enum"], f"{kind} {path}: default not in its enum"
        if "pattern" in node:
            assert re.fullmatch(node["pattern"], value), f"{kind} {path}: breaks its pattern"
        if "minimum" in node:
            assert node["minimum"] <= value <= node["maximum"]


def test_crd_defaults_agree_with_spec_parser() -> None:
    """A minimal resource parses the same with and without the schema's defaults applied."""
    meta = {"name": "mz", "namespace": "ns"}
    cases: list[tuple[str, Callable[[Any], object], dict[str, Any]]] = [
        ("Platform", pico_spec.parse_platform, {"image": "pico:9"}),
        (
            "ExecutionContainer",
            pico_spec.parse_container,
            {"image": "pico:9", "platformRef": {"name": "mz"}},
        ),
        (
            "DesktopClient",
            pico_spec.parse_desktop,
            {"user": "alice", "platformRef": {"name": "mz"}},
        ),
    ]
    for kind, parse, spec in cases:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": meta, "spec": spec}
        defaulted = apply_defaults(schema_of(kind), copy.deepcopy(body))
        assert defaulted != body or not EXPECTED_DEFAULTS[kind]
        assert parse(defaulted) == parse(body), kind


def resolve_json_path(schema: Schema, json_path: str) -> Schema:
    """The schema node a printer column's JSONPath points at (filters select list items)."""
    assert json_path.startswith("."), json_path
    path = re.sub(r"\[\?\(@\.[A-Za-z]+==\"[^\"]*\"\)\]", "[]", json_path[1:])
    node = schema
    for part in path.split("."):
        name, is_list = (part[:-2], True) if part.endswith("[]") else (part, False)
        assert name in node.get("properties", {}), f"{json_path}: no field {name}"
        node = node["properties"][name]
        if is_list:
            assert node["type"] == "array", f"{json_path}: {name} is not a list"
            node = node["items"]
    return node


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_printer_columns_point_at_existing_fields(kind: str) -> None:
    version = version_of(load_crd(kind))
    columns = version["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == EXPECTED_COLUMNS[kind]
    schema = version["schema"]["openAPIV3Schema"]
    for column in columns:
        if column["name"] == "Age":
            assert column["type"] == "date"
            assert column["jsonPath"] == ".metadata.creationTimestamp"
            continue
        node = resolve_json_path(schema, column["jsonPath"])
        assert column["type"] == node["type"], f"{kind} {column['name']}: type differs from field"
    by_name = {c["name"]: c["jsonPath"] for c in columns}
    assert by_name["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert by_name["NotAfter"] == ".status.notAfter"
    if kind == "Platform":
        assert by_name["ClientAuth"] == ".status.clientAuth.effective"
        assert by_name["Mode"] == ".spec.tls.keystoreMode"
        assert by_name["Trust"] == ".spec.tls.trust.mode"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_status_fields(kind: str) -> None:
    status = schema_of(kind)["properties"]["status"]
    fields = set(status["properties"])
    expected = STATUS_FIELDS | (
        {"trustedClients", "desktopTrust", "clientAuth", "caRotation", "excludedMembers"}
        if kind == "Platform"
        else set()
    )
    if kind != "DesktopClient":
        expected |= {"attachment"}  # an attached workload (spec.workloadRef)
    assert fields == expected
    conditions = status["properties"]["conditions"]
    assert set(conditions["items"]["properties"]) == CONDITION_FIELDS
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    if kind == "Platform":
        client_auth = status["properties"]["clientAuth"]["properties"]
        assert {k: v["type"] for k, v in client_auth.items()} == {
            "desired": "boolean",
            "effective": "boolean",
            "phase": "string",
        }


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_validation_rules_have_messages_and_bounded_inputs(kind: str) -> None:
    schema = schema_of(kind)
    rules = 0
    for path, node in walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            rules += 1
            assert rule.get("message"), f"{kind} {path}: rule {rule['rule']!r} needs a message"
        if node.get("type") == "string" and path.startswith("spec") and "enum" not in node:
            assert "maxLength" in node, f"{kind} {path}: bound strings for the CEL cost estimator"
        if node.get("type") == "array" and path.startswith("spec"):
            assert "maxItems" in node, f"{kind} {path}: bound lists for the CEL cost estimator"
        if "additionalProperties" in node and path.startswith("spec"):
            assert "maxProperties" in node, f"{kind} {path}: bound maps for the CEL cost estimator"
    assert rules > 0
    if kind != "Platform":
        ref = schema["properties"]["spec"]["properties"]["platformRef"]
        assert {"rule": "self == oldSelf"}.items() <= ref["x-kubernetes-validations"][0].items()


# --- manifests/ ---------------------------------------------------------------------------------


def manifest_docs(name: str) -> list[dict[str, Any]]:
    with (MANIFESTS / name).open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def allowed(rules: list[Mapping[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(
        group in r.get("apiGroups", [])
        and resource in r.get("resources", [])
        and verb in r.get("verbs", [])
        for r in rules
    )


WRITE_VERBS = ["list", "watch", "create", "patch"]

# (group, resource) -> verbs the operator needs: lists (snapshots), watches (kopf), server-side
# apply (patch, create for a new object), reads by name of the user's Secrets only.
REQUIRED_PERMISSIONS: dict[tuple[str, str], list[str]] = {
    ("", "secrets"): ["get", *WRITE_VERBS, "update"],  # update: key material at a resourceVersion
    ("", "configmaps"): WRITE_VERBS,
    ("", "services"): ["list", "watch", "create", "patch"],
    ("apps", "statefulsets"): WRITE_VERBS,
    ("apps", "deployments"): WRITE_VERBS,
    ("", "events"): ["create"],
    **{(GROUP, plural): ["list", "watch"] for _, plural, _ in KINDS.values()},
    **{(GROUP, f"{plural}/status"): ["patch"] for _, plural, _ in KINDS.values()},
}


@pytest.mark.parametrize(("group", "resource"), list(REQUIRED_PERMISSIONS))
def test_cluster_role_covers_what_the_operator_does(group: str, resource: str) -> None:
    rules = one(manifest_docs(CLUSTER_RBAC), "ClusterRole")["rules"]
    for verb in REQUIRED_PERMISSIONS[(group, resource)]:
        assert allowed(rules, group, resource, verb), f"ClusterRole lacks {verb} {group}/{resource}"


def test_cluster_role_is_least_privilege() -> None:
    rules = one(manifest_docs(CLUSTER_RBAC), "ClusterRole")["rules"]
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], f"no wildcards in the ClusterRole: {rule}"
        assert "resourceNames" not in rule or rule["resourceNames"]
    # Read-only where the operator only reads; nothing it never touches.
    assert not allowed(rules, "", "secrets", "deletecollection")
    for verb in ("update", "delete"):
        for group, resource in (("", "secrets"), ("apps", "deployments"), (GROUP, "platforms")):
            if (verb, resource) != ("update", "secrets"):
                assert not allowed(rules, group, resource, verb), (verb, resource)
    assert not allowed(rules, GROUP, "platforms", "patch")
    assert not allowed(rules, GROUP, "platforms", "delete")
    assert not allowed(rules, GROUP, "platforms", "create")
    assert not allowed(rules, "apiextensions.k8s.io", "customresourcedefinitions", "patch")
    granted = {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == set(REQUIRED_PERMISSIONS)


# Exactly what the ClusterRole grants: what the operator needs (kopf finds the kinds by
# discovery and watches no CRD or Namespace; it and the operator only post Events).
GRANTED = {k: set(v) for k, v in REQUIRED_PERMISSIONS.items()}
NEVER = {"update", "delete", "deletecollection", "escalate", "bind", "impersonate", "*"}


def test_cluster_role_grants_exactly_these_verbs_and_never_update_or_delete() -> None:
    rules = one(manifest_docs(CLUSTER_RBAC), "ClusterRole")["rules"]
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == GRANTED
    never = {key: NEVER - ({"update"} if key == ("", "secrets") else set()) for key in granted}
    assert not [(key, never[key] & verbs) for key, verbs in granted.items() if never[key] & verbs]


def test_the_lease_role_is_namespaced_and_names_its_lease() -> None:
    rbac = manifest_docs("base/leader-election.yaml")
    role = one(rbac, "Role")
    assert role["metadata"]["namespace"] == "pico-tls-system"
    by_verbs = {tuple(r["verbs"]): r.get("resourceNames") for r in role["rules"]}
    assert by_verbs == {("create",): None, ("get", "update"): ["pico-tls-operator"]}
    assert {g for r in role["rules"] for g in r["apiGroups"]} == {"coordination.k8s.io"}
    assert one(rbac, "RoleBinding")["roleRef"]["name"] == role["metadata"]["name"]


def test_operator_runs_as_its_service_account_with_kopf() -> None:
    rbac = manifest_docs("base/identity.yaml") + manifest_docs(CLUSTER_RBAC)
    namespace = one(rbac, "Namespace")["metadata"]["name"]
    account = one(rbac, "ServiceAccount")["metadata"]
    binding = one(rbac, "ClusterRoleBinding")
    assert namespace == account["namespace"] == "pico-tls-system"
    assert binding["roleRef"]["name"] == one(rbac, "ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": namespace}
    ]
    deployment = one(manifest_docs(OPERATOR), "Deployment")
    assert deployment["metadata"]["namespace"] == namespace
    assert deployment["spec"]["replicas"] == 2  # one leads (the Lease), one stands by
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["command"][:4] == ["kopf", "run", "-m", "pico_tls"]
    assert container["args"] == ["--all-namespaces"]  # the install modes replace it
    assert "--standalone" in container["command"]
    assert not [a for a in container["command"] if a.startswith("--liveness=")]
    env = {e["name"]: e for e in container["env"]}
    assert env["PICO_TLS_HEALTH_ADDRESS"]["value"] == "0.0.0.0:8080"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]


def test_kustomization_uses_the_canonical_crds() -> None:
    base = yaml.safe_load((MANIFESTS / "base" / "kustomization.yaml").read_text(encoding="utf-8"))
    assert base["resources"][0] == "../../crds"
    assert not list(MANIFESTS.glob("**/*crd*")), "CRDs live only in crds/"


def test_image_runs_the_same_command_and_locks_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    container = one(manifest_docs(OPERATOR), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    args = container["command"] + container["args"]
    cmd = "CMD [" + ", ".join(f'"{a}"' for a in args) + "]"
    assert cmd in dockerfile
    assert re.search(r"python:3\.11\.\d+-slim-bookworm", dockerfile)
    assert re.search(r"^USER (?!root|0\b)", dockerfile, re.MULTILINE)
    lines = [
        line
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+", line) for line in lines), lines
    names = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    assert {"kopf", "kubernetes", "cryptography", "pyjks", "pyyaml"} <= names
    assert not names & {"pytest", "ruff", "mypy", "types-pyyaml", "pico-tls-operator"}
