"""The one keep-or-reissue rule (`material.certificate_problem`) of both front ends: the
operator keeps a certificate while it names exactly what it asks for; `pico-tls keystores`
also adopts a key the user brought, keeping its certificate while its names cover ours."""

from datetime import UTC, datetime, timedelta

from cryptography import x509

from pico_tls.material import CertRequest, Reissue, certificate_problem
from pico_tls.pki.certs import create_ca, issue_certificate
from pico_tls.pki.keys import KeyAlgorithm, generate_key

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CA = create_ca("test CA", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=100), now=NOW)
REQUEST = CertRequest(
    "ec1", ("ec1", "ec1.ns.svc"), KeyAlgorithm.EC_P256, timedelta(days=10), timedelta(days=2)
)
KEY = generate_key(KeyAlgorithm.EC_P256)


def brought(common_name: str, dns: tuple[str, ...]) -> x509.Certificate:
    return issue_certificate(
        CA,
        KEY.public_key(),
        common_name=common_name,
        dns_names=dns,
        duration=timedelta(days=10),
        now=NOW,
    )


def test_a_users_certificate_naming_more_is_adopted_but_not_one_of_ours() -> None:
    cert = brought("my host", ("EC1", "ec1.ns.svc", "extra.example"))
    assert certificate_problem(cert, KEY, REQUEST, CA, NOW, adopted=True) is None
    assert certificate_problem(cert, KEY, REQUEST, CA, NOW) is Reissue.NAMES


def test_a_users_certificate_missing_a_name_is_reissued() -> None:
    cert = brought("ec1", ("ec1",))
    assert certificate_problem(cert, KEY, REQUEST, CA, NOW, adopted=True) is Reissue.NAMES


def test_the_rule_reissues_what_is_not_yet_valid_or_due() -> None:
    cert = brought("ec1", REQUEST.dns_names)
    assert certificate_problem(cert, KEY, REQUEST, CA, NOW) is None
    assert certificate_problem(cert, KEY, REQUEST, CA, NOW - timedelta(days=1)) is (
        Reissue.NOT_YET_VALID
    )
    assert certificate_problem(cert, KEY, REQUEST, CA, NOW + timedelta(days=9)) is Reissue.DUE
