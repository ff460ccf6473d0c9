"""Key material of a platform group: the CA (and its rotation), each party's key, certificate
and passwords, kept where they exist and made only where missing. Pure: a new CA Secret, its
Events and the status that records a rotation go into the pass's Decision."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from pico_tls.builders import names, secret_manifests
from pico_tls.material import Identity
from pico_tls.parties import PlatformMember
from pico_tls.pki.certs import CertificateAuthority, PkiError, create_ca, sha256_fingerprint
from pico_tls.reconcile import carotation, phases, readback, reimport
from pico_tls.reconcile.carotation import Rotation
from pico_tls.reconcile.keysupply import CA_KEY
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.report import keystore_problem, record_started
from pico_tls.reconcile.rollout import owner_uids
from pico_tls.reconcile.status import iso
from pico_tls.spec_model import PlatformSpec
from pico_tls.validation import MIN_DURATION

Body = Mapping[str, Any]

CA_DURATION = timedelta(days=3650)


def ca_rotation_due(ca: CertificateAuthority, now: datetime) -> bool:
    """An operator CA is replaced once two thirds of its lifetime have passed."""
    cert = ca.certificate
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return now >= cert.not_valid_after_utc - lifetime / 3


def group_ca(run: PassContext, platform: PlatformMember) -> CertificateAuthority:
    """The CA that issues the group's certificates: the user's, or the operator's own (made,
    or renewed when asked for or due; the rotation itself follows from `rotation`)."""
    p: PlatformSpec = platform.spec
    if p.tls.ca_secret_name:
        return _user_ca(run, platform, p.tls.ca_secret_name)
    name = names.ca_secret(p.name)
    current = run.snapshot.secrets.get(name)
    if current is None and ("Secret", name) in run.snapshot.namespace_objects:
        # There, but without our label: maybe ours, maybe not; never overwrite a CA key.
        keystore_problem(
            run,
            platform,
            "CASecretUnrecognised",
            f"Secret {name} exists without the label {names.PLATFORM_LABEL}={p.name}: if it "
            "holds this Platform's CA, put the label back; else delete or rename it",
        )
    if current is None:
        ca = _new_ca(run, p)
        _write_ca(run, platform, ca, None, None)
        if names.tls_secret(p.name) in run.snapshot.secrets:  # a CA was in use: deleted
            message = f"Secret {name} was deleted while its CA is in use: made a new CA"
            _event_ca(run, platform, "CADeleted", f"{message}; rotating with overlap", ca, True)
        else:
            _event_ca(run, platform, "CACreated", f"Created the CA in Secret {name}", ca)
        return ca
    try:
        ca = run.decoded(current, "ca", readback.ca_from)
    except PkiError as err:
        # Never replace a CA key silently: the user must delete the Secret on purpose.
        keystore_problem(
            run,
            platform,
            "CAInvalid",
            f"Secret {name} is unreadable ({err}); delete it to let the operator create a new CA",
        )
    renewed = _maybe_renew(run, platform, current, ca)
    if renewed is ca:
        _reown(run, platform, current)
    return renewed


def ca_owner(platform: PlatformMember) -> Body | None:
    """The CA Secret's owner: the Platform, or none when it is retained on delete."""
    return None if platform.spec.tls.retain_on_delete else platform.body


def _reown(run: PassContext, platform: PlatformMember, current: Body) -> None:
    """Rewrite the CA Secret as it is when its owner reference is not the wanted one
    (retainOnDelete switched, or adopted from a deleted Platform): same data."""
    meta = _ca_meta(platform)
    if owner_uids(current["metadata"]) == owner_uids(meta):
        return
    annotations = current["metadata"].get("annotations") or {}
    if annotations:
        meta["annotations"] = dict(annotations)
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque"}
    run.decision.write({**manifest, "data": dict(current.get("data") or {})})


def _new_ca(run: PassContext, p: PlatformSpec) -> CertificateAuthority:
    return create_ca(
        names.ca_common_name(p, run.now),
        run.keys.new_key(CA_KEY, p.tls.key_algorithm),
        duration=CA_DURATION,
        now=run.now,
    )


def _user_ca(run: PassContext, platform: PlatformMember, secret: str) -> CertificateAuthority:
    user_secret = run.snapshot.user_secrets.get(secret)
    if user_secret is None:
        keystore_problem(run, platform, "CASecretNotFound", f"CA Secret {secret} not found")
    try:
        ca: CertificateAuthority = readback.ca_from(secret_manifests.decode_data(user_secret))
    except PkiError as err:
        keystore_problem(run, platform, "CAInvalid", f"CA Secret {secret}: {err}")
    problem = cannot_issue(ca, run.now)
    if problem is not None:  # refused before any rotation to it can start
        keystore_problem(
            run,
            platform,
            "CACannotIssue",
            f"CA Secret {secret}: {problem}: it cannot issue certificates; put a CA valid for "
            "longer in tls.crt and tls.key (the certificates in use stay as they are)",
        )
    return ca


def cannot_issue(ca: CertificateAuthority, now: datetime) -> str | None:
    """Why a CA cannot issue a certificate now (expired, not yet valid, or expiring within
    the shortest certificate lifetime), or None."""
    cert = ca.certificate
    if now < cert.not_valid_before_utc:
        return f"the CA certificate is not valid before {iso(cert.not_valid_before_utc)}"
    if now >= cert.not_valid_after_utc:
        return f"the CA certificate expired on {iso(cert.not_valid_after_utc)}"
    if cert.not_valid_after_utc - now < MIN_DURATION:
        return (
            f"the CA certificate expires on {iso(cert.not_valid_after_utc)}, within the "
            f"shortest certificate lifetime ({MIN_DURATION})"
        )
    return None


def _maybe_renew(
    run: PassContext, platform: PlatformMember, secret: Mapping[str, Any], ca: CertificateAuthority
) -> CertificateAuthority:
    """A new operator CA when asked for (annotation) or due; rotation itself follows."""
    if phases.recorded_rotation(run, platform)[1] is not None:
        return ca  # one rotation at a time; a new request waits for this one to end
    request = (platform.body["metadata"].get("annotations") or {}).get(names.ROTATE_CA)
    handled = (secret["metadata"].get("annotations") or {}).get(names.ROTATE_CA_HANDLED)
    record = phases.recorded(run, platform)
    done = {handled, record.rotate_ca_handled if record else None}
    if request and request not in done:
        why = f"requested by annotation {names.ROTATE_CA}={request}"
    elif ca_rotation_due(ca, run.now):
        why = f"the CA expires on {ca.certificate.not_valid_after_utc:%Y-%m-%d}"
    else:
        return ca
    new = _new_ca(run, platform.spec)
    _write_ca(run, platform, new, ca, request or handled)
    _event_ca(run, platform, "CARenewed", f"New CA ({why}); rotating with overlap", new)
    return new


def _write_ca(
    run: PassContext,
    platform: PlatformMember,
    ca: CertificateAuthority,
    previous: CertificateAuthority | None,
    handled_request: str | None,
) -> None:
    run.decision.write(
        secret_manifests.ca_secret(_ca_meta(platform), ca, previous, handled_request)
    )


def _ca_meta(platform: PlatformMember) -> dict[str, Any]:
    p: PlatformSpec = platform.spec
    labels = names.labels(p.name, "platform", p.name)
    return names.metadata(names.ca_secret(p.name), p.namespace, labels, ca_owner(platform))


def _event_ca(
    run: PassContext,
    platform: PlatformMember,
    reason: str,
    message: str,
    ca: CertificateAuthority,
    warn: bool = False,
) -> None:
    fingerprint = sha256_fingerprint(ca.certificate)
    kind = "Warning" if warn else "Normal"
    run.decision.event(platform.body, kind, reason, f"{message}; fingerprint {fingerprint}")


def rotation(
    run: PassContext, platform: PlatformMember, ca: CertificateAuthority
) -> Rotation | None:
    """The CA rotation in force: the recorded one (phases.py), one that starts now, or, with
    no record at all, one the mounted trust shows under way. A rotation that starts goes into
    the record (the Platform's state Secret, written before any mounted Secret), and status."""
    body = platform.body
    known, recorded = phases.recorded_rotation(run, platform)
    mounted_secret = run.snapshot.secrets.get(names.tls_secret(platform.spec.name))
    mounted: list[x509.Certificate] = run.decoded(mounted_secret, "cas", readback.cas_from)
    if not known:
        recorded = carotation.derived(ca.certificate, mounted)
        if recorded is not None:
            run.decision.event(
                body,
                "Warning",
                "CARotationResumed",
                "No record of the CA rotation under way (status and state lost): resuming at "
                "TrustBoth, every CA the pods trust stays trusted",
            )
    found = carotation.current_rotation(recorded, ca.certificate, mounted, iso(run.now))
    if found is not None and found != recorded:
        status = {"caRotation": found.as_status()}
        reason = f"CARotation{found.phase.value}"
        record_started(run, body, status, reason, carotation.phase_message(found))
        _warn_if_older(run, body, ca.certificate, mounted)
        old = ", ".join(sha256_fingerprint(c) for c in found.previous)
        run.decision.event(
            body,
            "Normal",
            "CARotation",
            f"CA rotation started: trusting the new CA {found.target} and the old {old} "
            "before any certificate changes",
        )
        reimport.tell_desktops(run, found)
    return found


def issuing_ca(
    run: PassContext, platform: PlatformMember, ca: CertificateAuthority, rotation: Rotation | None
) -> CertificateAuthority:
    """The CA that issues this pass's new certificates (a new member, a renewal, a hostname
    edit): during TrustBoth the old one, since pods still running the pre-rotation template
    trust only it, when its key is at hand (the operator CA keeps it as `previous.*`; a user
    CA replaced in its Secret does not, then the new CA issues); else `ca`."""
    if rotation is None or rotation.phase is not carotation.RotationPhase.TRUST_BOTH:
        return ca
    if platform.spec.tls.ca_secret_name:
        return ca
    secret = run.snapshot.secrets.get(names.ca_secret(platform.spec.name))
    old = {sha256_fingerprint(c) for c in rotation.previous}
    held: list[CertificateAuthority] = run.decoded(secret, "held-cas", _held_cas)
    return next((c for c in held if sha256_fingerprint(c.certificate) in old), ca)


def _held_cas(data: Mapping[str, bytes]) -> list[CertificateAuthority]:
    """The CAs (with keys) a CA Secret holds: the current one, then the previous one."""
    found = []
    for cert, key in (("tls.crt", "tls.key"), ("previous.crt", "previous.key")):
        try:
            found.append(readback.ca_from({"tls.crt": data[cert], "tls.key": data[key]}))
        except (KeyError, PkiError):
            continue
    return found


def _warn_if_older(
    run: PassContext,
    body: Mapping[str, Any],
    issuer: x509.Certificate,
    mounted: list[x509.Certificate],
) -> None:
    """A rotation to a CA older than the one in use: a restore from a backup, most likely."""
    if mounted and issuer.not_valid_before_utc < mounted[0].not_valid_before_utc:
        run.decision.event(
            body,
            "Warning",
            "CAOlderRestored",
            f"The CA {sha256_fingerprint(issuer)} is older than the one in use "
            f"{sha256_fingerprint(mounted[0])} (a restored backup?): rotating back to it with "
            "overlap; put the newer CA back in its Secret if that was not meant",
        )


def promote_staged(
    run: PassContext, platform: PlatformMember, identities: Mapping[str, Identity], settled: bool
) -> dict[str, Identity]:
    """Staged certificates go into use once every workload pins them (runs this plan)."""
    staged = sorted(k for k, identity in identities.items() if identity.next is not None)
    if not staged or not settled:
        return {}
    run.decision.event(
        platform.body,
        "Normal",
        "CertificatesPromoted",
        f"Every peer trusts the renewed certificates of {', '.join(staged)}; now in use",
    )
    return {k: identities[k].promoted() for k in staged}
