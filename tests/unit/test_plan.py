"""The desired objects of a platform group: trust rules, rollout hashes, no secrets leaked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from pico_tls.keystore import decode_keystore
from pico_tls.material import CertRequest, Identity, StoredMaterial, resolve_identity
from pico_tls.parties import (
    Member,
    cert_request_container,
    cert_request_desktop,
    cert_request_platform,
    identity_key,
)
from pico_tls.pki.certs import CertificateAuthority, create_ca
from pico_tls.pki.keys import KeyAlgorithm, generate_key, key_to_pem
from pico_tls.plan import build_plan
from pico_tls.plan_model import GroupPlan
from pico_tls.spec import parse_container, parse_desktop, parse_platform

NOW = datetime.now(UTC)  # the clock of these tests


def platform(**tls):
    body = {
        "apiVersion": "picotls.dev/v1alpha1",
        "kind": "Platform",
        "metadata": {"name": "mz", "namespace": "ns", "uid": "u-mz"},
        "spec": {"image": "img", "tls": tls},
    }
    return Member(body, parse_platform(body))


def container(name):
    body = {
        "apiVersion": "picotls.dev/v1alpha1",
        "kind": "ExecutionContainer",
        "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}"},
        "spec": {"platformRef": {"name": "mz"}, "image": "img"},
    }
    return Member(body, parse_container(body))


def desktop(name):
    body = {
        "apiVersion": "picotls.dev/v1alpha1",
        "kind": "DesktopClient",
        "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}"},
        "spec": {"platformRef": {"name": "mz"}, "user": name.title()},
    }
    return Member(body, parse_desktop(body))


@cache
def the_ca() -> CertificateAuthority:
    return create_ca("test CA", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=30))


@cache
def identity(kind: str, name: str, pinned: bool) -> Identity:
    issuer = None if pinned or kind == "desktop" else the_ca()
    p = platform().spec
    if kind == "platform":
        request = cert_request_platform(p)
    elif kind == "container":
        request = cert_request_container(container(name).spec, p)
    else:
        request = cert_request_desktop(desktop(name).spec)
    return resolve_identity(request, issuer, StoredMaterial(), now=NOW)[0]


def plan(p, containers=(), desktops=(), require=False) -> GroupPlan:
    pinned = p.spec.tls.trust_mode.value == "Pinned"
    ids = {identity_key("platform", "mz"): identity("platform", "mz", pinned)}
    ids |= {identity_key("container", c): identity("container", c, pinned) for c in containers}
    ids |= {identity_key("desktop", d): identity("desktop", d, pinned) for d in desktops}
    return build_plan(
        p,
        [container(c) for c in containers],
        [desktop(d) for d in desktops],
        ca=None if pinned else the_ca(),
        identities=ids,
        require_client_auth=require,
    )


def trusted_aliases(group: GroupPlan, secret: str) -> list[str]:
    store = next(s for s in group.stores if s.name == secret)
    return [alias for alias, _ in store.content.trusted]


def test_ca_trust_adding_a_container_leaves_the_platform_alone():
    before = plan(platform(), ["ec1"], ["alice"])
    after = plan(platform(), ["ec1", "ec2"], ["alice"])
    assert trusted_aliases(after, "mz-rcp-tls") == ["desktop-alice", "pico-ca"]
    assert trusted_aliases(after, "ec2-rcp-tls") == ["pico-ca"]
    assert before.mounted_hashes["mz"] == after.mounted_hashes["mz"]
    assert before.mounted_hashes["ec1"] == after.mounted_hashes["ec1"]


def test_pinned_trust_adding_a_container_rolls_the_platform():
    before = plan(platform(trust={"mode": "Pinned"}), ["ec1"])
    after = plan(platform(trust={"mode": "Pinned"}), ["ec1", "ec2"])
    assert trusted_aliases(after, "mz-rcp-tls") == ["ec-ec1", "ec-ec2"]
    assert trusted_aliases(after, "ec1-rcp-tls") == ["pico-platform"]
    assert before.mounted_hashes["mz"] != after.mounted_hashes["mz"]
    assert before.mounted_hashes["ec1"] == after.mounted_hashes["ec1"]


def test_deleting_a_desktop_removes_its_trust():
    both = plan(platform(), desktops=["alice", "bob"])
    one = plan(platform(), desktops=["alice"])
    assert trusted_aliases(one, "mz-rcp-tls") == ["desktop-alice", "pico-ca"]
    assert both.mounted_hashes["mz"] != one.mounted_hashes["mz"]
    assert "bob-desktop-key" not in [s.name for s in one.stores]


def test_shared_mode_gives_containers_the_platform_key():
    group = plan(platform(keystoreMode="Shared"), ["ec1"])
    ec = next(s for s in group.stores if s.name == "ec1-rcp-tls")
    assert ec.content.key_entry is not None
    assert ec.content.key_entry.alias == "platform"
    assert ec.identity is identity("platform", "mz", False)
    assert "ec1-rcp-tls-state" not in [s["metadata"]["name"] for s in group.state_secrets]


def test_require_flag_changes_properties_and_every_hash():
    off = plan(platform(), ["ec1"])
    on = plan(platform(), ["ec1"], require=True)
    for name in ("mz", "ec1"):
        assert off.mounted_hashes[name] != on.mounted_hashes[name]
    props = next(c for c in on.configmaps if c["metadata"]["name"] == "ec1-rcp-tls")
    text = props["data"]["rcp-tls.properties"]
    assert "pico.rcp.tls.require_clientauth=true" in text
    assert "pico.rcp.platform.host=mz.ns.svc" in text


def test_plan_is_deterministic_and_keeps_passwords_out_of_configmaps():
    first, second = plan(platform(), ["ec1"], ["alice"]), plan(platform(), ["ec1"], ["alice"])
    assert first.configmaps == second.configmaps and first.workloads == second.workloads
    assert [s.fingerprint for s in first.stores] == [s.fingerprint for s in second.stores]
    passwords = {s.identity.passwords.store for s in first.stores}
    text = repr(first.configmaps) + repr(first.workloads)
    assert not any(pw in text for pw in passwords)


@pytest.mark.parametrize("fmt", ["PKCS12", "JKS"])
def test_encoded_secret_round_trips(fmt):
    group = plan(platform(format={"type": fmt}), ["ec1"])
    store = group.stores[0]
    import base64

    secret = store.encode()
    name = "keystore.p12" if fmt == "PKCS12" else "keystore.jks"
    content = decode_keystore(base64.b64decode(secret["data"][name]), store.options)
    assert content.trusted == store.content.trusted
    assert content.key_entry is not None and store.content.key_entry is not None
    assert content.key_entry.alias == store.content.key_entry.alias
    assert content.key_entry.chain == store.content.key_entry.chain
    assert key_to_pem(content.key_entry.key) == key_to_pem(store.content.key_entry.key)
    assert secret["metadata"]["annotations"]["picotls.dev/content-fingerprint"] == store.fingerprint
    owner = secret["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == ("Platform", "u-mz")


def staged(kind: str, name: str) -> Identity:
    """A pinned identity whose reissue (here: a new DNS name) is staged: same key, the current
    certificate still in use, the new one in `next`."""
    old = identity(kind, name, True)
    request = CertRequest(
        name, (f"{name}.example",), KeyAlgorithm.RSA_2048, timedelta(days=9), timedelta(days=3)
    )
    new, notes = resolve_identity(
        request, None, StoredMaterial(old.key, old.certificate, old.passwords), stage=True, now=NOW
    )
    assert new.certificate == old.certificate and new.next is not None
    assert notes == ["staged a new certificate (certificate names changed): peers trust it first"]
    return new


def test_staged_certificates_are_pinned_first_and_promoted_without_touching_peers():
    p = platform(trust={"mode": "Pinned"})
    ids = {
        identity_key("platform", "mz"): staged("platform", "mz"),
        identity_key("container", "ec1"): staged("container", "ec1"),
        identity_key("desktop", "alice"): staged("desktop", "alice"),
    }

    def build(identities: dict[str, Identity]) -> GroupPlan:
        return build_plan(
            p,
            [container("ec1")],
            [desktop("alice")],
            ca=None,
            identities=identities,
            require_client_auth=True,
        )

    before = build(ids)
    assert trusted_aliases(before, "mz-rcp-tls") == [
        "desktop-alice",
        "desktop-alice-2",
        "ec-ec1",
        "ec-ec1-2",
    ]
    for peer in ("ec1-rcp-tls", "alice-desktop-key"):
        assert trusted_aliases(before, peer) == ["pico-platform", "pico-platform-2"]
    state = next(s for s in before.state_secrets if s["metadata"]["name"] == "ec1-rcp-tls-state")
    assert "next.crt" in state["data"] and "previous.crt" not in state["data"]

    # Promoting ec1 alone changes ec1's own store only: the platform already pins both.
    ec1 = identity_key("container", "ec1")
    after = build(ids | {ec1: ids[ec1].promoted()})
    assert after.mounted_hashes["mz"] == before.mounted_hashes["mz"]
    assert after.mounted_hashes["ec1"] != before.mounted_hashes["ec1"]
    promoted = next(s for s in after.stores if s.name == "ec1-rcp-tls")
    assert promoted.content.key_entry is not None
    assert promoted.content.key_entry.chain[0] == ids[ec1].next
    state = next(s for s in after.state_secrets if s["metadata"]["name"] == "ec1-rcp-tls-state")
    assert "previous.crt" in state["data"] and "next.crt" not in state["data"]
