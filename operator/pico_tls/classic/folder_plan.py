"""What `pico-tls keystores` writes for each name, given the options and what DIR already holds.

Pure apart from randomness (keys, passwords, serial numbers) and the clock: no file access.
Trust rules:
- With a CA: platform and container certificates are issued by it and their stores trust it,
  so a new container changes no other store.
- Without a CA: certificates are self-signed and pinned one by one (the seed's method b).
- Desktop certificates are always self-signed and pinned in the platform's store, so leaving a
  desktop out of a re-run revokes it even when a CA is in use.
- `shared` mode (the seed's method a): every container gets the platform's keystore.
StoredMaterial keys are kept (also in a keystore the user brings); certificates are kept while they
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
from pico_tls.classic.identity import ClassicIdentity, FoundStore, resolve
from pico_tls.classic.manifest import Manifest, PartyRecord
from pico_tls.classic.options import (
    ENCRYPTED_KEY_PASSWORD_FILE,
    ENCRYPTED_STORE_PASSWORD_FILE,
    ClassicError,
    KeyGenerator,
    Mode,
    Options,
    Role,
    validate,
)
from pico_tls.classic.stores import Trust, encode_store, party_files, reference, store_content
from pico_tls.clock import system_clock
from pico_tls.delivery_choice import PasswordEncoding
from pico_tls.keystore import (
    StoreFormat,
    StoreOptions,
)
from pico_tls.material import Passwords
from pico_tls.pki import (
    CertificateAuthority,
    KeyAlgorithm,
    PrivateKey,
    generate_key,
    sha256_fingerprint,
)


@dataclass(frozen=True)
class FolderContents:
    """What DIR holds before the run."""

    stores: Mapping[str, FoundStore] = field(default_factory=dict)  # decoded, own keys only
    manifest: Manifest | None = None
    raw: Mapping[str, bytes] = field(default_factory=dict)  # keystore bytes of every given name
    # pre-encrypted: NAME/keystore.password.encrypted and key.password.encrypted, when both exist
    encrypted: Mapping[str, Passwords] = field(default_factory=dict)


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
    files: Mapping[str, str]  # the --emit forms, file name -> text (none for desktops)
    trusted: tuple[str, ...]  # aliases of the trusted entries
    key_status: str  # "new" | "kept" | "adopted" | "platform's"
    cert_status: str  # "new" | "kept" | "reissued: <why>"
    store_changed: bool


@dataclass(frozen=True)
class FolderPlan:
    parties: tuple[PartyOutput, ...]
    ca_certificate: x509.Certificate | None
    manifest: Manifest
    removed: tuple[str, ...]  # names of the last run no longer given (their folders go)
    previous: Manifest | None  # what the last run recorded (its --emit files are replaced)
    keys_generated: int
    keygen_seconds: float  # wall time spent generating the new keys

    def party(self, name: str) -> PartyOutput:
        return next(p for p in self.parties if p.name == name)


@dataclass
class _Run:
    """One plan_folder call: the input, what DIR holds, the identities resolved so far."""

    options: Options
    folder: FolderContents
    manifest: Manifest | None
    stores: Mapping[str, FoundStore]
    identities: dict[str, ClassicIdentity] = field(default_factory=dict)

    @property
    def records(self) -> Mapping[str, PartyRecord]:
        return self.manifest.parties if self.manifest is not None else {}

    @property
    def ca(self) -> CertificateAuthority | None:
        return self.options.ca

    def own_store(self, name: str) -> FoundStore | None:
        record = self.records.get(name)
        if record is not None and not record.own_key:
            return None  # a copy of the platform's store (shared mode)
        return self.stores.get(name)

    def needs_key(self, name: str) -> bool:
        store = self.own_store(name)
        return store is None or store.content.key_entry is None

    def trust_for(self, role: Role) -> list[Trust]:
        """The operator's trust rules (builders.stores), with our manifest references."""
        options, ids = self.options, self.identities
        if role is Role.PLATFORM:
            per_container = self.ca is None and options.mode is Mode.PER_CONTAINER
            containers = options.containers if per_container else ()
            pinned = [(c, ids[c].certificate) for c in containers]
            desktops = [(d, ids[d].certificate) for d in options.desktops]
            entries = platform_trust(self.ca, pinned, desktops)
        else:
            platform = ids[options.platform].certificate
            entries = peer_trust(self.ca, [(PLATFORM_ALIAS, platform)])
        return [Trust(reference(alias), alias, cert) for alias, cert in entries]

    @property
    def reusable(self) -> bool:
        """StoredMaterial bytes may be kept: same format and profile as the last run."""
        m = self.manifest
        return (
            m is not None and m.format is self.options.format and m.profile is self.options.profile
        )

    def own_output(self, name: str, role: Role) -> tuple[PartyOutput, PartyRecord]:
        options, identity = self.options, self.identities[name]
        old = self.own_store(name)
        content, aliases = store_content(
            identity, self.trust_for(role), old, self.records.get(name)
        )
        store_options = StoreOptions(
            options.format, identity.passwords.store, identity.passwords.key, options.profile
        )
        reuse = self.reusable and name in self.records
        data, changed = encode_store(content, store_options, old, reuse)
        new_passwords = self.own_store(name) is None
        files = self.forms(name, role, identity.alias, identity.passwords, new_passwords)
        trusted = tuple(a for a, _ in content.trusted)
        output = PartyOutput(
            name, role, identity.alias, options.format, data, identity.passwords,
            identity.certificate, files, trusted, identity.key_status, identity.cert_status,
            changed,
        )  # fmt: skip
        return output, PartyRecord(role, own_key=True, trusted=aliases, files=tuple(sorted(files)))

    def forms(
        self, name: str, role: Role, alias: str, passwords: Passwords, new_passwords: bool
    ) -> dict[str, str]:
        """The --emit files of a platform or container; pre-encrypted: with the user's
        `mzsh encryptpassword` output, which must exist and belong to kept passwords."""
        if role is Role.DESKTOP:
            return {}
        if self.options.password_encoding is PasswordEncoding.PRE_ENCRYPTED:
            where = f"{name}/{ENCRYPTED_STORE_PASSWORD_FILE} and {ENCRYPTED_KEY_PASSWORD_FILE}"
            if new_passwords:
                raise ClassicError(
                    f"{name}: its passwords are new in this run, so no encrypted ones can match: "
                    "run without --password-encoding pre-encrypted first, then put the "
                    f"mzsh encryptpassword output of {name}/keystore.password and key.password "
                    f"into {where}"
                )
            encrypted = self.folder.encrypted.get(name)
            if encrypted is None:
                raise ClassicError(
                    f"--password-encoding pre-encrypted: {where} are missing; put there the "
                    f"mzsh encryptpassword output of {name}/keystore.password and key.password"
                )
            passwords = encrypted
        return party_files(name, role, alias, passwords, self.options)

    def shared_output(self, name: str, role: Role, platform: PartyOutput) -> PartyOutput:
        """Shared mode: a container gets the platform's store, with its own properties."""
        record = self.records.get(name)
        new_passwords = record is None or record.own_key  # not the platform's store before
        files = self.forms(name, role, platform.alias, platform.passwords, new_passwords)
        changed = self.folder.raw.get(name) != platform.store
        return PartyOutput(
            name, role, platform.alias, self.options.format, platform.store, platform.passwords,
            platform.certificate, files, platform.trusted, "platform's", platform.cert_status,
            changed,
        )  # fmt: skip


def plan_folder(
    options: Options,
    folder: FolderContents,
    *,
    now: datetime | None = None,
    keygen: KeyGenerator = generate_key,
) -> FolderPlan:
    """What to write. ClassicError for bad input.

    New keys are generated in parallel threads (OpenSSL releases the GIL); `keygen` replaces
    generate_key (tests, experiments), and the plan reports the wall time spent generating.
    """
    validate(options)
    now = now or system_clock()
    manifest = None if options.force else folder.manifest
    if manifest is not None and manifest.ca_fingerprint is not None and options.ca is None:
        raise ClassicError(
            "the stores in DIR trust a CA (ca.crt): give --ca-cert and --ca-key again, "
            "or --force to start over without it"
        )
    run = _Run(options, folder, manifest, {} if options.force else dict(folder.stores))
    owners = [(n, role) for n, role in options.parties if options.owns_key(role)]
    started = time.perf_counter()
    fresh = _generate([n for n, _ in owners if run.needs_key(n)], options.key, keygen)
    keygen_seconds = time.perf_counter() - started
    for name, role in owners:
        issuer = options.ca if role is not Role.DESKTOP else None
        found = run.own_store(name)
        run.identities[name] = resolve(
            name, options, found, name in run.records, issuer, now, fresh.get(name)
        )
    outputs, records = _outputs(run)
    given = {name for name, _ in options.parties}
    before = folder.manifest.parties if folder.manifest is not None else {}
    ca = options.ca
    new_manifest = Manifest(
        platform=options.platform,
        mode=options.mode,
        format=options.format,
        profile=options.profile,
        ca_fingerprint=sha256_fingerprint(ca.certificate) if ca is not None else None,
        parties=records,
        password_encoding=options.encoding_name,
    )
    removed = tuple(sorted(n for n in before if n not in given))
    ca_cert = ca.certificate if ca is not None else None
    return FolderPlan(
        tuple(outputs), ca_cert, new_manifest, removed, folder.manifest, len(fresh),
        keygen_seconds,
    )  # fmt: skip


def _outputs(run: _Run) -> tuple[list[PartyOutput], dict[str, PartyRecord]]:
    """Every party's output (the platform first, so shared containers can copy it)."""
    outputs: list[PartyOutput] = []
    records: dict[str, PartyRecord] = {}
    platform: PartyOutput | None = None
    for name, role in run.options.parties:
        if run.options.owns_key(role):
            output, records[name] = run.own_output(name, role)
            if role is Role.PLATFORM:
                platform = output
        else:
            assert platform is not None
            output = run.shared_output(name, role, platform)
            records[name] = PartyRecord(role, own_key=False, files=tuple(sorted(output.files)))
        outputs.append(output)
    return outputs, records


def _generate(
    names: Sequence[str], algorithm: KeyAlgorithm, keygen: KeyGenerator
) -> dict[str, PrivateKey]:
    if len(names) < 2:
        return {n: keygen(algorithm) for n in names}
    workers = min(len(names), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        keys = list(pool.map(keygen, [algorithm] * len(names)))
    return dict(zip(names, keys, strict=True))
