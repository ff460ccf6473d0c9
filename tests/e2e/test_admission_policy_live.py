"""End-to-end: the admission policy of manifests/base/admission-policy.yaml (installed with the
default RBAC) on the real apiserver. Impersonating the operator's ServiceAccount (kubectl --as),
writes to objects that are not the operator's are refused by the policy (RBAC alone would allow
them); the operator's own writes pass, retained Secrets (no owner reference) included."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from pico_harness.support.install import OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT
from pico_harness.support.resources import get, platform, wait_ready

pytestmark = pytest.mark.e2e

AS_OPERATOR = f"--as=system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}"
POLICY = "pico-tls-operator-writes"
MANAGED = {"app.kubernetes.io/managed-by": "pico-tls-operator"}


def write_as_operator(cluster: Any, body: Mapping[str, Any]) -> subprocess.CompletedProcess[str]:
    """Server-side apply as the operator (its field manager), as the operator writes."""
    return cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=pico-tls-operator",
        AS_OPERATOR,
        "-f",
        "-",
        input_text=yaml.safe_dump(dict(body)),
        check=False,
    )


def secret(
    ns: str, name: str, labels: Mapping[str, str] | None = None, owner: Any = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": dict(labels or {})}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": {"k": "v"}}


def refused(out: subprocess.CompletedProcess[str], why: str) -> bool:
    text = out.stdout + out.stderr
    return out.returncode != 0 and POLICY in text and why in text


@pytest.fixture
def policy_active(kube_cluster: Any, operator_kubeconfig: Any, namespace: str) -> str:
    """The namespace, once the apiserver enforces the policy (it compiles policies shortly
    after they are created): a probe write as the operator is refused."""
    probe = secret(namespace, "policy-probe")
    kube_cluster.wait_until(
        "the admission policy is enforced",
        lambda: refused(write_as_operator(kube_cluster, probe), "managed-by"),
        timeout=60,
    )
    return namespace


def owner_of(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": body["metadata"]["name"],
        "uid": body["metadata"]["uid"],
        "controller": True,
    }


def test_the_operator_account_cannot_touch_a_foreign_secret(
    kube_cluster: Any, policy_active: str
) -> None:
    ns = policy_active
    kube_cluster.apply(secret(ns, "app-db-password"))  # someone else's Secret
    plain_patch = kube_cluster.kubectl(
        "patch",
        "secret",
        "app-db-password",
        "-n",
        ns,
        AS_OPERATOR,
        "--type=merge",
        "-p",
        '{"stringData": {"k": "stolen"}}',
        check=False,
    )
    assert refused(plain_patch, "is not one of them"), plain_patch.stderr
    # nor take it over by labelling it and naming an owner
    kube_cluster.apply(platform(ns))
    owner = owner_of(get(kube_cluster, "platform", "mz", ns))
    takeover = write_as_operator(kube_cluster, secret(ns, "app-db-password", MANAGED, owner))
    assert refused(takeover, "is not one of them"), takeover.stderr
    data = get(kube_cluster, "secret", "app-db-password", ns)["data"]
    assert data == {"k": "dg=="}  # base64 of "v": unchanged
    # RBAC alone would have allowed it: the refusal is the policy's
    allowed = kube_cluster.kubectl(
        "auth", "can-i", "patch", "secret/app-db-password", "-n", ns, AS_OPERATOR, check=False
    )
    assert allowed.stdout.strip() == "yes"


def test_new_objects_need_the_label_and_an_owner_custom_resource(
    kube_cluster: Any, policy_active: str
) -> None:
    ns = policy_active
    kube_cluster.apply(platform(ns))
    owner = owner_of(get(kube_cluster, "platform", "mz", ns))
    unowned = write_as_operator(kube_cluster, secret(ns, "loose", MANAGED))
    assert refused(unowned, "has no such owner reference"), unowned.stderr
    foreign_owner = {**owner, "apiVersion": "apps/v1", "kind": "Deployment"}
    wrong_owner = write_as_operator(kube_cluster, secret(ns, "loose", MANAGED, foreign_owner))
    assert refused(wrong_owner, "has no such owner reference"), wrong_owner.stderr
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "miner", "namespace": ns, "labels": MANAGED},
        "spec": {
            "selector": {"matchLabels": {"app": "miner"}},
            "template": {
                "metadata": {"labels": {"app": "miner"}},
                "spec": {"containers": [{"name": "c", "image": "example.invalid/miner"}]},
            },
        },
    }
    assert refused(write_as_operator(kube_cluster, deployment), "has no such owner reference")
    owned = write_as_operator(kube_cluster, secret(ns, "mz-extra", MANAGED, owner))
    assert owned.returncode == 0, owned.stderr
    # a Secret retained from a deleted Platform: its two names only, with its platform label
    retained_labels = {**MANAGED, "picotls.dev/platform": "gone"}
    for name in ("gone-ca", "gone-rcp-tls-state"):
        out = write_as_operator(kube_cluster, secret(ns, name, retained_labels))
        assert out.returncode == 0, out.stderr
    other = write_as_operator(kube_cluster, secret(ns, "gone-other", retained_labels))
    assert refused(other, "has no such owner reference"), other.stderr


def test_the_operators_own_writes_pass_retained_secrets_included(
    kube_cluster: Any, operator: Any, policy_active: str
) -> None:
    ns = policy_active
    kube_cluster.apply(platform(ns, retainOnDelete=True))
    wait_ready(kube_cluster, "platform", "mz", ns)
    ca = get(kube_cluster, "secret", "mz-ca", ns)
    assert not ca["metadata"].get("ownerReferences")  # retained: written without an owner
    assert POLICY not in operator.log_text()


def attach_as_operator(
    cluster: Any, body: Mapping[str, Any], *force: str
) -> subprocess.CompletedProcess[str]:
    """Server-side apply as the operator's attach field manager (the operator never forces;
    a stolen token would: `force`)."""
    return cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=pico-tls-attach",
        *force,
        AS_OPERATOR,
        "-f",
        "-",
        input_text=yaml.safe_dump(dict(body)),
        check=False,
    )


def users_deployment(ns: str, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    app = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": app},
            "template": {
                "metadata": {"labels": app},
                "spec": {"containers": [{"name": "pico", "image": "vendor/pico:1"}]},
            },
        },
    }


def addition(ns: str, name: str, **spec: Any) -> dict[str, Any]:
    """What an attach writes: an env variable on the pico container (plus `spec`)."""
    env = [{"name": "PICO_PROPERTIES_FILES", "value": "/etc/pico/properties/rcp-tls.properties"}]
    pico = {"name": "pico", "env": env, **spec.pop("container", {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, **spec.pop("metadata", {})},
        "spec": {"template": {"spec": {"containers": [pico]}}, **spec},
    }


def test_attached_workloads_pass_only_with_consent_and_only_for_additions(
    kube_cluster: Any, policy_active: str
) -> None:
    ns = policy_active
    consent = {"picotls.dev/attach": "mz"}
    for name, labels in (("offered", consent), ("not-offered", {})):
        # The user's own server-side apply (a client-side one would be taken over by kubectl's
        # migration of its fields to the next server-side manager, here the operator's).
        kube_cluster.apply(
            users_deployment(ns, name, labels), "--server-side", "--field-manager=team"
        )
    out = attach_as_operator(kube_cluster, addition(ns, "not-offered"))
    assert refused(out, "managed-by"), out.stderr
    out = attach_as_operator(kube_cluster, addition(ns, "offered"))
    assert out.returncode == 0, out.stderr
    # Never a new workload, another image, a scale, or the consent label moved or dropped.
    out = attach_as_operator(kube_cluster, users_deployment(ns, "new-one", consent))
    assert refused(out, "managed-by"), out.stdout + out.stderr
    for name, change in (
        ("offered", {"container": {"image": "evil/image:1"}}),
        ("offered", {"replicas": 5}),
        ("offered", {"metadata": {"labels": {"picotls.dev/attach": "other"}}}),
    ):
        out = attach_as_operator(kube_cluster, addition(ns, name, **change), "--force-conflicts")
        assert refused(out, "managed-by"), (name, change, out.stdout + out.stderr)
    live = get(kube_cluster, "deployment", "offered", ns)
    assert live["spec"]["replicas"] == 1
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "vendor/pico:1"
