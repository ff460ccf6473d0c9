"""The content of the four delivery forms (arguments, variables, HOCON files), rendered from
one `PicoSettings` (pure).

`PicoSettings` holds every setting a pico instance gets: the public properties and the names
of the password properties. Each form renders all of them; where a password goes, the form
puts what the caller gives for that slot (a Kubernetes `$(VAR)` reference, a HOCON
substitution, or for classic installs the encoded value itself).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pico_tls.delivery_choice import DeliveryError, DeliveryForm, check_carried

STORE, KEY = "store", "key"
RCP_PASSWORDS = {"pico.rcp.tls.keystore.password": STORE, "pico.rcp.tls.key.password": KEY}
HTTPD_PASSWORDS = {
    "mz.httpd.security.keystore.password": STORE,
    "mz.httpd.security.key.password": KEY,
}
KEYSTORE = "pico.rcp.tls.keystore"
ALIAS = "pico.rcp.tls.keystore.alias"
# In the topology form these go to cell.conf (common to the cell); the rest to container.conf.
CELL_KEYS = frozenset(
    {"pico.rcp.tls.require_clientauth", "pico.rcp.platform.host", "pico.rcp.platform.port"}
)
# What the public entrypoint sets itself from TLS_* (so not repeated as -e arguments).
ENTRYPOINT_SETS = frozenset({KEYSTORE, "mz.httpd.security", "mz.httpd.security.keystore"})
ENTRYPOINT_SETS_PREFIX = "mz.httpd.security."


@dataclass(frozen=True)
class PicoSettings:
    """Every setting of one pico instance. `passwords` maps a password property to its slot
    (`store` or `key`)."""

    public: Mapping[str, str]
    passwords: Mapping[str, str]

    @property
    def keystore(self) -> str | None:
        return self.public.get(KEYSTORE)

    @property
    def alias(self) -> str | None:
        return self.public.get(ALIAS)

    def keys(self) -> list[str]:
        return sorted({*self.public, *self.passwords})


def pico_settings(props: Mapping[str, str], *, web_ui_tls: bool) -> PicoSettings:
    """The settings from `properties.rcp_properties(...)`; with `web_ui_tls` the Web UI gets
    the same keystore, alias and passwords (`mz.httpd.security.*`)."""
    public = dict(props)
    passwords: dict[str, str] = {}
    if KEYSTORE in props:
        passwords |= RCP_PASSWORDS
        if web_ui_tls:
            public |= {"mz.httpd.security": "true", "mz.httpd.security.keystore": props[KEYSTORE]}
            if ALIAS in props:
                public["mz.httpd.security.key.alias"] = props[ALIAS]
            passwords |= HTTPD_PASSWORDS
    return PicoSettings(public, passwords)


# -- StartupArgs -------------------------------------------------------------------------------


def kubernetes_literal(text: str) -> str:
    """`text` such that Kubernetes' `$(VAR)` expansion of args and env gives it back."""
    return text.replace("$", "$$")


def startup_args(
    s: PicoSettings, password: Callable[[str], str], *, literal: Callable[[str], str] = str
) -> list[str]:
    """`-e key=value` pairs for `mzsh startup`, sorted by key; `password(slot)` gives what
    stands for a password, `literal` escapes public values (see kubernetes_literal)."""
    check_carried(DeliveryForm.STARTUP_ARGS, s.public, "settings")
    values = {k: literal(v) for k, v in s.public.items()}
    values |= {k: password(slot) for k, slot in s.passwords.items()}
    return [part for key in sorted(values) for part in ("-e", f"{key}={values[key]}")]


# -- EntrypointEnv -----------------------------------------------------------------------------


def entrypoint_covers(key: str) -> bool:
    return key in ENTRYPOINT_SETS or key.startswith(ENTRYPOINT_SETS_PREFIX)


def entrypoint_env(s: PicoSettings) -> dict[str, str]:
    """The public variables the entrypoint reads (passwords: TLS_KEYSTORE_PASSWORD and
    TLS_KEY_PASSWORD, added by the caller)."""
    if s.keystore is None:
        return {}
    env = {"TLS_ENABLED": "true", "TLS_KEYSTORE": s.keystore}
    if s.alias is not None:
        env["TLS_KEY_ALIAS"] = s.alias
    return env


ENTRYPOINT_PASSWORD_ENV = {STORE: "TLS_KEYSTORE_PASSWORD", KEY: "TLS_KEY_PASSWORD"}


def entrypoint_args(s: PicoSettings, *, literal: Callable[[str], str] = str) -> list[str]:
    """What the entrypoint does not set, as `-e key=value` pairs: the alias and
    require_clientauth first, then platform host and port, then the rest sorted."""
    rest = {k: v for k, v in s.public.items() if not entrypoint_covers(k)}
    check_carried(DeliveryForm.ENTRYPOINT_ENV, {**rest, KEYSTORE: s.keystore or ""}, "settings")
    first = [ALIAS, "pico.rcp.tls.require_clientauth", "pico.rcp.platform.host"]
    first += ["pico.rcp.platform.port"]
    order = [k for k in first if k in rest] + sorted(k for k in rest if k not in first)
    return [part for key in order for part in ("-e", f"{key}={literal(rest[key])}")]


# -- TopologyFiles -----------------------------------------------------------------------------

CELL_FILE, CONTAINER_FILE = "cell.conf", "container.conf"
HOCON_HEADER = "# Written by pico-tls-operator. Passwords: {how}.\n"


def hocon_string(text: str) -> str:
    """A quoted HOCON string (JSON syntax; the file is UTF-8), read back as `text`."""
    return json.dumps(text, ensure_ascii=False)


def hocon_env(variable: str) -> str:
    """An optional environment substitution, resolved when the registry is read."""
    if not variable.replace("_", "").isalnum():
        raise DeliveryError(f"{variable!r} is not an environment variable name")
    return "${?" + variable + "}"


def _hocon_block(entries: Mapping[str, str], header: str) -> str:
    lines = [f"  {hocon_string(k)} = {entries[k]}" for k in sorted(entries)]
    return header + "common {\n" + "".join(line + "\n" for line in lines) + "}\n"


def topology_files(s: PicoSettings, password: Callable[[str], str], how: str) -> dict[str, str]:
    """`cell.conf` and `container.conf` (HOCON); `password(slot)` is HOCON value text."""
    check_carried(DeliveryForm.TOPOLOGY_FILES, s.public, "settings")
    values = {k: hocon_string(v) for k, v in s.public.items()}
    values |= {k: password(slot) for k, slot in s.passwords.items()}
    header = HOCON_HEADER.format(how=how)
    return {
        CELL_FILE: _hocon_block({k: v for k, v in values.items() if k in CELL_KEYS}, header),
        CONTAINER_FILE: _hocon_block(
            {k: v for k, v in values.items() if k not in CELL_KEYS}, header
        ),
    }
