"""Each party's identity (key, certificate, passwords) for one pass: kept from its state
Secret, recovered from its mounted Secret when the state Secret is gone, made only when
neither holds a key (a Warning Event then says the key was lost). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from cryptography import x509

from pico_tls.builders import names, secret_manifests
from pico_tls.material import (
    CertRequest,
    Identity,
    Passwords,
    StoredMaterial,
    renewal_time,
    resolve_identity,
)
from pico_tls.parties import (
    AnyMember,
    ContainerMember,
    DesktopMember,
    PlatformMember,
    cert_request_container,
    cert_request_desktop,
    cert_request_platform,
    identity_key,
)
from pico_tls.pki.certs import CertificateAuthority
from pico_tls.reconcile import readback
from pico_tls.reconcile.carotation import Rotation
from pico_tls.reconcile.clashes import NAME_CLASH
from pico_tls.reconcile.exclusions import Exclusion
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.report import KEY_LOST, keystore_problem
from pico_tls.reconcile.rollout import delivering
from pico_tls.spec import SpecError
from pico_tls.spec_model import KeystoreMode
from pico_tls.validation import check_password


def renew_requested(body: Mapping[str, Any]) -> str | None:
    """The `picotls.dev/renew` value not yet acted on (status.renewRequest), if any."""
    wanted = (body["metadata"].get("annotations") or {}).get(names.RENEW)
    done = (body.get("status") or {}).get("renewRequest")
    return str(wanted) if wanted and wanted != done else None


def user_passwords(run: PassContext, secret_name: str | None) -> Passwords | None:
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


def _stored(run: PassContext, mounted: str) -> StoredMaterial:
    """What the state Secret holds; its key from the mounted Secret if the state is gone."""
    secrets = run.snapshot.secrets
    state: StoredMaterial = run.decoded(
        secrets.get(names.state_secret(mounted)), "state", readback.from_state
    )
    if state.key is not None:
        return state
    recovered: StoredMaterial = run.decoded(
        secrets.get(mounted), "recover", readback.from_keystore_secret
    )
    # The state Secret held the certificates a renewal replaced or staged; the Platform's
    # store still pins them (a desktop user's imported key may be the replaced one).
    platform_store = secrets.get(names.tls_secret(run.snapshot.platform_name))
    pinned = run.decoded(platform_store, "trusted", readback.trusted_from)
    return readback.with_pinned_versions(readback.merged(state, recovered), pinned)


@dataclass(frozen=True)
class _Party:
    key: str  # identity_key()
    owner: AnyMember
    mounted: str  # its mounted Secret (its state Secret is named after it)
    request: CertRequest
    issuer: CertificateAuthority | None  # None: self-signed, pinned by its peers
    passwords: Passwords | None  # the user's, else kept or new


def _in_use(run: PassContext, party: _Party) -> bool:
    """Whether the party had a key before this pass: its status recorded a certificate, one of
    its Secrets exists, its workload exists, or the Platform's store pins it (a desktop)."""
    body, secrets = party.owner.body, run.snapshot.secrets
    if (body.get("status") or {}).get("certificateFingerprint"):
        return True
    if party.mounted in secrets or names.state_secret(party.mounted) in secrets:
        return True
    name = str(body["metadata"]["name"])
    if body.get("kind") != "DesktopClient":
        return delivering(run.snapshot.workloads, name)
    platform_store = secrets.get(names.tls_secret(run.snapshot.platform_name))
    aliases: set[str] = run.decoded(platform_store, "aliases", readback.trusted_aliases_from)
    return f"desktop-{name}" in aliases


def _identity(
    run: PassContext, party: _Party, accepted: Sequence[x509.Certificate]
) -> tuple[Identity, tuple[datetime, ...], bool]:
    """The party's identity, when it falls due again (renewal, end of a pinned previous
    certificate), and whether its key was lost (a new one made for a key in use)."""
    owner, mounted, request, issuer = party.owner, party.mounted, party.request, party.issuer
    stored = _stored(run, mounted)
    lost = stored.key is None and _in_use(run, party)
    if lost:
        run.decision.event(
            owner.body,
            "Warning",
            KEY_LOST,
            f"Secrets {names.state_secret(mounted)} and {mounted} hold no readable key any more: "
            "made a new one; every peer gets its new certificate",
        )
    identity, notes = resolve_identity(
        request,
        issuer,
        stored,
        passwords=party.passwords,
        now=run.now,
        also_accepted=accepted if issuer else (),
        renew=renew_requested(owner.body) is not None,
        stage=issuer is None,  # self-signed certificates are pinned by their peers
        new_key=partial(run.keys.new_key, party.key),
    )
    if notes and (mounted in run.snapshot.secrets or lost):  # else SecretCreated tells it
        run.decision.event(owner.body, "Normal", "KeyMaterial", f"{mounted}: {'; '.join(notes)}")
    due: list[datetime] = []
    renewal = renewal_time(identity.certificate, request.renew_before)
    if renewal > run.now:  # else capped by its CA's expiry: a renewal would not extend it
        due.append(renewal)
    if identity.previous is not None:  # unpinned once it expires
        due.append(identity.previous.not_valid_after_utc)
    return identity, tuple(due), lost


@dataclass(frozen=True)
class GroupIdentities:
    """Every party's identity by identity_key(), and when the earliest falls due."""

    by_key: dict[str, Identity]
    due: tuple[datetime, ...]  # renewal times (the requeue time comes from the earliest)
    lost: frozenset[tuple[str, str]] = frozenset()  # (kind, name) of owners whose key was lost


def group_identities(
    run: PassContext,
    platform: PlatformMember,
    containers: Sequence[ContainerMember],
    desktops: Sequence[DesktopMember],
    ca: CertificateAuthority | None,
    rotation: Rotation | None,
    desktop_passwords: Mapping[str, Passwords | None],
    issuing: CertificateAuthority | None = None,
) -> GroupIdentities:
    """`desktop_passwords`: from each desktop's password Secret (admission checked them);
    certificates of the old CAs of `rotation` are kept while its phase accepts them.
    `issuing` issues new certificates when it is not `ca` (the old CA during TrustBoth;
    certificates of `ca` are kept too)."""
    p = platform.spec
    try:
        platform_pw = user_passwords(run, p.tls.password_secret_name)
    except SpecError as err:
        keystore_problem(run, platform, "PasswordSecretInvalid", str(err))
    accepted = rotation.accepted_previous if rotation else ()
    issuer = issuing or ca
    if ca is not None and issuer is not ca:
        accepted = (*accepted, ca.certificate)
    parties: list[_Party] = [
        _Party(
            identity_key("platform", p.name),
            platform,
            names.tls_secret(p.name),
            cert_request_platform(p),
            issuer,
            platform_pw,
        )
    ]
    if p.tls.keystore_mode is KeystoreMode.PER_CONTAINER:
        parties += [
            _Party(
                identity_key("container", c.spec.name),
                c,
                names.tls_secret(c.spec.name),
                cert_request_container(c.spec, p),
                issuer,
                platform_pw,
            )
            for c in containers
        ]
    # Desktops are always self-signed and pinned, so deleting one revokes it.
    parties += [
        _Party(
            identity_key("desktop", d.spec.name),
            d,
            names.desktop_secret(d.spec.name),
            cert_request_desktop(d.spec),
            None,
            desktop_passwords.get(d.spec.name),
        )
        for d in desktops
    ]
    by_key: dict[str, Identity] = {}
    due: list[datetime] = []
    lost: set[tuple[str, str]] = set()
    for party in parties:
        by_key[party.key], when, was_lost = _identity(run, party, accepted)
        due += when
        if was_lost:
            lost.add((str(party.owner.body["kind"]), str(party.owner.body["metadata"]["name"])))
    return GroupIdentities(by_key, tuple(due), frozenset(lost))


def held_identities(
    run: PassContext,
    excluded: Mapping[tuple[str, str], Exclusion],
) -> list[tuple[str, str, Identity]]:
    """Members of the group left out of this pass (a refused write, an invalid spec; not a
    name clash: those objects may be another's), as their state Secrets hold them, so the
    Platform keeps pinning them: desktops while they exist, containers while they run."""
    snap = run.snapshot
    found = []
    for body in (*snap.containers, *snap.desktops):
        key = (str(body["kind"]), str(body["metadata"]["name"]))
        entry = excluded.get(key)
        if entry is None or entry.reason == NAME_CLASH:
            continue
        container = key[0] == "ExecutionContainer"
        if container and not delivering(snap.workloads, key[1]):
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


def left_out_running(run: PassContext, excluded: Mapping[tuple[str, str], Exclusion]) -> list[str]:
    """ExecutionContainers left out of this pass (not for a name clash) whose Deployment
    exists: their pods keep the stores they had."""
    return sorted(
        name
        for (kind, name), entry in excluded.items()
        if kind == "ExecutionContainer"
        and entry.reason != NAME_CLASH
        and delivering(run.snapshot.workloads, name)
    )
