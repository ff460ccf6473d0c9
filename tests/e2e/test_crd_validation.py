"""The CRDs on a real apiserver: invalid specs are refused with a message that says what to fix,
valid ones are accepted and come back with the contract's defaults filled in.

Needs the `crds` (crds/*.yaml applied to `kube_cluster`) and `namespace` fixtures of
tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pico_harness.support.kubectl import IMAGE, Kubectl, container, desktop, platform

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def k(crds: Any, namespace: str, tmp_path: Path) -> Kubectl:
    """kubectl in a fresh namespace, with crds/ applied (the `crds` fixture)."""
    return Kubectl(crds, namespace, tmp_path)


INVALID = {
    "ecdsa-key-size": (
        platform(tls={"key": {"algorithm": "ECDSA", "size": 2048}}),
        "key.size for ECDSA must be 256 (P-256) or 384 (P-384)",
    ),
    "rsa-key-size": (
        platform(tls={"key": {"size": 1024}}),
        "key.size for RSA must be 2048, 3072 or 4096",
    ),
    "profile-with-jks": (
        platform(tls={"format": {"type": "JKS", "profile": "ModernAES"}}),
        "format.profile applies only to PKCS12",
    ),
    "renew-before-equals-duration": (
        platform(tls={"duration": "720h", "renewBefore": "720h"}),
        "tls.renewBefore must be shorter than tls.duration",
    ),
    "renew-before-longer-than-default-duration": (
        platform(tls={"renewBefore": "9000h"}),
        "tls.renewBefore must be shorter than tls.duration",
    ),
    "duration-not-go-syntax": (
        platform(tls={"duration": "1y"}),
        "spec.tls.duration in body should match",
    ),
    "keystore-password-property": (
        platform(properties={"pico.rcp.tls.keystore.password": "secret"}),
        "passwords live only in Secrets",
    ),
    "key-password-property": (
        platform(properties={"pico.rcp.tls.key.password": "secret"}),
        "passwords live only in Secrets",
    ),
    "alias-property": (
        platform(properties={"pico.rcp.tls.keystore.alias": "x"}),
        "pico.rcp.tls.keystore.alias: use tls.alias instead",
    ),
    "client-auth-property": (
        platform(properties={"pico.rcp.tls.require_clientauth": "true"}),
        "use tls.requireClientAuth instead",
    ),
    "other-tls-property": (
        platform(properties={"pico.rcp.tls.protocol": "TLSv1.3"}),
        "configure it with the fields of spec.tls",
    ),
    "platform-port-property": (
        platform(properties={"pico.rcp.platform.port": "7000"}),
        "use service.rcpPort instead",
    ),
    "alias-upper-case": (
        platform(tls={"alias": "My Platform"}),
        "spec.tls.alias in body should match",
    ),
    "port-too-high": (
        platform(service={"rcpPort": 70000}),
        "spec.service.rcpPort in body should be less than or equal to 65535",
    ),
    "port-zero": (
        platform(service={"webPort": 0}),
        "spec.service.webPort in body should be greater than or equal to 1",
    ),
    "same-ports": (
        platform(service={"rcpPort": 9000}),
        "service.rcpPort and service.webPort must differ",
    ),
    "relative-mount-path": (
        platform(tls={"mountPath": "etc/pico/tls"}),
        "tls.mountPath must be an absolute directory path",
    ),
    "volume-mount-over-keystore": (
        platform(podTemplate={"volumeMounts": [{"name": "x", "mountPath": "/etc/pico/tls"}]}),
        "must not mount anything at tls.mountPath",
    ),
    "client-auth-without-tls": (
        platform(tls={"enabled": False, "requireClientAuth": True}),
        "tls.requireClientAuth needs TLS",
    ),
    "ca-secret-with-pinned-trust": (
        platform(tls={"trust": {"mode": "Pinned", "caSecretRef": {"name": "my-ca"}}}),
        "trust.caSecretRef is used only with trust.mode CertificateAuthority",
    ),
    "unknown-keystore-mode": (
        platform(tls={"keystoreMode": "Copied"}),
        'spec.tls.keystoreMode: Unsupported value: "Copied"',
    ),
    "platform-name-not-dns-label": (
        platform(name="9platform"),
        "a Platform name must be at most 52 characters",
    ),
    "platform-without-image": (
        {**platform(), "spec": {}},
        "set exactly one of image",
    ),
    "platform-image-and-workload-ref": (
        {
            **platform(),
            "spec": {"image": IMAGE, "workloadRef": {"kind": "StatefulSet", "name": "a"}},
        },
        "set exactly one of image",
    ),
    "platform-pod-template-with-workload-ref": (
        {
            **platform(),
            "spec": {"workloadRef": {"kind": "StatefulSet", "name": "a"}, "podTemplate": {}},
        },
        "with workloadRef set them in your own workload",
    ),
    "container-workload-ref-daemonset": (
        {
            **container(),
            "spec": {
                "platformRef": {"name": "mz"},
                "workloadRef": {"kind": "DaemonSet", "name": "a"},
            },
        },
        'spec.workloadRef.kind: Unsupported value: "DaemonSet"',
    ),
    "too-many-replicas": (
        container(replicas=101),
        "spec.replicas in body should be less than or equal to 100",
    ),
    "negative-replicas": (
        container(replicas=-1),
        "spec.replicas in body should be greater than or equal to 0",
    ),
    "platform-ref-not-a-name": (
        container(platform_name="My_Platform"),
        "spec.platformRef.name in body should match",
    ),
    "container-password-property": (
        container(properties={"pico.rcp.tls.key.password": "secret"}),
        "passwords live only in Secrets",
    ),
    "container-platform-host-property": (
        container(properties={"pico.rcp.platform.host": "elsewhere"}),
        "the operator points the containers at the Platform's Service",
    ),
    "container-bad-alias": (
        container(tls={"alias": "-ec"}),
        "spec.tls.alias in body should match",
    ),
    "container-named-like-its-platform": (
        container(name="mz", platform_name="mz"),
        "an ExecutionContainer cannot have its Platform's name",
    ),
    "container-without-platform": (
        {**container(), "spec": {"image": IMAGE}},
        "spec.platformRef: Required value",
    ),
    "desktop-ecdsa-key-size": (
        desktop(key={"algorithm": "ECDSA", "size": 4096}),
        "key.size for ECDSA must be 256 (P-256) or 384 (P-384)",
    ),
    "desktop-profile-with-jks": (
        desktop(format={"type": "JKS", "profile": "Legacy3DES"}),
        "format.profile applies only to PKCS12",
    ),
    "desktop-bad-alias": (
        desktop(alias="Alice's key"),
        "spec.alias in body should match",
    ),
    "desktop-without-user": (
        {**desktop(), "spec": {"platformRef": {"name": "mz"}}},
        "spec.user: Required value",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_spec_is_refused_with_a_useful_message(k: Kubectl, case: str) -> None:
    body, message = INVALID[case]
    ok, output = k.apply(body)
    assert not ok, f"{case}: accepted but should be refused"
    assert message in output, output


def test_platform_defaults_are_filled_in(k: Kubectl) -> None:
    ok, output = k.apply(platform())
    assert ok, output
    spec = k.get("platform", "mz")["spec"]
    assert spec == {
        "image": IMAGE,
        "service": {"type": "ClusterIP", "rcpPort": 6790, "webPort": 9000},
        "tls": {
            "enabled": True,
            "requireClientAuth": False,
            "retainOnDelete": False,
            "desktopReimportPeriod": "0s",
            "keystoreMode": "PerContainer",
            "trust": {"mode": "CertificateAuthority"},
            "format": {"type": "PKCS12"},
            "key": {"algorithm": "RSA"},
            "duration": "8760h",
            "renewBefore": "720h",
            "mountPath": "/etc/pico/tls",
            "alias": "platform",
        },
    }


def test_container_and_desktop_defaults_are_filled_in(k: Kubectl) -> None:
    ok, output = k.apply(container())
    assert ok, output
    assert k.get("executioncontainer", "ec1")["spec"] == {
        "image": IMAGE,
        "platformRef": {"name": "mz"},
        "replicas": 1,
    }
    ok, output = k.apply(desktop())
    assert ok, output
    assert k.get("desktopclient", "alice")["spec"] == {
        "user": "alice",
        "platformRef": {"name": "mz"},
        "key": {"algorithm": "RSA"},
        "duration": "8760h",
        "format": {"type": "PKCS12"},
        "alias": "desktop",
    }


def test_full_valid_specs_are_accepted(k: Kubectl) -> None:
    full = platform(
        imagePullPolicy="IfNotPresent",
        podTemplate={
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
            "env": [
                {"name": "JAVA_OPTS", "value": "-Xmx1g"},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            ],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "pico", "operator": "Exists", "effect": "NoSchedule"}],
            "securityContext": {"runAsNonRoot": True},
            "podSecurityContext": {"fsGroup": 1000},
            "volumes": [{"name": "data", "emptyDir": {}}],
            "volumeMounts": [{"name": "data", "mountPath": "/opt/mz/data"}],
            "annotations": {"example.com/team": "pico"},
            "labels": {"team": "pico"},
        },
        service={"type": "NodePort", "rcpPort": 6791, "webPort": 9001},
        properties={"mz.webserver.port": "9001", "pico.rcp.server.host": "0.0.0.0"},
        tls={
            "requireClientAuth": True,
            "keystoreMode": "Shared",
            "trust": {"mode": "CertificateAuthority", "caSecretRef": {"name": "corp-ca"}},
            "format": {"type": "PKCS12", "profile": "ModernAES"},
            "key": {"algorithm": "ECDSA", "size": 384},
            "duration": "2160h30m",
            "renewBefore": "1.5h",
            "mountPath": "/opt/mz/tls",
            "alias": "mz-platform.1",
            "hostnames": ["pico.example.com", "*.pico.example.com"],
            "passwordSecretRef": {"name": "mz-passwords"},
        },
    )
    ok, output = k.apply(full)
    assert ok, output
    stored = k.get("platform", "mz")["spec"]
    pod_ip = {"fieldRef": {"fieldPath": "status.podIP"}}
    assert stored["podTemplate"]["env"][1]["valueFrom"] == pod_ip
    assert stored["tls"]["key"] == {"algorithm": "ECDSA", "size": 384}
    ok, output = k.apply(
        container(
            replicas=0,
            tls={"alias": "ec1"},
            properties={"ec.webserver.port": "9090"},
        )
    )
    assert ok, output
    ok, output = k.apply(
        desktop(
            key={"algorithm": "RSA", "size": 4096},
            format={"type": "JKS"},
            duration="720h",
            alias="alice",
            passwordSecretRef={"name": "alice-password"},
        )
    )
    assert ok, output


def test_examples_are_accepted(k: Kubectl) -> None:
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        ok, output = k.run("apply", "-n", k.namespace, "-f", str(path))
        assert ok, f"{path.name}: {output}"


@pytest.mark.parametrize("make", [container, desktop], ids=["ExecutionContainer", "DesktopClient"])
def test_platform_ref_is_immutable(k: Kubectl, make: Any) -> None:
    ok, output = k.apply(make(platform_name="mz"))
    assert ok, output
    ok, output = k.apply(make(platform_name="other"))
    assert not ok, "platformRef changed"
    assert "platformRef is immutable" in output, output
    # Other fields may still change.
    changed = make(platform_name="mz")
    changed["spec"]["alias" if make is desktop else "replicas"] = "desk" if make is desktop else 3
    ok, output = k.apply(changed)
    assert ok, output


def test_examples_of_attaching_are_accepted(k: Kubectl) -> None:
    for path in sorted((ROOT / "examples" / "attach").glob("*.yaml")):
        ok, output = k.run("apply", "-n", k.namespace, "-f", str(path))
        assert ok, f"{path.name}: {output}"


def test_workload_ref_is_neither_added_nor_removed_nor_renamed(k: Kubectl) -> None:
    ref = {"kind": "StatefulSet", "name": "mine"}
    ok, output = k.apply({**platform(), "spec": {"workloadRef": ref}})
    assert ok, output
    ok, output = k.apply({**platform(), "spec": {"workloadRef": {**ref, "name": "other"}}})
    assert not ok and "workloadRef.kind and workloadRef.name are immutable" in output, output
    ok, output = k.apply({**platform(), "spec": {"image": IMAGE}})
    assert not ok and "workloadRef cannot be added or removed" in output, output
    ok, output = k.apply({**platform(), "spec": {"workloadRef": {**ref, "keepOnDelete": True}}})
    assert ok, output


def test_keystore_mode_and_trust_mode_may_change(k: Kubectl) -> None:
    ok, output = k.apply(platform())
    assert ok, output
    ok, output = k.apply(platform(tls={"keystoreMode": "Shared", "trust": {"mode": "Pinned"}}))
    assert ok, output
    tls = k.get("platform", "mz")["spec"]["tls"]
    assert (tls["keystoreMode"], tls["trust"]["mode"]) == ("Shared", "Pinned")
    ok, output = k.apply(platform(tls={"keystoreMode": "PerContainer"}))
    assert ok, output
    tls = k.get("platform", "mz")["spec"]["tls"]
    assert (tls["keystoreMode"], tls["trust"]["mode"]) == ("PerContainer", "CertificateAuthority")


def test_printer_columns_and_category(k: Kubectl) -> None:
    ok, output = k.apply(platform())
    assert ok, output
    ok, output = k.run("get", "-n", k.namespace, "pico")
    assert ok, output
    assert "platform.picotls.dev/mz" in output
    ok, output = k.run("get", "-n", k.namespace, "pplat")
    assert ok, output
    header = output.splitlines()[0].split()
    assert header == ["NAME", "READY", "CLIENTAUTH", "MODE", "TRUST", "NOTAFTER", "AGE"]
    assert "PerContainer" in output and "CertificateAuthority" in output
    ok, output = k.run("get", "-n", k.namespace, "pplat", "-o", "wide")
    assert ok, output
    assert "CAROTATION" in output.splitlines()[0].split()
