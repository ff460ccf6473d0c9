"""Every delivery form for one classic (non-Kubernetes) party, as file name -> text (pure).

For `pico-tls keystores --emit properties,env,startup-args,topology`: the files hold the
passwords themselves (plain, base64, or the `mzsh encryptpassword` output the caller gives),
so the caller writes them with mode 0600 (all but `cell.conf`, see `holds_passwords`).
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Iterable, Mapping

from pico_tls.builders import form_content, names, properties
from pico_tls.builders.form_content import KEY, STORE
from pico_tls.delivery_choice import DeliveryError, DeliveryForm, PasswordEncoding, check_carried

EMIT_CHOICES = ("properties", "env", "startup-args", "topology")
ENV_FILE, ARGS_FILE = "tls.env", "startup-args"
EXTRA_ARGS_VARIABLE = "PICO_TLS_EXTRA_ARGS"
FILES = {
    "properties": (names.PROPERTIES_FILE,),
    "env": (ENV_FILE,),
    "startup-args": (ARGS_FILE,),
    "topology": (form_content.CELL_FILE, form_content.CONTAINER_FILE),
}
ENV_NEEDS_BASE64 = (
    "the entrypoint base64-encodes TLS_KEYSTORE_PASSWORD and TLS_KEY_PASSWORD itself, so the "
    "other forms must carry base64 too"
)


def files_of(forms: Iterable[str]) -> tuple[str, ...]:
    """The file names the chosen forms write."""
    return tuple(name for form in EMIT_CHOICES if form in forms for name in FILES[form])


def holds_passwords(file_name: str) -> bool:
    """cell.conf holds only require_clientauth and the platform's host and port."""
    return file_name != form_content.CELL_FILE


def _encoded(password: str, encoding: PasswordEncoding) -> str:
    if encoding is PasswordEncoding.BASE64:
        return base64.b64encode(password.encode()).decode()
    return password  # Plain, or PreEncrypted: the caller gives the mzsh encryptpassword output


def emit_forms(
    props: Mapping[str, str],
    *,
    store_password: str,
    key_password: str,
    encoding: PasswordEncoding = PasswordEncoding.PLAIN,
    web_ui_tls: bool = False,
    forms: Iterable[str] = ("properties",),
    header: str = "Written by pico-tls.",
) -> dict[str, str]:
    """The files of the chosen forms. `props` is `properties.rcp_properties(...)`; with
    PreEncrypted the two passwords are the `mzsh encryptpassword` output (no `env` form then:
    it takes the plain passwords and the entrypoint base64-encodes them, so `env` goes only
    with Base64). `header` heads the properties file."""
    chosen = list(forms)
    unknown = sorted(set(chosen) - set(EMIT_CHOICES))
    if unknown:
        raise DeliveryError(f"--emit: unknown form {', '.join(unknown)}; use {EMIT_CHOICES}")
    if "env" in chosen and encoding is not PasswordEncoding.BASE64:
        raise DeliveryError(f"--emit env goes only with base64 passwords: {ENV_NEEDS_BASE64}")
    s = form_content.pico_settings(props, web_ui_tls=web_ui_tls)
    plain = {STORE: store_password, KEY: key_password}
    value = {slot: _encoded(pw, encoding) for slot, pw in plain.items()}
    out: dict[str, str] = {}
    if "properties" in chosen:
        every = {**s.public, **{k: value[slot] for k, slot in s.passwords.items()}}
        out[names.PROPERTIES_FILE] = properties.render(every, header)
    if "env" in chosen:
        env = form_content.entrypoint_env(s)
        if s.passwords:  # the entrypoint base64-encodes them itself
            env |= {form_content.ENTRYPOINT_PASSWORD_ENV[slot]: pw for slot, pw in plain.items()}
        env[EXTRA_ARGS_VARIABLE] = shlex.join(form_content.entrypoint_args(s))
        out[ENV_FILE] = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
    if "startup-args" in chosen:
        secret = {k: value[slot] for k, slot in s.passwords.items()}
        check_carried(DeliveryForm.STARTUP_ARGS, secret, "passwords")
        args = form_content.startup_args(s, lambda slot: value[slot])
        out[ARGS_FILE] = "".join(f"{arg}\n" for arg in args)
    if "topology" in chosen:
        out |= form_content.topology_files(
            s, lambda slot: form_content.hocon_string(value[slot]), how=f"{encoding}, in this file"
        )
    return out
