"""Key material decisions: keep what still fits, renew certificates with the same key."""

from datetime import UTC, datetime, timedelta

from pico_tls.material import CertRequest, Passwords, StoredMaterial, resolve_identity
from pico_tls.pki.certs import create_ca
from pico_tls.pki.keys import KeyAlgorithm, generate_key

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REQUEST = CertRequest(
    "ec1",
    ("ec1", "ec1.ns.svc"),
    KeyAlgorithm.EC_P256,
    duration=timedelta(days=10),
    renew_before=timedelta(days=2),
)
CA = create_ca("test CA", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=100), now=NOW)


def test_new_identity_has_one_stable_password_for_store_and_key():
    identity, notes = resolve_identity(REQUEST, CA, StoredMaterial(), now=NOW)
    assert identity.passwords.store == identity.passwords.key
    assert len(identity.passwords.store) >= 24
    assert notes == ["generated a new key", "issued a certificate (no certificate)"]


def test_everything_is_kept_until_renewal_is_due():
    first, _ = resolve_identity(REQUEST, CA, StoredMaterial(), now=NOW)
    existing = StoredMaterial(first.key, first.certificate, first.passwords)
    same, notes = resolve_identity(REQUEST, CA, existing, now=NOW + timedelta(days=7))
    assert notes == [] and same.certificate == first.certificate
    renewed, notes = resolve_identity(REQUEST, CA, existing, now=NOW + timedelta(days=8, hours=1))
    assert notes == ["issued a certificate (certificate renewal due)"]
    assert renewed.key is first.key and renewed.passwords == first.passwords
    assert renewed.certificate.not_valid_after_utc > first.certificate.not_valid_after_utc


def test_names_issuer_and_algorithm_changes_are_noticed():
    first, _ = resolve_identity(REQUEST, CA, StoredMaterial(), now=NOW)
    existing = StoredMaterial(first.key, first.certificate, first.passwords)
    renamed = CertRequest(
        "ec1", ("ec1",), REQUEST.key_algorithm, REQUEST.duration, REQUEST.renew_before
    )
    assert resolve_identity(renamed, CA, existing, now=NOW)[1] == [
        "issued a certificate (certificate names changed)"
    ]
    assert resolve_identity(REQUEST, None, existing, now=NOW)[1] == [
        "issued a certificate (certificate issuer changed)"
    ]
    rsa = CertRequest(
        "ec1", REQUEST.dns_names, KeyAlgorithm.RSA_2048, REQUEST.duration, REQUEST.renew_before
    )
    identity, notes = resolve_identity(rsa, CA, existing, now=NOW)
    assert notes[0] == "key algorithm changed: new key" and identity.key is not first.key


def test_user_passwords_win_and_default_the_key_password():
    identity, _ = resolve_identity(
        REQUEST, CA, StoredMaterial(), passwords=Passwords("s3cret", ""), now=NOW
    )
    assert identity.passwords == Passwords("s3cret", "s3cret")


def test_a_renewal_keeps_the_replaced_certificate_until_it_expires():
    first, _ = resolve_identity(REQUEST, None, StoredMaterial(), now=NOW)
    assert first.previous is None
    existing = StoredMaterial(first.key, first.certificate, first.passwords)
    at_renewal = NOW + timedelta(days=8, hours=1)
    renewed, _ = resolve_identity(REQUEST, None, existing, now=at_renewal)
    assert renewed.certificate != first.certificate and renewed.previous == first.certificate
    stored = StoredMaterial(renewed.key, renewed.certificate, renewed.passwords, renewed.previous)
    kept, notes = resolve_identity(REQUEST, None, stored, now=at_renewal + timedelta(days=1))
    assert notes == [] and kept.previous == first.certificate
    expired, notes = resolve_identity(REQUEST, None, stored, now=NOW + timedelta(days=10, hours=1))
    assert notes == [] and expired.previous is None


def test_a_new_key_pins_nothing_of_the_old_one():
    first, _ = resolve_identity(REQUEST, None, StoredMaterial(), now=NOW)
    existing = StoredMaterial(first.key, first.certificate, first.passwords, first.certificate)
    rsa = CertRequest(
        "ec1", REQUEST.dns_names, KeyAlgorithm.RSA_2048, REQUEST.duration, REQUEST.renew_before
    )
    identity, _ = resolve_identity(rsa, None, existing, now=NOW)
    assert identity.previous is None


def test_a_requested_renewal_reissues_a_good_certificate_with_the_same_key():
    first, _ = resolve_identity(REQUEST, CA, StoredMaterial(), now=NOW)
    existing = StoredMaterial(first.key, first.certificate, first.passwords)
    renewed, notes = resolve_identity(REQUEST, CA, existing, now=NOW, renew=True)
    assert notes == ["issued a certificate (renewal requested)"]
    assert renewed.key is first.key and renewed.certificate != first.certificate
    assert renewed.passwords == first.passwords and renewed.previous == first.certificate


def test_a_staged_renewal_keeps_presenting_the_current_certificate_until_promoted():
    first, _ = resolve_identity(REQUEST, None, StoredMaterial(), now=NOW)
    existing = StoredMaterial(first.key, first.certificate, first.passwords)
    at_renewal = NOW + timedelta(days=8, hours=1)
    staged, notes = resolve_identity(REQUEST, None, existing, now=at_renewal, stage=True)
    assert notes == ["staged a new certificate (certificate renewal due): peers trust it first"]
    assert staged.certificate == first.certificate and staged.next is not None
    # A later pass keeps the same staged certificate.
    stored = StoredMaterial(staged.key, staged.certificate, staged.passwords, None, staged.next)
    again, notes = resolve_identity(REQUEST, None, stored, now=at_renewal, stage=True)
    assert notes == [] and again.next == staged.next
    promoted = again.promoted()
    assert promoted.certificate == staged.next and promoted.previous == first.certificate
    assert promoted.next is None and promoted.promoted() == promoted
    # Once the current certificate has expired, the staged one is used at once.
    late = NOW + timedelta(days=10, hours=1)
    used, notes = resolve_identity(REQUEST, None, stored, now=late, stage=True)
    assert used.certificate == staged.next and used.next is None
    assert notes == ["put the staged certificate in use (certificate renewal due)"]


def test_a_certificate_capped_by_its_ca_is_not_renewed_in_a_loop():
    short_ca = create_ca(
        "short CA", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=5), now=NOW
    )
    first, _ = resolve_identity(REQUEST, short_ca, StoredMaterial(), now=NOW)
    assert first.certificate.not_valid_after_utc == short_ca.certificate.not_valid_after_utc
    existing = StoredMaterial(first.key, first.certificate, first.passwords)
    # Inside the renewal window, but a new certificate could not outlive the CA either.
    same, notes = resolve_identity(REQUEST, short_ca, existing, now=NOW + timedelta(days=4))
    assert notes == [] and same.certificate == first.certificate
