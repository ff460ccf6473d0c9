"""The delivery choice and the managed-key guard, as `spec.py` parses them."""

from __future__ import annotations

from typing import Any

import pytest

from pico_tls.delivery_choice import DeliveryForm, PasswordEncoding
from pico_tls.spec import SpecError, parse_container, parse_platform
from pico_tls.spec_fields import managed_key


def platform(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "mz", "namespace": "ns"}, "spec": {"image": "img", **spec}}


def container(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "ec1", "namespace": "ns"},
        "spec": {"platformRef": {"name": "mz"}, "image": "img", **spec},
    }


@pytest.mark.parametrize(
    ("key", "managed"),
    [
        ("pico.rcp.platform.host\t", "pico.rcp.platform.host"),
        (" pico.rcp.platform.port", "pico.rcp.platform.port"),
        ("pico.rcp.platform.host=evil", "pico.rcp.platform.host"),
        ("pico.rcp.platform.host:x", "pico.rcp.platform.host"),
        ("pico.rcp.platform.host extra", "pico.rcp.platform.host"),
        ("pico.rcp.tls\\u002ekeystore", "pico.rcp.tls.keystore"),
        ("pico.rcp.tls.keystore.password", "pico.rcp.tls.keystore.password"),
        ("a\\\n  pico.rcp.tls.x", None),
        ("x\npico.rcp.platform.host", None),
    ],
)
def test_keys_are_compared_as_java_reads_them(key: str, managed: str | None) -> None:
    found = managed_key(key)
    if managed is None:
        assert found is None or found.startswith("pico.rcp.")
    else:
        assert found == managed
        with pytest.raises(SpecError, match=managed.replace(".", r"\.")):
            parse_platform(platform(properties={key: "v"}))


def test_plain_keys_pass_and_web_ui_keys_are_managed_only_when_on() -> None:
    assert managed_key("mz.webserver.port") is None
    assert managed_key("mz.httpd.security.keystore") is None
    assert managed_key("mz.httpd.security.keystore", web_ui_tls=True)
    with pytest.raises(SpecError, match=r"mz\.httpd\.security"):
        parse_platform(
            platform(properties={"mz.httpd.security": "false"}, delivery={"webUiTls": True})
        )
    assert parse_platform(platform(properties={"mz.httpd.security": "false"})).properties


def test_default_delivery_is_the_properties_file() -> None:
    p = parse_platform(platform())
    assert p.delivery.form is DeliveryForm.PROPERTIES_FILE
    assert p.delivery.password_encoding is PasswordEncoding.PLAIN
    c = parse_container(container())
    assert c.delivery is None and c.delivery_under(p) is p.delivery


@pytest.mark.parametrize(
    ("form", "encoding"),
    [
        ("EntrypointEnv", PasswordEncoding.BASE64),
        ("StartupArgs", PasswordEncoding.BASE64),
        ("TopologyFiles", PasswordEncoding.PLAIN),
    ],
)
def test_each_form_has_its_default_encoding(form: str, encoding: PasswordEncoding) -> None:
    assert parse_platform(platform(delivery={"form": form})).delivery.password_encoding is encoding


def test_a_container_replaces_the_platform_choice() -> None:
    p = parse_platform(platform(delivery={"form": "StartupArgs", "webUiTls": True}))
    c = parse_container(container(delivery={"form": "TopologyFiles"}))
    assert c.delivery_under(p).form is DeliveryForm.TOPOLOGY_FILES
    assert c.delivery_under(p).web_ui_tls is False


@pytest.mark.parametrize(
    ("delivery", "tls", "message"),
    [
        ({"form": "PropertiesFile", "passwordEncoding": "PreEncrypted"}, {}, "properties file"),
        ({"form": "EntrypointEnv", "passwordEncoding": "Plain"}, {}, "base64-encodes"),
        ({"form": "StartupArgs", "passwordEncoding": "PreEncrypted"}, {}, "encryptedPassword"),
        (
            {
                "form": "StartupArgs",
                "passwordEncoding": "PreEncrypted",
                "encryptedPasswordSecretRef": {"name": "enc"},
            },
            {},
            "passwordSecretRef",
        ),
        ({"form": "StartupArgs", "encryptedPasswordSecretRef": {"name": "e"}}, {}, "exactly when"),
        ({"form": "Carrier pigeon"}, {}, "spec.delivery"),
        ({"form": "TopologyFiles", "topology": {"commonPath": "etc"}}, {}, "absolute"),
        (
            {"form": "TopologyFiles", "topology": {"commonPath": "/a", "containerPath": "/a/"}},
            {},
            "must differ",
        ),
    ],
)
def test_bad_choices_say_what_to_fix(
    delivery: dict[str, Any], tls: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        parse_platform(platform(delivery=delivery, tls=tls))


def test_pre_encrypted_with_a_password_secret() -> None:
    p = parse_platform(
        platform(
            delivery={
                "form": "TopologyFiles",
                "passwordEncoding": "PreEncrypted",
                "encryptedPasswordSecretRef": {"name": "enc"},
            },
            tls={"passwordSecretRef": {"name": "pw"}},
        )
    )
    assert p.delivery.encrypted_password_secret == "enc"


@pytest.mark.parametrize(
    ("topology", "pod"),
    [
        ({"commonPath": "/etc/pico/tls"}, {}),
        ({"containerPath": "/etc/pico/properties"}, {}),
        ({}, {"volumeMounts": [{"name": "mine", "mountPath": "/etc/config/common"}]}),
    ],
)
def test_topology_folders_must_be_free(topology: dict[str, str], pod: dict[str, Any]) -> None:
    choice = {"form": "TopologyFiles", "topology": topology}
    with pytest.raises(SpecError, match="already mounted"):
        parse_platform(platform(delivery=choice, podTemplate=pod))
    with pytest.raises(SpecError, match="already mounted"):
        parse_container(container(delivery=choice, podTemplate=pod), parse_platform(platform()))
