"""Parsing custom resources: defaults and messages that say what to fix."""

from datetime import timedelta

import pytest

from pico_tls.keystore import Pkcs12Profile, StoreFormat
from pico_tls.pki.keys import KeyAlgorithm
from pico_tls.spec import SpecError, parse_container, parse_desktop, parse_platform
from pico_tls.spec_fields import parse_duration
from pico_tls.spec_model import KeystoreMode, TrustMode


def platform(**spec):
    return {
        "kind": "Platform",
        "metadata": {"name": "mz", "namespace": "ns"},
        "spec": {"image": "img", **spec},
    }


def test_platform_defaults():
    p = parse_platform(platform())
    assert p.tls.enabled and not p.tls.require_client_auth
    assert p.tls.keystore_mode is KeystoreMode.PER_CONTAINER
    assert p.tls.trust_mode is TrustMode.CERTIFICATE_AUTHORITY
    assert (p.tls.store.format, p.tls.store.profile) == (
        StoreFormat.PKCS12,
        Pkcs12Profile.LEGACY_3DES,
    )
    assert p.tls.key_algorithm is KeyAlgorithm.RSA_2048
    assert p.tls.duration == timedelta(days=365) and p.tls.renew_before == timedelta(days=30)
    assert (p.service.rcp_port, p.service.web_port) == (6790, 9000)
    assert p.tls.mount_path == "/etc/pico/tls" and p.tls.alias == "platform"


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        (
            {"key": {"algorithm": "ECDSA", "size": 2048}},
            "spec.tls.key.size: ECDSA keys can be 256, 384",
        ),
        ({"format": {"type": "JKS", "profile": "ModernAES"}}, "only PKCS12 stores have a profile"),
        ({"duration": "24h", "renewBefore": "48h"}, "renewBefore: must be shorter"),
        ({"duration": "one year"}, "is not a duration"),
        ({"mountPath": "etc/tls"}, "must be an absolute path"),
        ({"trust": {"mode": "Pinned", "caSecretRef": {"name": "ca"}}}, "only used with mode"),
    ],
)
def test_platform_errors_name_the_field(tls, message):
    with pytest.raises(SpecError, match=message):
        parse_platform(platform(tls=tls))


@pytest.mark.parametrize(
    "key", ["pico.rcp.tls.keystore.password", "pico.rcp.tls.keystore", "pico.rcp.platform.host"]
)
def test_managed_properties_are_refused(key):
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        parse_platform(platform(properties={key: "x"}))


def test_container_and_desktop():
    c = parse_container(
        {
            "metadata": {"name": "ec1", "namespace": "ns"},
            "spec": {"platformRef": {"name": "mz"}, "image": "img", "replicas": 3},
        }
    )
    assert (c.platform, c.replicas, c.alias) == ("mz", 3, None)
    d = parse_desktop(
        {
            "metadata": {"name": "alice", "namespace": "ns"},
            "spec": {
                "platformRef": {"name": "mz"},
                "user": "Alice",
                "key": {"algorithm": "ECDSA"},
                "format": {"type": "JKS"},
            },
        }
    )
    assert d.key_algorithm is KeyAlgorithm.EC_P256 and d.store.format is StoreFormat.JKS
    with pytest.raises(SpecError, match="spec.user"):
        parse_desktop({"metadata": {"name": "x"}, "spec": {"platformRef": {"name": "mz"}}})
    with pytest.raises(SpecError, match="spec.platformRef.name"):
        parse_container({"metadata": {"name": "x"}, "spec": {"image": "i"}})


def test_parse_duration():
    assert parse_duration("1h30m", "f") == timedelta(minutes=90)
    with pytest.raises(SpecError):
        parse_duration("10d", "f")
