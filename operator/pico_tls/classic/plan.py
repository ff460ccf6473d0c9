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

from pico_tls.builders.stores import PLATFORM_ALIAS, peer_trust, platform_trust
from pico_tls.classic.identity import ClassicIdentity, ExistingStore, resolve
from pico_tls.classic.manifest import Manifest, PartyRecord
from pico_tls.classic.options import (
    ClassicError,
    KeyGenerator,
    Mode,
    Options,
    Role,
    validate,
)
from pico_tls.classic.stores import Trust, encode_store, properties_text, reference, store_content
from pico_tls.clock import system_clock
from pico_tls.keystore import (
    StoreFormat,
    StoreOptions,
)
from pico_tls.material import Passwords
from pico_tls.pki import (
    KeyAlgorithm,
    PrivateKey,
    generate_key,
    sha256_fingerprint,
)


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

    identities: dict[str, ClassicIdentity] = {}
    for name, role in options.parties:
        if options.owns_key(role):
            issuer = ca if role is not Role.DESKTOP else None
            identities[name] = resolve(
                name,
                options,
                existing_own(name),
                name in records,
                issuer,
                now,
                fresh.get(name),
            )
    platform = identities[options.platform]

    def trust_for(role: Role) -> list[Trust]:
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
        return [Trust(reference(alias), alias, cert) for alias, cert in entries]

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
            shared_props = properties_text(name, role, shared.alias, shared.passwords, options)
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
        content, aliases = store_content(identity, trust_for(role), old, records.get(name))
        store_options = StoreOptions(
            options.format, identity.passwords.store, identity.passwords.key, options.profile
        )
        data, changed = encode_store(content, store_options, old, reusable and name in records)
        props = (
            properties_text(name, role, identity.alias, identity.passwords, options)
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


def _generate(
    names: Sequence[str], algorithm: KeyAlgorithm, keygen: KeyGenerator
) -> dict[str, PrivateKey]:
    if len(names) < 2:
        return {n: keygen(algorithm) for n in names}
    workers = min(len(names), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        keys = list(pool.map(keygen, [algorithm] * len(names)))
    return dict(zip(names, keys, strict=True))
