"""A classic folder's keystore: the key entry, the operator's trust rules under the aliases the
manifest recorded, the trusted entries the user added; and its rcp-tls.properties."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from pico_tls.builders import properties
from pico_tls.builders.classic_forms import emit_forms
from pico_tls.builders.stores import CA_ALIAS, PLATFORM_ALIAS
from pico_tls.classic.identity import ClassicIdentity, FoundStore
from pico_tls.classic.manifest import PartyRecord
from pico_tls.classic.options import (
    ENCRYPTED_KEY_PASSWORD_FILE,
    ENCRYPTED_STORE_PASSWORD_FILE,
    ClassicError,
    Options,
    Role,
)
from pico_tls.delivery_choice import OTHER_FORM, DeliveryError, PasswordEncoding
from pico_tls.keystore import (
    KeyEntry,
    KeystoreContent,
    StoreOptions,
    content_fingerprint,
    encode_keystore,
    file_name,
    unique_alias,
)
from pico_tls.material import Passwords
from pico_tls.pki import sha256_fingerprint


@dataclass(frozen=True)
class Trust:
    reference: str  # "ca", "platform", "container:NAME", "desktop:NAME" (manifest key)
    base: str  # alias stem
    certificate: x509.Certificate


def store_content(
    identity: ClassicIdentity,
    wanted: Sequence[Trust],
    found: FoundStore | None,
    record: PartyRecord | None,
) -> tuple[KeystoreContent, dict[str, str]]:
    """The key entry, our trusted entries and the trusted entries we did not write.

    An entry keeps its alias when the store already trusts the same certificate, else the alias
    the manifest recorded for it; new ones get unique aliases. Entries we wrote before that are
    no longer wanted (a removed desktop) are dropped.
    """
    ours = set(record.trusted.values()) if record is not None else set()
    old = found.content.trusted if found is not None else ()
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


def encode_store(
    content: KeystoreContent,
    store_options: StoreOptions,
    found: FoundStore | None,
    reusable: bool,
) -> tuple[bytes, bool]:
    """(bytes, changed): the found bytes when they mean the same (re-encoding changes salts)."""
    if found is not None and reusable and found.format is store_options.format:
        before = content_fingerprint(found.content, store_options)
        if before == content_fingerprint(content, store_options):
            return found.data, False
    return encode_keystore(content, store_options), True


_PASSWORD_NOTE = {
    PasswordEncoding.PLAIN: "The passwords are plain text: the output of the vendor's "
    "`mzsh encryptpassword`\nmay replace them (--password-encoding pre-encrypted).",
    PasswordEncoding.BASE64: "The passwords are base64, as the public entrypoint sends them.",
    PasswordEncoding.PRE_ENCRYPTED: "The passwords are your `mzsh encryptpassword` output "
    f"({ENCRYPTED_STORE_PASSWORD_FILE},\n{ENCRYPTED_KEY_PASSWORD_FILE}).",
}


def party_files(
    name: str, role: Role, alias: str, passwords: Passwords, options: Options
) -> dict[str, str]:
    """The delivery forms of --emit (rcp-tls.properties by default): the operator's settings
    and passwords, one renderer (`builders.classic_forms`). With pre-encrypted, `passwords`
    are the encrypted ones. ClassicError when a form cannot carry a value."""
    platform_dns = options.dns_names(options.platform)
    is_container = role is Role.CONTAINER
    props = properties.rcp_properties(
        keystore_path=options.property_keystore_path,
        alias=alias,
        require_client_auth=options.require_client_auth,
        platform_host=platform_dns[0] if is_container and platform_dns else None,
        platform_port=options.platform_port if is_container else None,
    )
    header = (
        f"RCP TLS settings of the pico {role.value} {name!r}, written by `pico-tls keystores`.\n"
        f"Copy {file_name(options.format)} from this folder to {options.property_keystore_path}.\n"
        f"{_PASSWORD_NOTE[options.password_encoding]} Keep this file private (mode 0600)."
    )
    try:
        return emit_forms(
            props,
            store_password=passwords.store,
            key_password=passwords.key,
            encoding=options.password_encoding,
            web_ui_tls=options.web_ui_tls,
            forms=options.emit,
            header=header,
        )
    except DeliveryError as err:
        message = str(err).replace(OTHER_FORM, "leave that form out of --emit")
        raise ClassicError(f"{name}: {message}") from None


def reference(alias: str) -> str:
    """The manifest's name for a trusted entry of the operator's trust rules."""
    if alias == CA_ALIAS:
        return "ca"
    if alias == PLATFORM_ALIAS:
        return "platform"
    kind, _, name = alias.partition("-")
    return f"{'container' if kind == 'ec' else kind}:{name}"
