"""Every delivery form, rendered for a Platform group with no cluster: the pod templates
get what docs/wiring-your-pico-image.md says, every form carries exactly the same settings
(read back the way its consumer reads it), and no password is in clear in a pod spec or
ConfigMap."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pico_harness.support import delivery as dt
from pico_tls.builders import form_content, names, secret_manifests
from pico_tls.builders.classic_forms import EMIT_CHOICES, emit_forms
from pico_tls.builders.properties import rcp_properties
from pico_tls.delivery_choice import DeliveryError, DeliveryForm, PasswordEncoding, carry_problem
from pico_tls.render import render_objects
from pico_tls.spec import SpecError

PROPS = {"mz.webserver.port": "9001", "custom.note": "a b = c # ü"}


def group(
    delivery_spec: dict[str, Any] | None, *, tls: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {"image": "pico:1", "properties": dict(PROPS), "tls": tls or {}}
    if delivery_spec is not None:
        spec["delivery"] = delivery_spec
    return [
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "Platform",
            "metadata": {"name": "mz", "namespace": "ns"},
            "spec": spec,
        },
        {
            "apiVersion": "picotls.dev/v1alpha1",
            "kind": "ExecutionContainer",
            "metadata": {"name": "ec1", "namespace": "ns"},
            "spec": {"platformRef": {"name": "mz"}, "image": "pico:1", "properties": {"ec.x": "1"}},
        },
    ]


def objects(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in render_objects(docs)}


def secrets_of(objs: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, bytes]]:
    return {n: secret_manifests.decode_data(o) for (k, n), o in objs.items() if k == "Secret"}


def read_back(objs: dict[tuple[str, str], dict[str, Any]], name: str, kind: str) -> dict[str, str]:
    """The settings pod `name` ends up with, read the way its consumer reads them."""
    container = dt.container_of(objs[(kind, name)])
    secrets = secrets_of(objs)
    env = dt.resolved_env(container, secrets)
    configmaps = {n: o["data"] for (k, n), o in objs.items() if k == "ConfigMap"}
    files = dt.mounted_files(objs[(kind, name)], configmaps, secrets)
    assert "/etc/pico/tls/keystore.p12" in files
    if "PICO_PROPERTIES_FILES" in env:
        return dt.read_properties_form(container, files, env)
    if "/etc/config/common/cell.conf" in files:
        assert [p for p in files if p.startswith("/etc/config/")] == [
            "/etc/config/common/cell.conf",
            "/etc/config/container/container.conf",
        ]
        cell, own = (
            files["/etc/config/common/cell.conf"],
            files["/etc/config/container/container.conf"],
        )
        return dt.read_topology([cell, own], env)
    if "TLS_ENABLED" in env:
        return dt.read_entrypoint(container, env)
    return dt.read_startup_args(container, env)


def passwords(objs: dict[tuple[str, str], dict[str, Any]], name: str) -> tuple[str, str]:
    data = secrets_of(objs)[names.tls_secret(name)]
    return data["keystore.password"].decode(), data["key.password"].decode()


def expected(
    objs: dict[tuple[str, str], dict[str, Any]], name: str, encode: Any, web: bool
) -> dict[str, str]:
    """The PropertiesFile form's settings, with passwords encoded by `encode`."""
    reference = objects_default[name]
    store, key = (encode(p) for p in passwords(objs, name))
    out = {k: v for k, v in reference.items() if not k.endswith("password")}
    out |= {"pico.rcp.tls.keystore.password": store, "pico.rcp.tls.key.password": key}
    if web:
        out |= {
            "mz.httpd.security": "true",
            "mz.httpd.security.keystore": out["pico.rcp.tls.keystore"],
            "mz.httpd.security.key.alias": out["pico.rcp.tls.keystore.alias"],
            "mz.httpd.security.keystore.password": store,
            "mz.httpd.security.key.password": key,
        }
    return out


objects_default: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module", autouse=True)
def reference_settings() -> None:
    objs = objects(group(None))
    for name, kind in (("mz", "StatefulSet"), ("ec1", "Deployment")):
        objects_default[name] = read_back(objs, name, kind)


def test_the_properties_form_is_the_reference() -> None:
    mz, ec = objects_default["mz"], objects_default["ec1"]
    assert mz["pico.rcp.tls.keystore"] == "/etc/pico/tls/keystore.p12"
    assert mz["pico.rcp.tls.keystore.alias"] == "platform"
    assert mz["pico.rcp.tls.require_clientauth"] == "false"
    assert mz["custom.note"] == PROPS["custom.note"]
    assert "pico.rcp.platform.host" not in mz
    assert ec["pico.rcp.platform.host"] == "mz.ns.svc" and ec["pico.rcp.platform.port"] == "6790"
    assert ec["pico.rcp.tls.keystore.alias"] == "ec1" and ec["ec.x"] == "1"
    assert len(mz["pico.rcp.tls.keystore.password"]) >= 16


FORMS = [
    ({"form": "PropertiesFile"}, str, False),
    ({"form": "PropertiesFile", "passwordEncoding": "Base64"}, dt.b64, False),
    ({"form": "PropertiesFile", "webUiTls": True}, str, True),
    ({"form": "StartupArgs"}, dt.b64, False),
    ({"form": "StartupArgs", "passwordEncoding": "Plain", "webUiTls": True}, str, True),
    ({"form": "TopologyFiles"}, str, False),
    ({"form": "TopologyFiles", "passwordEncoding": "Base64", "webUiTls": True}, dt.b64, True),
]


@pytest.mark.parametrize(("choice", "encode", "web"), FORMS, ids=[json.dumps(f[0]) for f in FORMS])
def test_every_form_carries_the_same_settings(
    choice: dict[str, Any], encode: Any, web: bool
) -> None:
    objs = objects(group(choice))
    for name, kind in (("mz", "StatefulSet"), ("ec1", "Deployment")):
        assert read_back(objs, name, kind) == expected(objs, name, encode, web), (name, choice)


def test_the_entrypoint_form_adds_what_the_entrypoint_does_not_set() -> None:
    docs = group({"form": "EntrypointEnv"})
    docs[0]["spec"]["properties"] = {"mz.webserver.port": "9001", "custom.note": "a-b=c#ü"}
    objs = objects(docs)
    for name, kind in (("mz", "StatefulSet"), ("ec1", "Deployment")):
        # that entrypoint always turns on the Web UI's TLS from the same keystore
        want = expected(objs, name, dt.b64, True)
        if name == "mz":
            want["custom.note"] = "a-b=c#ü"
        assert read_back(objs, name, kind) == want
    container = dt.container_of(objs[("StatefulSet", "mz")])
    env = {e["name"]: e for e in container["env"]}
    assert env["TLS_KEYSTORE"]["value"] == "/etc/pico/tls/keystore.p12"
    assert env["TLS_KEY_ALIAS"]["value"] == "platform"
    assert env["TLS_KEYSTORE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "mz-rcp-tls",
        "key": "keystore.password",
    }
    assert container["args"][:4] == [
        "-e",
        "pico.rcp.tls.keystore.alias=platform",
        "-e",
        "pico.rcp.tls.require_clientauth=false",
    ]


def test_entrypoint_form_refuses_a_value_it_would_split() -> None:
    with pytest.raises(SpecError, match="'custom.note'.*EntrypointEnv"):
        objects(group({"form": "EntrypointEnv"}))  # PROPS holds spaces


def test_startup_args_are_an_argument_vector_with_references_only() -> None:
    objs = objects(group({"form": "StartupArgs"}))
    container = dt.container_of(objs[("Deployment", "ec1")])
    args = container["args"]
    assert args[0] == "-e" and "custom.note=a b = c # ü" not in args  # not the platform's
    assert "pico.rcp.tls.keystore.password=$(PICO_RCP_TLS_KEYSTORE_PASSWORD)" in args
    assert "pico.rcp.platform.host=mz.ns.svc" in args
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env["PICO_RCP_TLS_KEY_PASSWORD"] == {"name": "ec1-rcp-tls", "key": "key.password.base64"}
    mz = dt.container_of(objs[("StatefulSet", "mz")])
    assert "custom.note=a b = c # ü" in mz["args"]  # one argument, spaces and all


def test_a_dollar_in_a_value_survives_kubernetes_expansion() -> None:
    docs = group({"form": "StartupArgs"})
    docs[0]["spec"]["properties"] = {"odd": "$(PICO_RCP_TLS_KEYSTORE_PASSWORD) $$ $"}
    objs = objects(docs)
    assert read_back(objs, "mz", "StatefulSet")["odd"] == "$(PICO_RCP_TLS_KEYSTORE_PASSWORD) $$ $"


def test_pre_encrypted_passwords_come_from_your_secret() -> None:
    choice = {
        "form": "TopologyFiles",
        "passwordEncoding": "PreEncrypted",
        "encryptedPasswordSecretRef": {"name": "mz-encrypted"},
    }
    docs = group(choice, tls={"passwordSecretRef": {"name": "pw"}})
    objs = objects(docs)
    yours = {"keystore.password.encrypted": b"ENC:store", "key.password.encrypted": b"ENC:key"}
    secrets = secrets_of(objs) | {"mz-encrypted": yours}
    for name, kind in (("mz", "StatefulSet"), ("ec1", "Deployment")):
        container = dt.container_of(objs[(kind, name)])
        refs = [e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]]
        assert refs == ["mz-encrypted", "mz-encrypted"]
        cm = objs[("ConfigMap", names.properties_configmap(name))]["data"]
        env = dt.resolved_env(container, secrets)
        got = dt.read_topology([cm["cell.conf"], cm["container.conf"]], env)
        assert got["pico.rcp.tls.keystore.password"] == "ENC:store"
        assert got["pico.rcp.tls.key.password"] == "ENC:key"


@pytest.mark.parametrize("choice", [f[0] for f in FORMS] + [{"form": "EntrypointEnv"}])
def test_no_password_in_clear_in_pod_specs_or_configmaps(choice: dict[str, Any]) -> None:
    docs = group(choice)
    if choice["form"] == "EntrypointEnv":
        docs[0]["spec"]["properties"] = {"plain": "yes"}
    objs = objects(docs)
    shown = json.dumps([o for (k, _), o in objs.items() if k != "Secret"])
    for name in ("mz", "ec1"):
        for pw in passwords(objs, name):
            assert pw not in shown and dt.b64(pw) not in shown


def test_topology_fragments_hold_substitutions_not_passwords() -> None:
    objs = objects(group({"form": "TopologyFiles"}))
    cm = objs[("ConfigMap", "ec1-rcp-tls")]["data"]
    assert (
        '"pico.rcp.tls.keystore.password" = ${?PICO_RCP_TLS_KEYSTORE_PASSWORD}'
        in cm["container.conf"]
    )
    assert '"pico.rcp.platform.host" = "mz.ns.svc"' in cm["cell.conf"]
    assert "pico.rcp.platform.host" not in cm["container.conf"]


text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
env_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(text, text, max_size=5), env_text, env_text)
def test_hocon_fragments_parse_back_exactly(props: dict[str, str], store: str, key: str) -> None:
    """Whatever the topology form accepts reads back exactly through a HOCON parser; the
    rest is refused naming the property (environment variables cannot hold NUL at all)."""
    managed = rcp_properties(keystore_path="/k s/ks.p12", alias="a", require_client_auth=True)
    s = form_content.pico_settings({**props, **managed}, web_ui_tls=True)
    refused = [k for k, v in props.items() if carry_problem(DeliveryForm.TOPOLOGY_FILES, k, v)]
    if refused:
        with pytest.raises(DeliveryError, match=re.escape(repr(min(refused)))):
            form_content.topology_files(s, str, how="env")
        return
    files = form_content.topology_files(
        s, lambda slot: form_content.hocon_env(f"PW_{slot.upper()}"), how="env"
    )
    env = {"PW_STORE": store, "PW_KEY": key}
    got = dt.read_topology([files["cell.conf"], files["container.conf"]], env)
    passwords = {k: store if slot == "store" else key for k, slot in s.passwords.items()}
    assert got == dict(s.public) | passwords


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=20))
def test_argument_vectors_carry_any_printable_value_or_refuse_naming_the_property(
    value: str,
) -> None:
    s = form_content.pico_settings({"my.prop": value}, web_ui_tls=False)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        with pytest.raises(DeliveryError, match="'my.prop'"):
            form_content.startup_args(s, str)
        return
    args = form_content.startup_args(s, str, literal=form_content.kubernetes_literal)
    assert dt.argv_pairs([dt.expand(a, {}) for a in args]) == {"my.prop": value}


def test_classic_emit_writes_every_form_with_the_same_settings() -> None:
    props = rcp_properties(
        keystore_path="/opt/pico/tls/keystore.p12",
        alias="ec1",
        require_client_auth=True,
        platform_host="mz.example.com",
        platform_port=6790,
        extra={"x": "1"},
    )
    files = emit_forms(
        props,
        store_password="s'tore pw",
        key_password="k$y",
        encoding=PasswordEncoding.BASE64,
        forms=EMIT_CHOICES,
    )
    assert set(files) == {
        "rcp-tls.properties",
        "tls.env",
        "startup-args",
        "cell.conf",
        "container.conf",
    }
    want = {
        **props,
        "pico.rcp.tls.keystore.password": dt.b64("s'tore pw"),
        "pico.rcp.tls.key.password": dt.b64("k$y"),
    }
    from pico_tls import javaprops

    assert javaprops.load(files["rcp-tls.properties"]) == want
    assert dt.argv_pairs(files["startup-args"].splitlines()) == want
    assert dt.read_topology([files["cell.conf"], files["container.conf"]], {}) == want
    import shlex

    env = dict(line.removeprefix("export ").split("=", 1) for line in files["tls.env"].splitlines())
    env = {k: shlex.split(v)[0] for k, v in env.items()}
    args = shlex.split(env.pop("PICO_TLS_EXTRA_ARGS"))
    read = dt.read_entrypoint({"args": args}, env)
    assert {k: v for k, v in read.items() if not k.startswith("mz.")} == want
    with pytest.raises(DeliveryError, match="unknown form"):
        emit_forms(props, store_password="a", key_password="b", forms=["yaml"])
    assert DeliveryForm.TOPOLOGY_FILES  # the forms are the CRD's
