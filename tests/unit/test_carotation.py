"""CA rotation phases: when a rotation starts, what each phase trusts and keeps, and restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pico_tls.builders import stores
from pico_tls.material import CertRequest, StoredMaterial, certificate_problem, resolve_identity
from pico_tls.pki.certs import CertificateAuthority, create_ca, sha256_fingerprint
from pico_tls.pki.keys import KeyAlgorithm, generate_key
from pico_tls.reconcile.carotation import (
    Rotation,
    RotationPhase,
    advance,
    current_rotation,
    from_status,
)

NOW = datetime(2026, 11, 26, tzinfo=UTC)
REQUEST = CertRequest(
    "ec1", ("ec1.ns.svc",), KeyAlgorithm.EC_P256, timedelta(days=365), timedelta(days=30)
)


def make_ca(name: str) -> CertificateAuthority:
    return create_ca(name, generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=3650))


OLD, NEW, NEWER = make_ca("pico CA old"), make_ca("pico CA new"), make_ca("pico CA newer")


def test_no_rotation_while_the_issuer_is_trusted_or_nothing_is_mounted() -> None:
    assert current_rotation(None, OLD.certificate, []) is None
    assert current_rotation(None, OLD.certificate, [OLD.certificate]) is None
    assert current_rotation(None, NEW.certificate, [NEW.certificate, OLD.certificate]) is None


def test_a_new_issuer_starts_with_trust_in_both() -> None:
    rotation = current_rotation(None, NEW.certificate, [OLD.certificate])
    assert rotation == Rotation(
        RotationPhase.TRUST_BOTH, sha256_fingerprint(NEW.certificate), (OLD.certificate,)
    )
    assert rotation.trusted_previous == (OLD.certificate,)
    assert rotation.accepted_previous == (OLD.certificate,)


def test_phases_in_order_only_when_settled() -> None:
    rotation = current_rotation(None, NEW.certificate, [OLD.certificate])
    assert advance(rotation, settled=False) == rotation
    reissue = advance(rotation, settled=True)
    assert reissue is not None and reissue.phase is RotationPhase.REISSUE
    assert reissue.trusted_previous == (OLD.certificate,) and reissue.accepted_previous == ()
    drop = advance(reissue, settled=True)
    assert drop is not None and drop.phase is RotationPhase.DROP_OLD
    assert drop.trusted_previous == () and drop.accepted_previous == ()
    assert advance(drop, settled=True) is None
    assert advance(None, settled=True) is None


def test_the_recorded_rotation_continues_whatever_is_mounted() -> None:
    recorded = Rotation(
        RotationPhase.REISSUE, sha256_fingerprint(NEW.certificate), (OLD.certificate,)
    )
    mounted = [NEW.certificate, OLD.certificate]
    assert current_rotation(recorded, NEW.certificate, mounted) == recorded


def test_a_ca_replaced_again_mid_rotation_restarts_trusting_every_ca_in_use() -> None:
    recorded = Rotation(
        RotationPhase.REISSUE, sha256_fingerprint(NEW.certificate), (OLD.certificate,)
    )
    restarted = current_rotation(recorded, NEWER.certificate, [NEW.certificate, OLD.certificate])
    assert restarted is not None and restarted.phase is RotationPhase.TRUST_BOTH
    assert restarted.target == sha256_fingerprint(NEWER.certificate)
    assert restarted.previous == (NEW.certificate, OLD.certificate)


def test_rotating_back_to_the_old_ca_keeps_trusting_the_abandoned_one() -> None:
    recorded = Rotation(
        RotationPhase.REISSUE, sha256_fingerprint(NEW.certificate), (OLD.certificate,)
    )
    back = current_rotation(recorded, OLD.certificate, [NEW.certificate, OLD.certificate])
    assert back is not None and back.previous == (NEW.certificate,)


def test_status_round_trip_and_garbage() -> None:
    rotation = Rotation(
        RotationPhase.DROP_OLD,
        sha256_fingerprint(NEW.certificate),
        (OLD.certificate, NEWER.certificate),
    )
    status = rotation.as_status()
    assert "PRIVATE KEY" not in str(status)
    assert from_status(status) == rotation
    assert from_status(None) is None
    assert from_status({"phase": "Sideways", "previousCertificates": ""}) is None
    assert from_status({"phase": "TrustBoth", "previousCertificates": "not pem"}) is None


def test_certificates_of_an_accepted_old_ca_are_kept_then_reissued() -> None:
    old_id, _ = resolve_identity(REQUEST, OLD, StoredMaterial(), now=NOW)
    kept = StoredMaterial(
        key=old_id.key, certificate=old_id.certificate, passwords=old_id.passwords
    )
    assert certificate_problem(old_id.certificate, old_id.key, REQUEST, NEW, NOW) == (
        "certificate issuer changed"
    )
    same, notes = resolve_identity(REQUEST, NEW, kept, now=NOW, also_accepted=(OLD.certificate,))
    assert same.certificate == old_id.certificate and notes == []
    reissued, notes = resolve_identity(REQUEST, NEW, kept, now=NOW)
    assert reissued.key is old_id.key and reissued.certificate != old_id.certificate
    assert notes == ["issued a certificate (certificate issuer changed)"]


@pytest.mark.parametrize("issuer", [OLD, NEW], ids=["old-issued", "new-issued"])
def test_stores_trust_both_cas_and_chain_the_real_issuer(issuer: CertificateAuthority) -> None:
    identity, _ = resolve_identity(REQUEST, issuer, StoredMaterial(), now=NOW)
    platform_id, _ = resolve_identity(REQUEST, NEW, StoredMaterial(), now=NOW)
    platform = stores.platform_store("mz", identity, NEW, [], [], [OLD.certificate])
    peer = stores.peer_store("ec1", identity, NEW, platform_id, [OLD.certificate])
    for content in (platform, peer):
        assert dict(content.trusted) == {
            stores.CA_ALIAS: NEW.certificate,
            stores.PREVIOUS_CA_ALIAS: OLD.certificate,
        }
        assert content.key_entry is not None
        assert content.key_entry.chain == (identity.certificate, issuer.certificate)
    after = stores.peer_store("ec1", identity, NEW, platform_id)
    assert dict(after.trusted) == {stores.CA_ALIAS: NEW.certificate}
