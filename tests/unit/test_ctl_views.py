"""The people's commands (pico_tls/ctl), pure parts: status table and data, desktop steps and
warnings, keystore inspection and its checks, error wording, progress, bundle cleaning, and
the bash completion script run by a real bash."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from pico_tls.cli import build_parser
from pico_tls.ctl import (
    bundle_view,
    completion,
    desktop_view,
    inspect_view,
    progress_view,
    status_view,
)
from pico_tls.ctl.errors import explain, target_of
from pico_tls.keystore import (
    KeyEntry,
    KeystoreContent,
    Pkcs12Profile,
    StoreFormat,
    StoreOptions,
    decode_keystore,
    encode_keystore,
    pkcs12_protection,
)
from pico_tls.keystore.protection import EVERY_JAVA, MODERN_JAVA
from pico_tls.kube import KubeError
from pico_tls.pki.certs import create_ca, issue_certificate, sha256_fingerprint
from pico_tls.pki.keys import KeyAlgorithm, generate_key

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
API = "picotls.dev/v1alpha1"


def body(kind: str, name: str, ready: str = "True", **status: Any) -> dict[str, Any]:
    conditions = [
        {"type": "Ready", "status": ready, "reason": "Ok" if ready == "True" else "Broken",
         "message": "" if ready == "True" else f"{name} is broken",
         "lastTransitionTime": "2026-12-05T10:00:00Z"},
    ]  # fmt: skip
    spec: dict[str, Any] = {} if kind == "Platform" else {"platformRef": {"name": "mz"}}
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": {"name": name, "namespace": "demo", "generation": 1},
        "spec": spec,
        "status": {"observedGeneration": 1, "conditions": conditions,
                   "notAfter": "2027-12-05T12:00:00Z", **status},
    }  # fmt: skip


def demo_group(**platform_status: Any) -> list[status_view.Group]:
    platform = body("Platform", "mz", clientAuth={"phase": "Enforced"}, **platform_status)
    members = [
        body("ExecutionContainer", "ec1"),
        body("DesktopClient", "alice", certificateFingerprint="AA"),
        body("DesktopClient", "bob", certificateFingerprint="BB"),
    ]
    return status_view.groups([platform], members, NOW)


def test_ctl_status_of_a_ready_group() -> None:
    (group,) = demo_group()
    assert (
        group.ready
        and group.client_auth == "Enforced"
        and group.trust_mode == "CertificateAuthority"
    )
    assert group.trusted_desktops == ("alice", "bob")
    assert group.row is not None and group.row.days_left == 365
    text = status_view.table([group])
    assert text.splitlines()[0].split() == list(status_view.HEADER)
    assert "platform/mz" in text and "  executioncontainer/ec1" in text and "alice,bob" in text


def test_ctl_status_names_the_problem_and_the_excluded_member() -> None:
    excluded = [{"kind": "DesktopClient", "name": "bob", "reason": "WriteFailed", "message": "422"}]
    platform = body("Platform", "mz", ready="False", excludedMembers=excluded)
    members = [body("DesktopClient", "bob", ready="False", certificateFingerprint="BB")]
    (group,) = status_view.groups([platform], members, NOW)
    assert not group.ready and group.trusted_desktops == ()
    text = status_view.table([group])
    assert "Broken: mz is broken" in text
    assert "demo/mz leaves out desktopclient/bob: WriteFailed: 422" in text
    data = status_view.as_data([group])
    assert data[0]["ready"] is False and data[0]["excludedMembers"][0]["name"] == "bob"


def test_ctl_status_of_members_whose_platform_is_missing() -> None:
    (group,) = status_view.groups([], [body("DesktopClient", "carol")], NOW)
    assert group.row is None and not group.ready
    assert "Missing" in status_view.table([group])


def test_ctl_status_pending_until_the_generation_is_observed() -> None:
    platform = body("Platform", "mz")
    platform["metadata"]["generation"] = 2
    assert status_view.row(platform, NOW).ready == "Pending"


def test_ctl_problem_is_the_latest_failing_condition_and_never_progressing() -> None:
    b = body("Platform", "mz")
    b["status"]["conditions"] += [
        {"type": "Progressing", "status": "False", "reason": "RolledOut",
         "lastTransitionTime": "2026-12-05T11:59:00Z"},
        {"type": "KeystoreReady", "status": "False", "reason": "CAExpiringSoon", "message": "x",
         "lastTransitionTime": "2026-12-05T11:00:00Z"},
    ]  # fmt: skip
    assert status_view.problem(b) == "CAExpiringSoon: x"


def test_ctl_desktop_steps_name_the_files_and_the_seed_steps() -> None:
    text = desktop_view.launcher_steps("alice.p12", "alice.password", "mz", "PKCS12")
    for step in ("Instance Settings", "Security tab", "Client Key", "Import Key From File"):
        assert step in text
    assert "Select alice.p12" in text and "alice.password" in text


def test_ctl_desktop_warnings() -> None:
    desktop = body("DesktopClient", "alice", renewalTime="2026-12-10T00:00:00Z")
    platform = body("Platform", "mz")
    assert desktop_view.warnings(desktop, platform, NOW, timedelta(days=1)) == []
    soon = desktop_view.warnings(desktop, platform, NOW, timedelta(days=14))
    assert len(soon) == 1 and "renewed at 2026-12-10" in soon[0]
    platform["status"]["caRotation"] = {"phase": "TrustBoth"}
    rotating = desktop_view.warnings(desktop, platform, NOW, timedelta(days=1))
    assert len(rotating) == 1 and "rotating its CA (phase TrustBoth)" in rotating[0]
    assert any(
        "does not exist" in w for w in desktop_view.warnings(desktop, None, NOW, timedelta())
    )


@pytest.fixture(scope="module")
def store() -> tuple[KeystoreContent, str]:
    ca = create_ca("ca", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=30), now=NOW)
    key = generate_key(KeyAlgorithm.RSA_2048)
    cert = issue_certificate(
        ca, key.public_key(), common_name="mz", duration=timedelta(days=9), now=NOW
    )
    content = KeystoreContent(
        KeyEntry("platform", key, (cert, ca.certificate)), (("ca", ca.certificate),)
    )
    return content, sha256_fingerprint(ca.certificate)  # fmt: skip


@pytest.mark.parametrize("profile", list(Pkcs12Profile))
def test_ctl_protection_is_read_without_the_password(
    store: tuple[KeystoreContent, str], profile: Pkcs12Profile
) -> None:
    data = encode_keystore(
        store[0], StoreOptions(StoreFormat.PKCS12, "changeit", "changeit", profile)
    )
    found = pkcs12_protection(data)
    assert found.profile is profile
    assert found.readers == (EVERY_JAVA if profile is Pkcs12Profile.LEGACY_3DES else MODERN_JAVA)


def test_ctl_protection_of_a_store_written_by_cryptography(
    store: tuple[KeystoreContent, str],
) -> None:
    entry = store[0].key_entry
    assert entry is not None
    data = pkcs12.serialize_key_and_certificates(
        b"x", entry.key, entry.chain[0], None, BestAvailableEncryption(b"changeit")
    )
    assert pkcs12_protection(data).readers == MODERN_JAVA  # AES-256 and SHA-256


def test_ctl_inspect_checks_what_the_resource_expects(store: tuple[KeystoreContent, str]) -> None:
    content, ca_fp = store
    options = StoreOptions(StoreFormat.PKCS12, "changeit", "changeit")
    data = encode_keystore(content, options)
    decoded = decode_keystore(data, options)
    assert content.key_entry is not None
    leaf = sha256_fingerprint(content.key_entry.chain[0])
    expected = inspect_view.Expected("platform/mz", StoreFormat.PKCS12, Pkcs12Profile.LEGACY_3DES,
                                     KeyAlgorithm.RSA_2048, "platform", leaf, ca_fp)  # fmt: skip
    protection = pkcs12_protection(data)
    matching = inspect_view.checks(expected, StoreFormat.PKCS12, protection, decoded)
    assert all(ok for ok, _ in matching) and len(matching) == 6
    wrong = inspect_view.Expected("platform/mz", StoreFormat.PKCS12, Pkcs12Profile.MODERN_AES,
                                  KeyAlgorithm.EC_P256, "other", "00", "11")  # fmt: skip
    verdicts = inspect_view.checks(wrong, StoreFormat.PKCS12, protection, decoded)
    assert [w for ok, w in verdicts if not ok] == [
        "PKCS12 profile modern-aes",
        "key alias other",
        "key ec-p256",
        "the certificate its status names",
        "trusts the CA its status names",
    ]
    entries = inspect_view.entries(decoded)
    assert [e["type"] for e in entries] == ["PrivateKeyEntry", "trustedCertEntry"]
    assert (
        entries[0]["chain"][0]["keyType"] == "RSA 2048"
        and entries[1]["chain"][0]["keyType"] == "EC P-256"
    )
    text = inspect_view.report(
        "t",
        entries,
        inspect_view.protection_data(StoreFormat.PKCS12, protection),
        matching,
        "platform/mz",
    )
    assert f"sha256   {leaf}" in text and "MISMATCH" not in text and EVERY_JAVA in text


def test_ctl_errors_name_the_verb_and_the_resource() -> None:
    path = "/apis/picotls.dev/v1alpha1/namespaces/demo/executioncontainers"
    assert target_of("GET", path).verb == "list"
    assert target_of("GET", "/api/v1/namespaces/x/pods/p/log").resource == "pods/log"
    err = KubeError(
        "GET", path, 403, "Forbidden", 'User "system:serviceaccount:demo:v" cannot list'
    )
    said = explain(err)
    assert (
        "you (system:serviceaccount:demo:v) may not list executioncontainers.picotls.dev "
        "in namespace demo" in said
    )
    assert "kubectl auth can-i list executioncontainers.picotls.dev -n demo" in said
    missing = explain(KubeError("GET", "/api/v1/namespaces/demo/secrets/x", 404, "Not Found"))
    assert missing == "secrets x not found in namespace demo"
    assert "CRDs installed" in explain(KubeError("GET", path, 404, "Not Found"))


def test_ctl_progress_states() -> None:
    b = body("DesktopClient", "alice")
    assert progress_view.renew_state(b, "7") == (
        False,
        "waiting for the operator to take the request",
    )
    b["status"]["renewRequest"] = "7"
    assert progress_view.renew_state(b, "7")[0]
    p = body("Platform", "mz", caRotation={"phase": "Reissue"})
    assert progress_view.rotation_state(p, "6", "7", "A")[1].startswith("an earlier CA rotation")
    assert progress_view.rotation_state(p, "7", "7", "A")[1].startswith("CA rotation phase Reissue")
    del p["status"]["caRotation"]
    p["status"]["caFingerprint"] = "A"
    assert not progress_view.rotation_state(p, "7", "7", "A")[0]  # the status is not there yet
    assert progress_view.rotation_state(p, "7", "7", "B")[0]


def test_ctl_bundle_drops_the_last_applied_copy_and_managed_fields() -> None:
    labels = {"app.kubernetes.io/managed-by": "pico-tls-operator"}
    meta = {"name": "x", "managedFields": [{}], "labels": labels,
            "annotations": {bundle_view.LAST_APPLIED: "{data}", "keep": "1"}}  # fmt: skip
    (item,) = bundle_view.written([{"metadata": meta}, {"metadata": {"name": "other"}}], "Secret")
    assert item["metadata"] == {"name": "x", "labels": meta["labels"], "annotations": {"keep": "1"}}


@pytest.mark.parametrize(
    ("words", "expected"),
    [(["pico-tls", "st"], "status"), (["pico-tls", "rotate-ca", "--w"], "--wait"),
     (["kubectl-pico_tls", "desktop-key", "--show"], "--show-password")],
)  # fmt: skip
def test_ctl_bash_completion(words: list[str], expected: str) -> None:
    script = completion.bash_script(completion.commands_of(build_parser()))
    words_text = " ".join(words)
    cword = len(words) - 1
    call = f'COMP_WORDS=({words_text}); COMP_CWORD={cword}; _pico_tls; echo "${{COMPREPLY[@]}}"'
    run = f"{script}\n{call}"
    out = subprocess.run(["bash", "-c", run], capture_output=True, text=True, check=True).stdout
    assert out.split() == [expected]
