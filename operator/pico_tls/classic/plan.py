"""What `pico-tls keystores` writes for each name, given the options and what DIR already holds.

Pure apart from randomness (keys, passwords, serial numbers) and the clock: no file access.
Trust rules:
- With a CA: platform and container certificates are issued by it and their stores trust it,
  so a new container changes no other store.
- Without a CA: certificates are self-signed and pinned one by one (the seed's method b).
- Desktop certificates are always self-signed and pinned in the platform's store, so leaving a
  desktop out of a re-run revokes it even when a CA is in use.
- `shared` mode (the seed's method a): every container gets the platform's keystore.
Existing keys are kept (also in a keystore the user brings); certificates are kept while they
still fit; trusted entries we did not write are kept; unchanged stores keep their bytes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from pico_tls.builders import properties
from pico_tls.builders.stores import CA_ALIAS, PLATFORM_ALIAS, peer_trust, platform_trust
from pico_tls.classic.manifest import Manifest, PartyRecord
from pico_tls.classic.options import (
    ClassicError,
    KeyGenerator,
    Mode,
    Options,
    Role,
    new_passwords,
    validate,
)
from pico_tls.clock import system_clock
from pico_tls.keystore import (
    KeyEntry,
    KeystoreContent,
    StoreFormat,
    StoreOptions,
    content_fingerprint,
    encode_keystore,
    file_name,
    unique_alias,
)
from pico_tls.material import CertRequest, Passwords, issue, renewal_time
from pico_tls.pki import (
    CertificateAuthority,
    KeyAlgorithm,
    PrivateKey,
    generate_key,
    sha256_fingerprint,
    signed_by,
)


@dataclass(frozen=True)
class ExistingStore:
    """A keystore found in DIR/NAME, decoded with its password files."""

    content: KeystoreContent
    passwords: Passwords
    format: StoreFormat
    data: bytes


@dataclass(frozen=True)
class FolderContents:
    """What DIR holds before the run."""

    stores: Mapping[str, ExistingStore] = field(default_factory=dict)  # decoded, own keys only
    manifest: Manifest | None = None
    raw: Mapping[str, bytes] = field(default_factory=dict)  # keystore bytes of every given name


@dataclass(frozen=True)
class PartyOutput:
    """Everything written into DIR/NAME."""

    name: str
    role: Role
    alias: str  # pico.rcp.tls.keystore.alias
    format: StoreFormat
    store: bytes
    passwords: Passwords
    certificate: x509.Certificate
    properties: str | None  # rcp-tls.properties (platform and containers)
    trusted: tuple[str, ...]  # aliases of the trusted entries
    key_status: str  # "new" | "kept" | "adopted" | "platform's"
    cert_status: str  # "new" | "kept" | "reissued: <why>"
    store_changed: bool


@dataclass(frozen=True)
class Plan:
    parties: tuple[PartyOutput, ...]
    ca_certificate: x509.Certificate | None
    manifest: Manifest
    removed: tuple[str, ...]  # names of the last run no longer given (their folders go)
    keys_generated: int
    keygen_seconds: float  # wall time spent generating the new keys

    def party(self, name: str) -> PartyOutput:
        return next(p for p in self.parties if p.name == name)


# --------------------------------------------------------------------------- identities


@dataclass(frozen=True)
class _Identity:
    alias: str
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    passwords: Passwords
    key_status: str
    cert_status: str

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]


def _dns_of(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {n.lower() for n in san.get_values_for_type(x509.DNSName)}


def _certificate_problem(
    cert: x509.Certificate, issuer: CertificateAuthority | None, request: CertRequest, now: datetime
) -> str | None:
    """Why a kept key needs a new certificate, or None to keep it (renewal: the operator's
    rule, `renewal_time` with the request's renewBefore)."""
    dns = request.dns_names
    signer = issuer.certificate if issuer is not None else cert
    if not signed_by(cert, signer):
        return "issuer changed" if issuer is not None else "not self-signed"
    if not {d.lower() for d in dns} <= _dns_of(cert):
        return "new host names"
    if cert.not_valid_before_utc > now:
        return "not yet valid"
    if renewal_time(cert, request.renew_before) <= now:
        return "expires soon"
    return None


def _request(name: str, options: Options) -> CertRequest:
    return CertRequest(
        common_name=name,
        dns_names=options.dns_names(name),
        key_algorithm=options.key,
        duration=options.duration,
        renew_before=options.renewal_window,
    )


def _identity(
    name: str,
    options: Options,
    existing: ExistingStore | None,
    managed: bool,
    issuer: CertificateAuthority | None,
    now: datetime,
    new_key: PrivateKey | None,
) -> _Identity:
    """Keep the key (ours, or one the user brought) and its certificate while it fits;
    otherwise issue one as the operator does (`material.issue`)."""
    request = _request(name, options)
    entry = existing.content.key_entry if existing is not None else None
    if existing is not None and entry is not None:
        key, alias, passwords = entry.key, entry.alias, existing.passwords
        key_status = "kept" if managed else "adopted"
        problem = _certificate_problem(entry.chain[0], issuer, request, now)
        if problem is None:
            kept = (entry.chain[0],) + ((issuer.certificate,) if issuer is not None else ())
            return _Identity(alias, key, kept, passwords, key_status, "kept")
        cert_status = f"reissued: {problem}"
    else:
        assert new_key is not None
        key, alias = new_key, unique_alias(name, ())
        passwords = existing.passwords if existing is not None else new_passwords()
        key_status, cert_status = "new", "new"
    cert = issue(request, issuer, key, now)
    chain = (cert,) + ((issuer.certificate,) if issuer is not None else ())
    return _Identity(alias, key, chain, passwords, key_status, cert_status)


# --------------------------------------------------------------------------- stores


@dataclass(frozen=True)
class _Trust:
    reference: str  # "ca", "platform", "container:NAME", "desktop:NAME" (manifest key)
    base: str  # alias stem
    certificate: x509.Certificate


def _store(
    identity: _Identity,
    wanted: Sequence[_Trust],
    existing: ExistingStore | None,
    record: PartyRecord | None,
) -> tuple[KeystoreContent, dict[str, str]]:
    """The key entry, our trusted entries and the trusted entries we did not write.

    An entry keeps its alias when the store already trusts the same certificate, else the alias
    the manifest recorded for it; new ones get unique aliases. Entries we wrote before that are
    no longer wanted (a removed desktop) are dropped.
    """
    ours = set(record.trusted.values()) if record is not None else set()
    old = existing.content.trusted if existing is not None else ()
    by_fingerprint = {sha256_fingerprint(c): a for a, c in old}
    wanted_fps = {sha256_fingerprint(t.certificate) for t in wanted}
    foreign = [(a, c) for a, c in old if a not in ours and sha256_fingerprint(c) not in wanted_fps]
    taken = {identity.alias} | {a for a, _ in foreign}
    preferred: dict[str, str] = {}
    for t in wanted:
        fp_alias = by_fingerprint.get(sha256_fingerprint(t.certificate))
        recorded = record.trusted.get(t.reference) if record is not None else None
        for candidate in (fp_alias, recorded):
            if candidate and candidate not in taken and candidate not in preferred.values():
                preferred[t.reference] = candidate
                break
    taken |= set(preferred.values())
    aliases: dict[str, str] = {}
    entries = list(foreign)
    for t in wanted:
        alias = preferred.get(t.reference)
        if alias is None:
            alias = unique_alias(t.base, taken)
            taken.add(alias)
        aliases[t.reference] = alias
        entries.append((alias, t.certificate))
    content = KeystoreContent(
        key_entry=KeyEntry(alias=identity.alias, key=identity.key, chain=identity.chain),
        trusted=tuple(entries),
    )
    return content, aliases


def _encode(
    content: KeystoreContent,
    store_options: StoreOptions,
    existing: ExistingStore | None,
    reusable: bool,
) -> tuple[bytes, bool]:
    """(bytes, changed): the existing bytes when they mean the same (re-encoding changes salts)."""
    if existing is not None and reusable and existing.format is store_options.format:
        before = content_fingerprint(existing.content, store_options)
        if before == content_fingerprint(content, store_options):
            return existing.data, False
    return encode_keystore(content, store_options), True


def _properties(name: str, role: Role, alias: str, passwords: Passwords, options: Options) -> str:
    """rcp-tls.properties: the operator's properties and password properties, one writer."""
    platform_dns = options.dns_names(options.platform)
    is_container = role is Role.CONTAINER
    props = properties.rcp_properties(
        keystore_path=options.property_keystore_path,
        alias=alias,
        require_client_auth=options.require_client_auth,
        platform_host=platform_dns[0] if is_container and platform_dns else None,
        platform_port=options.platform_port if is_container else None,
    )
    props |= properties.password_properties(passwords.store, passwords.key)
    header = (
        f"RCP TLS settings of the pico {role.value} {name!r}, written by `pico-tls keystores`.\n"
        f"Copy {file_name(options.format)} from this folder to {options.property_keystore_path}.\n"
        "The passwords are plain text: the output of the vendor's `mzsh encryptpassword`\n"
        "may replace them. Keep this file private (mode 0600)."
    )
    return properties.render(props, header)


# --------------------------------------------------------------------------- the plan


def make_plan(
    options: Options,
    existing: FolderContents,
    *,
    now: datetime | None = None,
    keygen: KeyGenerator = generate_key,
) -> Plan:
    """What to write. ClassicError for bad input.

    New keys are generated in parallel threads (OpenSSL releases the GIL); `keygen` replaces
    generate_key (tests, experiments), and the plan reports the wall time spent generating.
    """
    validate(options)
    now = now or system_clock()
    manifest = None if options.force else existing.manifest
    stores = {} if options.force else dict(existing.stores)
    ca = options.ca
    if manifest is not None and manifest.ca_fingerprint is not None and ca is None:
        raise ClassicError(
            "the stores in DIR trust a CA (ca.crt): give --ca-cert and --ca-key again, "
            "or --force to start over without it"
        )
    records = dict(manifest.parties) if manifest is not None else {}

    def existing_own(name: str) -> ExistingStore | None:
        record = records.get(name)
        if record is not None and not record.own_key:
            return None  # a copy of the platform's store (shared mode)
        return stores.get(name)

    def needs_key(name: str) -> bool:
        store = existing_own(name)
        return store is None or store.content.key_entry is None

    wanted = [n for n, role in options.parties if options.owns_key(role) and needs_key(n)]
    started = time.perf_counter()
    fresh = _generate(wanted, options.key, keygen)
    keygen_seconds = time.perf_counter() - started

    identities: dict[str, _Identity] = {}
    for name, role in options.parties:
        if options.owns_key(role):
            issuer = ca if role is not Role.DESKTOP else None
            identities[name] = _identity(
                name,
                options,
                existing_own(name),
                name in records,
                issuer,
                now,
                fresh.get(name),
            )
    platform = identities[options.platform]

    def trust_for(role: Role) -> list[_Trust]:
        """The operator's trust rules (builders.stores), with our manifest references."""
        if role is Role.PLATFORM:
            per_container = ca is None and options.mode is Mode.PER_CONTAINER
            pinned = (
                [(c, identities[c].certificate) for c in options.containers]
                if per_container
                else []
            )
            desktops = [(d, identities[d].certificate) for d in options.desktops]
            entries = platform_trust(ca, pinned, desktops)
        else:
            entries = peer_trust(ca, [(PLATFORM_ALIAS, platform.certificate)])
        return [_Trust(_reference(alias), alias, cert) for alias, cert in entries]

    reusable = (
        manifest is not None
        and manifest.format is options.format
        and manifest.profile is options.profile
    )
    outputs: list[PartyOutput] = []
    new_records: dict[str, PartyRecord] = {}
    platform_output: PartyOutput | None = None
    for name, role in options.parties:
        if not options.owns_key(role):
            assert platform_output is not None
            shared = platform_output
            shared_props = _properties(name, role, shared.alias, shared.passwords, options)
            old_bytes = existing.raw.get(name)
            outputs.append(
                PartyOutput(
                    name,
                    role,
                    shared.alias,
                    options.format,
                    shared.store,
                    shared.passwords,
                    shared.certificate,
                    shared_props,
                    shared.trusted,
                    "platform's",
                    shared.cert_status,
                    old_bytes != shared.store,
                )
            )
            new_records[name] = PartyRecord(role, own_key=False)
            continue
        identity = identities[name]
        old = existing_own(name)
        content, aliases = _store(identity, trust_for(role), old, records.get(name))
        store_options = StoreOptions(
            options.format, identity.passwords.store, identity.passwords.key, options.profile
        )
        data, changed = _encode(content, store_options, old, reusable and name in records)
        props = (
            _properties(name, role, identity.alias, identity.passwords, options)
            if role is not Role.DESKTOP
            else None
        )
        output = PartyOutput(
            name,
            role,
            identity.alias,
            options.format,
            data,
            identity.passwords,
            identity.certificate,
            props,
            tuple(a for a, _ in content.trusted),
            identity.key_status,
            identity.cert_status,
            changed,
        )
        outputs.append(output)
        if role is Role.PLATFORM:
            platform_output = output
        new_records[name] = PartyRecord(role, own_key=True, trusted=aliases)

    given = {name for name, _ in options.parties}
    before = existing.manifest.parties if existing.manifest is not None else {}
    removed = tuple(sorted(n for n in before if n not in given))
    new_manifest = Manifest(
        platform=options.platform,
        mode=options.mode,
        format=options.format,
        profile=options.profile,
        ca_fingerprint=sha256_fingerprint(ca.certificate) if ca is not None else None,
        parties=new_records,
    )
    return Plan(
        tuple(outputs),
        ca.certificate if ca is not None else None,
        new_manifest,
        removed,
        len(fresh),
        keygen_seconds,
    )


def _reference(alias: str) -> str:
    """The manifest's name for a trusted entry of the operator's trust rules."""
    if alias == CA_ALIAS:
        return "ca"
    if alias == PLATFORM_ALIAS:
        return "platform"
    kind, _, name = alias.partition("-")
    return f"{'container' if kind == 'ec' else kind}:{name}"


def _generate(
    names: Sequence[str], algorithm: KeyAlgorithm, keygen: KeyGenerator
) -> dict[str, PrivateKey]:
    if len(names) < 2:
        return {n: keygen(algorithm) for n in names}
    workers = min(len(names), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        keys = list(pool.map(keygen, [algorithm] * len(names)))
    return dict(zip(names, keys, strict=True))
