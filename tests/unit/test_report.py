"""Status wording that depends on time: the warning before a user's CA expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pico_tls.pki.certs import create_ca
from pico_tls.pki.keys import KeyAlgorithm, generate_key
from pico_tls.reconcile.group_status import user_ca_expiry_warning
from pico_tls.spec import parse_platform
from pico_tls.spec_model import PlatformSpec

NOW = datetime(2026, 11, 27, tzinfo=UTC)
CA = create_ca("corp CA", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=100), now=NOW)


def spec(**tls: object) -> PlatformSpec:
    body = {
        "apiVersion": "picotls.dev/v1alpha1",
        "kind": "Platform",
        "metadata": {"name": "mz", "namespace": "ns"},
        "spec": {"image": "img", "tls": tls},
    }
    return parse_platform(body)


def test_a_users_ca_is_reported_within_the_renewal_window_only() -> None:
    users = spec(trust={"mode": "CertificateAuthority", "caSecretRef": {"name": "corp-ca"}})
    assert user_ca_expiry_warning(users, CA, NOW + timedelta(days=69)) is None
    message = user_ca_expiry_warning(users, CA, NOW + timedelta(days=71))
    assert message is not None and "corp-ca" in message and "expires on" in message
    # A longer renewBefore starts the warning earlier.
    early = spec(
        renewBefore="2400h",
        trust={"mode": "CertificateAuthority", "caSecretRef": {"name": "corp-ca"}},
    )
    assert user_ca_expiry_warning(early, CA, NOW + timedelta(days=1)) is not None


def test_the_operators_own_ca_never_warns() -> None:
    assert user_ca_expiry_warning(spec(), CA, NOW + timedelta(days=99)) is None
    assert user_ca_expiry_warning(spec(), None, NOW) is None
