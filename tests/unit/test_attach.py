"""The additions to an attached workload (spec.workloadRef): only the operator's fields, on
the chosen container; the empty configuration that takes them back; the spec's choice."""

from __future__ import annotations

from typing import Any

import pytest

from pico_tls.builders import attach, names, workloads
from pico_tls.delivery_choice import DeliveryForm, DeliverySpec
from pico_tls.reconcile.drift import covers
from pico_tls.spec import SpecError, parse_container, parse_platform
from pico_tls.spec_model import TlsSpec

PROPS = {
    "pico.rcp.tls.keystore": "/etc/pico/tls/keystore.p12",
    "pico.rcp.tls.keystore.alias": "platform",
}


def _user_statefulset(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "mz-chart", "namespace": "ns", "labels": {names.ATTACH_LABEL: "mz"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "mz"}},
            "template": {
                "metadata": {"labels": {"app": "mz"}},
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "busybox"},
                        {
                            "name": "pico",
                            "image": "vendor/pico:1",
                            "env": [{"name": "A", "value": "1"}],
                        },
                    ]
                },
            },
            **spec,
        },
    }


def _platform(**ref: Any) -> dict[str, Any]:
    return {
        "apiVersion": "picotls.dev/v1alpha1",
        "kind": "Platform",
        "metadata": {"name": "mz", "namespace": "ns"},
        "spec": {"workloadRef": {"kind": "StatefulSet", "name": "mz-chart", **ref}},
    }


def _patch(form: DeliveryForm = DeliveryForm.PROPERTIES_FILE, **ref: Any) -> dict[str, Any]:
    spec = parse_platform(_platform(**ref))
    patch = attach.party_patch(
        _user_statefulset(), "Platform", spec, DeliverySpec(form=form), TlsSpec(), PROPS, "h1"
    )
    assert patch is not None
    return patch


def test_the_patch_carries_only_the_operators_fields() -> None:
    patch = _patch(containerName="pico")
    assert set(patch) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(patch["spec"]) == {"template"}  # never replicas, selector, strategy
    assert patch["metadata"]["labels"] == {names.PLATFORM_LABEL: "mz"}
    assert patch["metadata"]["annotations"] == {names.ATTACHED_BY: "Platform/mz"}
    template = patch["spec"]["template"]
    assert template["metadata"] == {"annotations": {names.MOUNTED_CONTENT: "h1"}}
    (pico,) = template["spec"]["containers"]
    assert set(pico) == {"name", "env", "volumeMounts"}  # no image, no args in this form
    assert pico["name"] == "pico"
    assert {v["name"] for v in template["spec"]["volumes"]} == {"pico-properties", "pico-tls"}
    env = {e["name"]: e for e in pico["env"]}
    assert (
        env["PICO_RCP_TLS_KEYSTORE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "mz-rcp-tls"
    )
    assert all("value" not in e or "PASSWORD" not in e["name"] for e in pico["env"])


def test_the_first_container_is_the_default_and_a_missing_one_gives_none() -> None:
    live = _user_statefulset()
    assert attach.pico_container(live, None) == "sidecar"
    assert attach.pico_container(live, "pico") == "pico"
    assert attach.pico_container(live, "nope") is None


def test_the_entrypoint_preset_sets_tls_env_and_args() -> None:
    patch = _patch(DeliveryForm.ENTRYPOINT_ENV, containerName="pico")
    (pico,) = patch["spec"]["template"]["spec"]["containers"]
    names_ = {e["name"] for e in pico["env"]}
    assert {"TLS_ENABLED", "TLS_KEYSTORE", "TLS_KEYSTORE_PASSWORD", "TLS_KEY_PASSWORD"} <= names_
    assert "-e" in pico["args"]
    password = next(e for e in pico["env"] if e["name"] == "TLS_KEYSTORE_PASSWORD")
    assert "secretKeyRef" in password["valueFrom"]


def test_keep_on_delete_is_recorded_on_the_workload() -> None:
    patch = _patch(keepOnDelete=True)
    assert patch["metadata"]["annotations"][names.KEEP_ON_DELETE] == "true"


def test_detach_is_the_empty_configuration() -> None:
    assert attach.detach_patch(_user_statefulset()) == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "mz-chart", "namespace": "ns"},
    }


def test_a_live_workload_with_the_additions_is_covered_and_one_without_is_not() -> None:
    patch = _patch(containerName="pico")
    live = _user_statefulset()
    assert not covers(live, patch)
    merged = _user_statefulset()
    merged["metadata"]["labels"].update(patch["metadata"]["labels"])
    merged["metadata"]["annotations"] = dict(patch["metadata"]["annotations"])
    template = merged["spec"]["template"]
    template["metadata"]["annotations"] = {names.MOUNTED_CONTENT: "h1"}
    template["spec"]["volumes"] = patch["spec"]["template"]["spec"]["volumes"]
    pico = template["spec"]["containers"][1]
    wanted = patch["spec"]["template"]["spec"]["containers"][0]
    pico["env"] += wanted["env"]
    pico["volumeMounts"] = wanted["volumeMounts"]
    assert covers(merged, patch)
    template["metadata"]["annotations"][names.MOUNTED_CONTENT] = "h0"  # content changed
    assert not covers(merged, patch)


def test_attached_platform_services_select_the_users_pods() -> None:
    spec = parse_platform(_platform())
    meta = {"name": "mz", "namespace": "ns"}
    service, headless = workloads.platform_services(spec, meta, meta, {"app": "mz"})
    assert headless["spec"]["selector"] == {"app": "mz"}
    assert service["spec"]["selector"] == {"app": "mz"}
    assert service["spec"]["ports"][0]["targetPort"] == 6790


@pytest.mark.parametrize(
    "spec",
    [
        {"image": "x", "workloadRef": {"kind": "StatefulSet", "name": "a"}},
        {"workloadRef": {"kind": "StatefulSet", "name": "a"}, "podTemplate": {"env": []}},
        {"workloadRef": {"kind": "DaemonSet", "name": "a"}},
        {},
    ],
)
def test_the_parser_refuses_mixed_or_missing_workload_choices(spec: dict[str, Any]) -> None:
    with pytest.raises(SpecError):
        parse_platform(
            {"kind": "Platform", "metadata": {"name": "mz", "namespace": "ns"}, "spec": spec}
        )


def test_an_execution_container_may_attach() -> None:
    body = {
        "kind": "ExecutionContainer",
        "metadata": {"name": "ec1", "namespace": "ns"},
        "spec": {
            "platformRef": {"name": "mz"},
            "workloadRef": {"kind": "Deployment", "name": "ec"},
        },
    }
    parsed = parse_container(body)
    assert parsed.workload_ref is not None and parsed.image == ""
    assert parsed.workload_ref.kind == "Deployment"
