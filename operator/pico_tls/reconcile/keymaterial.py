"""Key material of a platform group: the CA (and its rotation), each party's key,
certificate and passwords, kept where they exist and made only where missing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from pico_tls.builders import names, secret_manifests
from pico_tls.kube import SECRET, Kube
from pico_tls.material import CertRequest, Identity, Passwords, renewal_time, resolve_identity
from pico_tls.pki.certs import CertificateAuthority, PkiError, create_ca, sha256_fingerprint
from pico_tls.pki.keys import generate_key
from pico_tls.plan import (
    Member,
    cert_request_container,
    cert_request_desktop,
    cert_request_platform,
    identity_key,
)
from pico_tls.reconcile import carotation, existing
from pico_tls.reconcile.carotation import Rotation
from pico_tls.reconcile.passes import Pass
from pico_tls.reconcile.report import StatusReporter
from pico_tls.reconcile.writes import DecodeCache, GroupWriter
from pico_tls.spec import KeystoreMode, PlatformSpec, SpecError

CA_DURATION = timedelta(days=3650)


def ca_rotation_due(ca: CertificateAuthority, now: datetime) -> bool:
    """An operator CA is replaced once two thirds of its lifetime have passed."""
    cert = ca.certificate
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return now >= cert.not_valid_after_utc - lifetime / 3


def renew_requested(body: Mapping[str, Any]) -> str | None:
    """The `picotls.dev/renew` value not yet acted on (status.renewRequest), if any."""
    wanted = (body["metadata"].get("annotations") or {}).get(names.RENEW)
    done = (body.get("status") or {}).get("renewRequest")
    return str(wanted) if wanted and wanted != done else None


class KeyMaterial:
    def __init__(
        self, kube: Kube, reporter: StatusReporter, writer: GroupWriter, cached: DecodeCache
    ) -> None:
        self.kube = kube
        self.reporter = reporter
        self.writer = writer
        self._cached = cached

    # -- the CA ----------------------------------------------------------------------------

    def ca(self, run: Pass, platform: Member) -> CertificateAuthority:
        p: PlatformSpec = platform.spec
        if p.tls.ca_secret_name:
            return self._user_ca(run, platform, p.tls.ca_secret_name)
        name = names.ca_secret(p.name)
        current = run.secrets.get(name)
        if current is None:
            ca = create_ca(
                names.ca_common_name(p),
                generate_key(p.tls.key_algorithm),
                duration=CA_DURATION,
                now=run.now,
            )
            self._write_ca(run, platform, ca, None, None)
            self._event_ca(platform, "CACreated", f"Created the CA in Secret {name}", ca)
            return ca
        try:
            ca = self._cached(current, "ca", existing.ca_from)
        except PkiError as err:
            # Never replace a CA key silently: the user must delete the Secret on purpose.
            self.reporter.keystore_problem(
                platform,
                "CAInvalid",
                f"Secret {name} is unreadable ({err}); delete it to "
                "let the operator create a new CA",
            )
        return self._maybe_rotate(run, platform, current, ca)

    def _user_ca(self, run: Pass, platform: Member, secret: str) -> CertificateAuthority:
        user_secret = self.kube.get(SECRET, run.namespace, secret)
        if user_secret is None:
            self.reporter.keystore_problem(
                platform, "CASecretNotFound", f"CA Secret {secret} not found"
            )
        try:
            return existing.ca_from(secret_manifests.decode_data(user_secret or {}))
        except PkiError as err:
            self.reporter.keystore_problem(platform, "CAInvalid", f"CA Secret {secret}: {err}")

    def _maybe_rotate(
        self,
        run: Pass,
        platform: Member,
        secret: Mapping[str, Any],
        ca: CertificateAuthority,
    ) -> CertificateAuthority:
        """A new operator CA when asked for (annotation) or due; rotation itself follows."""
        if (platform.body.get("status") or {}).get("caRotation"):
            return ca  # one rotation at a time; a new request waits for this one to end
        request = (platform.body["metadata"].get("annotations") or {}).get(names.ROTATE_CA)
        handled = (secret["metadata"].get("annotations") or {}).get(names.ROTATE_CA_HANDLED)
        if request and request != handled:
            why = f"requested by annotation {names.ROTATE_CA}={request}"
        elif ca_rotation_due(ca, run.now):
            why = f"the CA expires on {ca.certificate.not_valid_after_utc:%Y-%m-%d}"
        else:
            return ca
        p: PlatformSpec = platform.spec
        new = create_ca(
            names.ca_common_name(p, run.now),
            generate_key(p.tls.key_algorithm),
            duration=CA_DURATION,
            now=run.now,
        )
        self._write_ca(run, platform, new, ca, request or handled)
        self._event_ca(platform, "CARenewed", f"New CA ({why}); rotating with overlap", new)
        return new

    def _write_ca(
        self,
        run: Pass,
        platform: Member,
        ca: CertificateAuthority,
        previous: CertificateAuthority | None,
        handled_request: str | None,
    ) -> None:
        p: PlatformSpec = platform.spec
        name = names.ca_secret(p.name)
        meta = names.metadata(
            name, run.namespace, names.labels(p.name, "platform", p.name), platform.body
        )
        manifest = secret_manifests.ca_secret(meta, ca, previous, handled_request)
        run.secrets[name] = self.writer.apply(run, manifest)

    def _event_ca(
        self, platform: Member, reason: str, message: str, ca: CertificateAuthority
    ) -> None:
        fingerprint = sha256_fingerprint(ca.certificate)
        self.kube.event(platform.body, "Normal", reason, f"{message}; fingerprint {fingerprint}")

    def rotation(self, run: Pass, platform: Member, ca: CertificateAuthority) -> Rotation | None:
        """The CA rotation in force; a rotation that starts is recorded in status first, so
        a pass that fails half-way cannot forget that the old CA is still in use."""
        body = platform.body
        status = body.get("status") or {}
        recorded = carotation.from_status(status.get("caRotation"))
        mounted_secret = run.secrets.get(names.tls_secret(platform.spec.name))
        mounted: list[x509.Certificate] = self._cached(mounted_secret, "cas", existing.cas_from)
        rotation = carotation.current_rotation(recorded, ca.certificate, mounted)
        if rotation is not None and rotation != recorded:
            self.reporter.patch_status(body, {"caRotation": rotation.as_status()})
            old = ", ".join(sha256_fingerprint(c) for c in rotation.previous)
            self.kube.event(
                body,
                "Normal",
                "CARotation",
                f"CA rotation started: trusting the new CA {rotation.target} and the old {old} "
                "before any certificate changes",
            )
        return rotation

    # -- parties ---------------------------------------------------------------------------

    def _user_passwords(
        self, run: Pass, owner: Member, secret_name: str | None, platform: Member
    ) -> Passwords | None:
        if not secret_name:
            return None
        obj = self.kube.get(SECRET, run.namespace, secret_name)
        found = existing.passwords_from(secret_manifests.decode_data(obj)) if obj else None
        if found is None:
            message = (
                f"password Secret {secret_name} not found or has no {names.STORE_PASSWORD_KEY} key"
            )
            if owner is platform:
                self.reporter.keystore_problem(platform, "PasswordSecretInvalid", message)
            raise SpecError(message)
        return found

    def _identity(
        self,
        run: Pass,
        owner: Member,
        mounted: str,
        request: CertRequest,
        issuer: CertificateAuthority | None,
        passwords: Passwords | None,
    ) -> Identity:
        state_secret = run.secrets.get(names.state_secret(mounted))
        state = self._cached(state_secret, "state", existing.from_state)
        if state.key is None:
            recovered = self._cached(
                run.secrets.get(mounted), "recover", existing.from_keystore_secret
            )
            state = existing.merged(state, recovered)
        accepted = run.rotation.accepted_previous if run.rotation and issuer else ()
        identity, notes = resolve_identity(
            request,
            issuer,
            state,
            passwords=passwords,
            now=run.now,
            also_accepted=accepted,
            renew=renew_requested(owner.body) is not None,
            stage=issuer is None,  # self-signed certificates are pinned by their peers
        )
        if notes:
            self.kube.event(owner.body, "Normal", "KeyMaterial", f"{mounted}: {'; '.join(notes)}")
        due = renewal_time(identity.certificate, request.renew_before)
        if due > run.now:  # else capped by its CA's expiry: a renewal would not extend it
            run.renewals.append(due)
        if identity.previous is not None:  # unpinned once it expires
            run.renewals.append(identity.previous.not_valid_after_utc)
        return identity

    def identities(
        self,
        run: Pass,
        platform: Member,
        containers: list[Member],
        desktops: list[Member],
        ca: CertificateAuthority | None,
    ) -> dict[str, Identity]:
        """Every party's identity by identity_key(); desktops with bad input are rejected
        and removed from `desktops`."""
        p: PlatformSpec = platform.spec
        out = {}
        platform_pw = self._user_passwords(run, platform, p.tls.password_secret_name, platform)
        out[identity_key("platform", p.name)] = self._identity(
            run, platform, names.tls_secret(p.name), cert_request_platform(p), ca, platform_pw
        )
        if p.tls.keystore_mode is KeystoreMode.PER_CONTAINER:
            for c in containers:
                out[identity_key("container", c.spec.name)] = self._identity(
                    run,
                    c,
                    names.tls_secret(c.spec.name),
                    cert_request_container(c.spec, p),
                    ca,
                    platform_pw,
                )
        for d in list(desktops):
            try:
                pw = self._user_passwords(run, d, d.spec.password_secret_name, platform)
            except SpecError as err:
                self.reporter.reject(d.body, str(err))
                desktops.remove(d)
                continue
            # Desktops are always self-signed and pinned, so deleting one revokes it.
            out[identity_key("desktop", d.spec.name)] = self._identity(
                run, d, names.desktop_secret(d.spec.name), cert_request_desktop(d.spec), None, pw
            )
        return out
