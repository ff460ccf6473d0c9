"""End-to-end: each delivery form on the real API server.

The CRDs refuse delivery choices that cannot work, with a message; a Platform group per form
gets the pod templates of docs/wiring-your-pico-image.md, and the settings read back from
the live objects (the way each form's consumer reads them, Secrets looked up as the kubelet
does) are the same for every form. The leak check of tests/e2e/conftest.py then proves no
password (plain, base64 or pre-encrypted) is in a pod spec, ConfigMap, status or Event.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import pytest

from pico_harness.support import delivery as dt
from pico_harness.support.kubectl import Kubectl
from pico_harness.support.kubectl import container as crd_container
from pico_harness.support.kubectl import platform as crd_platform
from pico_harness.support.resources import get, wait_ready

pytestmark = pytest.mark.e2e

REFUSED = {
    "pre-encrypted-without-secret": (
        crd_platform(delivery={"form": "StartupArgs", "passwordEncoding": "PreEncrypted"}),
        "needs delivery.encryptedPasswordSecretRef.name",
    ),
    "pre-encrypted-properties-file": (
        crd_platform(
            delivery={
                "passwordEncoding": "PreEncrypted",
                "encryptedPasswordSecretRef": {"name": "enc"},
            },
            tls={"passwordSecretRef": {"name": "pw"}},
        ),
        "PropertiesFile cannot carry PreEncrypted",
    ),
    "pre-encrypted-without-password-secret": (
        crd_platform(
            delivery={
                "form": "TopologyFiles",
                "passwordEncoding": "PreEncrypted",
                "encryptedPasswordSecretRef": {"name": "enc"},
            }
        ),
        "needs tls.passwordSecretRef.name",
    ),
    "entrypoint-plain": (
        crd_platform(delivery={"form": "EntrypointEnv", "passwordEncoding": "Plain"}),
        "EntrypointEnv takes passwordEncoding Base64 only",
    ),
    "unknown-form": (crd_platform(delivery={"form": "Yaml"}), "Unsupported value"),
    "same-topology-folders": (
        crd_container(delivery={"topology": {"commonPath": "/x", "containerPath": "/x"}}),
        "must differ",
    ),
    "relative-topology-folder": (
        crd_container(delivery={"topology": {"commonPath": "etc/config"}}),
        "must be an absolute folder",
    ),
    "secret-ref-without-pre-encrypted": (
        crd_container(delivery={"encryptedPasswordSecretRef": {"name": "enc"}}),
        "used only with passwordEncoding PreEncrypted",
    ),
}


@pytest.fixture
def k(crds: Any, namespace: str, tmp_path: Path) -> Kubectl:
    return Kubectl(crds, namespace, tmp_path)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_crd_refuses_delivery_choices_that_cannot_work(k: Kubectl, case: str) -> None:
    body, message = REFUSED[case]
    ok, output = k.apply(body)
    assert not ok and message in output, output


PASSWORDS = {"keystore.password": b"store-pass-1234", "key.password": b"key-pass-56789"}
ENCRYPTED = {
    "keystore.password.encrypted": b"DES3:0123456789abcdef",
    "key.password.encrypted": b"DES3:fedcba9876543210",
}
FORMS = {
    "props": ({"form": "PropertiesFile", "passwordEncoding": "Base64", "webUiTls": True}, "b64"),
    "entry": ({"form": "EntrypointEnv"}, "b64"),
    "args": ({"form": "StartupArgs", "passwordEncoding": "Plain"}, "plain"),
    "topo": (
        {
            "form": "TopologyFiles",
            "passwordEncoding": "PreEncrypted",
            "encryptedPasswordSecretRef": {"name": "enc"},
            "topology": {"commonPath": "/opt/mz/config/common"},
        },
        "encrypted",
    ),
}


def _secret(ns: str, name: str, data: dict[str, bytes]) -> dict[str, Any]:
    encoded = {key: base64.b64encode(value).decode() for key, value in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": encoded,
    }


def _group(ns: str, form: str) -> list[dict[str, Any]]:
    choice, _ = FORMS[form]
    body = crd_platform(f"mz-{form}", delivery=choice, properties={"mz.webserver.port": "9001"})
    body["spec"]["tls"] = {"passwordSecretRef": {"name": "pw"}}
    ec = crd_container(f"ec-{form}", f"mz-{form}", properties={"ec.note": "a-b"})
    for obj in (body, ec):
        obj["metadata"]["namespace"] = ns
    return [body, ec]


def _expected(ns: str, form: str, name: str, platform: str | None) -> dict[str, str]:
    encoding = FORMS[form][1]
    store, key = (PASSWORDS[k].decode() for k in ("keystore.password", "key.password"))
    if encoding == "b64":
        store, key = dt.b64(store), dt.b64(key)
    if encoding == "encrypted":
        store, key = (ENCRYPTED[k].decode() for k in sorted(ENCRYPTED, reverse=True))
    out = {
        "pico.rcp.tls.keystore": "/etc/pico/tls/keystore.p12",
        "pico.rcp.tls.keystore.alias": "platform" if platform is None else name,
        "pico.rcp.tls.require_clientauth": "false",
        "pico.rcp.tls.keystore.password": store,
        "pico.rcp.tls.key.password": key,
    }
    out |= {"mz.webserver.port": "9001"} if platform is None else {"ec.note": "a-b"}
    if platform is not None:
        out |= {"pico.rcp.platform.host": f"{platform}.{ns}.svc", "pico.rcp.platform.port": "6790"}
    if form in ("props", "entry"):  # webUiTls on; the entrypoint always does it
        out |= {
            "mz.httpd.security": "true",
            "mz.httpd.security.keystore": out["pico.rcp.tls.keystore"],
            "mz.httpd.security.key.alias": out["pico.rcp.tls.keystore.alias"],
            "mz.httpd.security.keystore.password": store,
            "mz.httpd.security.key.password": key,
        }
    return out


def _read_back(cluster: Any, ns: str, kind: str, name: str) -> dict[str, str]:
    container = dt.container_of(get(cluster, kind, name, ns))
    secrets = {
        s["metadata"]["name"]: {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}
        for s in cluster.get_json("secrets", "-n", ns)["items"]
    }
    env = dt.resolved_env(container, secrets)
    configmaps = {
        c["metadata"]["name"]: c.get("data") or {}
        for c in cluster.get_json("configmaps", "-n", ns)["items"]
    }
    files = dt.mounted_files(get(cluster, kind, name, ns), configmaps, secrets)
    assert "/etc/pico/tls/keystore.p12" in files
    if "PICO_PROPERTIES_FILES" in env:
        return dt.read_properties_form(container, files, env)
    if "/etc/config/container/container.conf" in files:
        cell = files["/opt/mz/config/common/cell.conf"]
        assert [p for p in files if p.startswith("/opt/mz/config/common/")] == [
            "/opt/mz/config/common/cell.conf"
        ]  # one file per folder, as the public EC entrypoint needs
        return dt.read_topology([cell, files["/etc/config/container/container.conf"]], env)
    if "TLS_ENABLED" in env:
        return dt.read_entrypoint(container, env)
    assert container["args"][0] == "-e"
    return dt.read_startup_args(container, env)


def test_each_form_reaches_the_pod_template(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply([_secret(ns, "pw", PASSWORDS), _secret(ns, "enc", ENCRYPTED)])
    for form in FORMS:
        kube_cluster.apply(_group(ns, form))
    for form in FORMS:
        wait_ready(kube_cluster, "platform", f"mz-{form}", ns)
        wait_ready(kube_cluster, "executioncontainer", f"ec-{form}", ns)
    for form in FORMS:
        for kind, name, platform in (
            ("statefulset", f"mz-{form}", None),
            ("deployment", f"ec-{form}", f"mz-{form}"),
        ):
            got = _read_back(kube_cluster, ns, kind, name)
            assert got == _expected(ns, form, name, platform), (form, name)
    pod_specs = str(kube_cluster.get_json("statefulsets,deployments", "-n", ns)["items"])
    for value in [*PASSWORDS.values(), *ENCRYPTED.values()]:
        assert value.decode() not in pod_specs
        assert dt.b64(value.decode()) not in pod_specs


def test_the_delivery_examples_are_accepted(k: Kubectl) -> None:
    examples = sorted(
        (Path(__file__).resolve().parents[2] / "examples" / "delivery").glob("*.yaml")
    )
    assert len(examples) == 4
    for path in examples:
        ok, output = k.run("apply", "-n", k.namespace, "-f", str(path))
        assert ok, f"{path.name}: {output}"


def _ready_condition(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def test_a_value_the_inherited_form_cannot_carry_is_a_condition_and_an_event(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply(_secret(ns, "pw", PASSWORDS))
    body, ec = _group(ns, "entry")
    ec["spec"]["properties"] = {"ec.note": "two words"}  # the entrypoint would split it
    kube_cluster.apply([body, ec])
    wait_ready(kube_cluster, "platform", "mz-entry", ns)

    def refused() -> dict[str, Any] | None:
        obj = get(kube_cluster, "executioncontainer", "ec-entry", ns)
        conditions = (obj.get("status") or {}).get("conditions") or []
        return obj if any(c.get("reason") == "InvalidSpec" for c in conditions) else None

    obj = kube_cluster.wait_until("ec-entry refused", refused, timeout=60)
    message = _ready_condition(obj)["message"]
    assert "'ec.note'" in message and "EntrypointEnv" in message, message
    events = kube_cluster.get_json("events", "-n", ns)["items"]
    assert any(e["reason"] == "InvalidSpec" and "'ec.note'" in e["message"] for e in events)
    # its own form fixes it: the container now reconciles and gets the -e arguments
    ec["spec"]["delivery"] = {"form": "StartupArgs"}
    kube_cluster.apply(ec)
    wait_ready(kube_cluster, "executioncontainer", "ec-entry", ns)
    args = dt.container_of(get(kube_cluster, "deployment", "ec-entry", ns))["args"]
    assert "ec.note=two words" in args


def test_changing_the_form_or_a_setting_rolls_the_pods_once(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    kube_cluster.apply([_secret(ns, "pw", PASSWORDS), _secret(ns, "enc", ENCRYPTED)])
    body, ec = _group(ns, "topo")
    kube_cluster.apply([body, ec])
    wait_ready(kube_cluster, "executioncontainer", "ec-topo", ns)

    def generation() -> int:
        return int(get(kube_cluster, "deployment", "ec-topo", ns)["metadata"]["generation"])

    def settled_after(before: int) -> int:
        wait_ready(kube_cluster, "executioncontainer", "ec-topo", ns)

        def rolled() -> int | None:
            now = generation()
            return now if now > before else None

        return int(kube_cluster.wait_until("a roll", rolled))

    start = generation()
    ec["spec"]["properties"] = {"ec.note": "changed"}  # only the HOCON ConfigMap's meaning
    kube_cluster.apply(ec)
    after_setting = settled_after(start)
    cm = get(kube_cluster, "configmap", "ec-topo-rcp-tls", ns)["data"]
    assert '"ec.note" = "changed"' in cm["container.conf"]
    ec["spec"]["delivery"] = {"form": "StartupArgs"}
    kube_cluster.apply(ec)
    after_form = settled_after(after_setting)
    assert after_setting == start + 1 and after_form == after_setting + 1
    time.sleep(3)  # a resync or an idle pass writes nothing
    assert generation() == after_form
    args = dt.container_of(get(kube_cluster, "deployment", "ec-topo", ns))["args"]
    assert "ec.note=changed" in args
    assert "cell.conf" not in get(kube_cluster, "configmap", "ec-topo-rcp-tls", ns)["data"]
