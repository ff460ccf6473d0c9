"""Each party's identity (key, certificate, passwords) for one pass: kept from its state
Secret, recovered from its mounted Secret when the state Secret is gone, made only when
neither holds a key (a Warning Event then says the key was lost). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509

from pico_tls.builders import names, secret_manifests
from pico_tls.material import (
    CertRequest,
    Existing,
    Identity,
    Passwords,
    renewal_time,
    resolve_identity,
)
from pico_tls.parties import (
    Member,
    cert_request_container,
    cert_request_desktop,
    cert_request_platform,
    identity_key,
)
from pico_tls.pki.certs import CertificateAuthority
from pico_tls.reconcile import existing
from pico_tls.reconcile.clashes import NAME_CLASH
from pico_tls.reconcile.passes import Pass
from pico_tls.reconcile.report import keystore_problem, reject
from pico_tls.spec import KeystoreMode, PlatformSpec, SpecError
from pico_tls.validation import check_password


def renew_requested(body: Mapping[str, Any]) -> str | None:
    """The `picotls.dev/renew` value not yet acted on (status.renewRequest), if any."""
    wanted = (body["metadata"].get("annotations") or {}).get(names.RENEW)
    done = (body.get("status") or {}).get("renewRequest")
    return str(wanted) if wanted and wanted != done else None


def _user_passwords(run: Pass, secret_name: str | None) -> Passwords | None:
    """Passwords from the user's Secret; SpecError when it is missing, incomplete, one of the
    operator's own Secrets, or holds a password Java would refuse or read differently."""
    if not secret_name:
        return None
    obj = run.snapshot.user_secrets.get(secret_name)
    data = secret_manifests.decode_data(obj) if obj else {}
    store = data.get(names.STORE_PASSWORD_KEY)
    if obj and (obj["metadata"].get("labels") or {}).get(names.MANAGED_BY) == names.FIELD_MANAGER:
        raise SpecError(
            f"password Secret {secret_name} is one the operator writes: keep your passwords "
            "in a Secret of your own and name that one in passwordSecretRef"
        )
    if not store:
        raise SpecError(
            f"password Secret {secret_name} not found or has no {names.STORE_PASSWORD_KEY} key"
        )
    what = f"password Secret {secret_name} key"
    store_pw = check_password(store, f"{what} {names.STORE_PASSWORD_KEY}")
    key = data.get(names.KEY_PASSWORD_KEY)
    key_pw = check_password(key, f"{what} {names.KEY_PASSWORD_KEY}") if key else store_pw
    return Passwords(store_pw, key_pw)


def _stored(run: Pass, mounted: str) -> Existing:
    """What the state Secret holds; its key from the mounted Secret if the state is gone."""
    secrets = run.snapshot.secrets
    state: Existing = run.decoded(
        secrets.get(names.state_secret(mounted)), "state", existing.from_state
    )
    if state.key is not None:
        return state
    recovered: Existing = run.decoded(
        secrets.get(mounted), "recover", existing.from_keystore_secret
    )
    # The state Secret held the certificates a renewal replaced or staged; the Platform's
    # store still pins them (a desktop user's imported key may be the replaced one).
    platform_store = secrets.get(names.tls_secret(run.snapshot.platform_name))
    pinned = run.decoded(platform_store, "trusted", existing.trusted_from)
    return existing.with_pinned_versions(existing.merged(state, recovered), pinned)


def _identity(
    run: Pass,
    owner: Member,
    mounted: str,
    request: CertRequest,
    issuer: CertificateAuthority | None,
    passwords: Passwords | None,
    also_accepted: tuple[x509.Certificate, ...] = (),
) -> Identity:
    stored = _stored(run, mounted)
    if stored.key is None and (owner.body.get("status") or {}).get("certificateFingerprint"):
        run.decision.event(
            owner.body,
            "Warning",
            "KeyLost",
            f"Secrets {names.state_secret(mounted)} and {mounted} hold no readable key any more: "
            "made a new one; every peer gets its new certificate",
        )
    accepted = run.rotation.accepted_previous if run.rotation and issuer else ()
    accepted += also_accepted
    identity, notes = resolve_identity(
        request,
        issuer,
        stored,
        passwords=passwords,
        now=run.now,
        also_accepted=accepted,
        renew=renew_requested(owner.body) is not None,
        stage=issuer is None,  # self-signed certificates are pinned by their peers
    )
    if notes:
        run.decision.event(owner.body, "Normal", "KeyMaterial", f"{mounted}: {'; '.join(notes)}")
    due = renewal_time(identity.certificate, request.renew_before)
    if due > run.now:  # else capped by its CA's expiry: a renewal would not extend it
        run.renewals.append(due)
    if identity.previous is not None:  # unpinned once it expires
        run.renewals.append(identity.previous.not_valid_after_utc)
    return identity


def group_identities(
    run: Pass,
    platform: Member,
    containers: Sequence[Member],
    desktops: Sequence[Member],
    ca: CertificateAuthority | None,
    issuing: CertificateAuthority | None = None,
) -> tuple[dict[str, Identity], list[Member]]:
    """Every party's identity by identity_key(), and the desktops kept (those whose password
    Secret is bad are rejected and left out). `issuing` issues new certificates when it is not
    `ca` (the old CA during TrustBoth; certificates of `ca` are kept too)."""
    p: PlatformSpec = platform.spec
    issuer = issuing or ca
    also = (ca.certificate,) if ca is not None and issuer is not ca else ()
    try:
        platform_pw = _user_passwords(run, p.tls.password_secret_name)
    except SpecError as err:
        keystore_problem(run, platform, "PasswordSecretInvalid", str(err))
    out = {
        identity_key("platform", p.name): _identity(
            run,
            platform,
            names.tls_secret(p.name),
            cert_request_platform(p),
            issuer,
            platform_pw,
            also,
        )
    }
    if p.tls.keystore_mode is KeystoreMode.PER_CONTAINER:
        for c in containers:
            request = cert_request_container(c.spec, p)
            out[identity_key("container", c.spec.name)] = _identity(
                run, c, names.tls_secret(c.spec.name), request, issuer, platform_pw, also
            )
    kept = []
    for d in desktops:
        try:
            pw = _user_passwords(run, d.spec.password_secret_name)
        except SpecError as err:
            reject(run, d.body, str(err))
            continue
        kept.append(d)
        # Desktops are always self-signed and pinned, so deleting one revokes it.
        out[identity_key("desktop", d.spec.name)] = _identity(
            run, d, names.desktop_secret(d.spec.name), cert_request_desktop(d.spec), None, pw
        )
    return out, kept


def held_identities(
    run: Pass, containers: Sequence[Member], desktops: Sequence[Member]
) -> list[tuple[str, str, Identity]]:
    """Members of the group left out of this pass (a refused write, an invalid spec; not a
    name clash: those objects may be another's), as their state Secrets hold them, so the
    Platform keeps pinning them: desktops while they exist, containers while they run."""
    planned = {("ExecutionContainer", m.spec.name) for m in containers}
    planned |= {("DesktopClient", m.spec.name) for m in desktops}
    snap = run.snapshot
    found = []
    for body in (*snap.containers, *snap.desktops):
        key = (str(body["kind"]), str(body["metadata"]["name"]))
        entry = run.excluded.get(key)
        if key in planned or (entry is not None and entry.reason == NAME_CLASH):
            continue
        container = key[0] == "ExecutionContainer"
        if container and key[1] not in snap.workloads:
            continue  # nothing of it runs
        mounted = names.tls_secret(key[1]) if container else names.desktop_secret(key[1])
        stored = _stored(run, mounted)
        if stored.key is not None and stored.certificate is not None:
            identity = Identity(
                stored.key,
                stored.certificate,
                stored.passwords or Passwords("", ""),
                stored.previous,
                stored.next,
            )
            found.append(("container" if container else "desktop", key[1], identity))
    return found


def left_out_running(run: Pass) -> list[str]:
    """ExecutionContainers left out of this pass (not for a name clash) whose Deployment
    exists: their pods keep the stores they had."""
    return sorted(
        name
        for (kind, name), entry in run.excluded.items()
        if kind == "ExecutionContainer"
        and entry.reason != NAME_CLASH
        and name in run.snapshot.workloads
    )
