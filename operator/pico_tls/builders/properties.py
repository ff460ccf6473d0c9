"""The pico `.properties` files: public ones for ConfigMaps, password ones for Secrets.

The one escaper of the project: text written here reads back through Java's
`java.util.Properties.load(InputStream)` (ISO-8859-1) as exactly the keys and values given.
"""

from __future__ import annotations

from collections.abc import Mapping

# Characters `Properties.load` treats specially anywhere in a key or value.
_BACKSLASHED = {
    "\\": "\\\\",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
    "\f": "\\f",
    "=": "\\=",
    ":": "\\:",
    "#": "\\#",
    "!": "\\!",
}


def _utf16_units(text: str) -> list[int]:
    raw = text.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def _escape(text: str, *, all_spaces: bool) -> str:
    units = _utf16_units(text)
    inner = [i for i, unit in enumerate(units) if unit != 0x20] or [len(units)]
    out: list[str] = []
    for index, unit in enumerate(units):
        char = chr(unit)
        if char in _BACKSLASHED:
            out.append(_BACKSLASHED[char])
        elif char == " " and (all_spaces or not inner[0] < index < inner[-1]):
            out.append("\\ ")  # a key's spaces, a value's leading and trailing spaces
        elif 0x20 <= unit <= 0x7E:
            out.append(char)
        else:
            out.append(f"\\u{unit:04X}")  # control and non-ASCII characters, UTF-16 units
    return "".join(out)


def escape_key(key: str) -> str:
    return _escape(key, all_spaces=True)


def escape_value(value: str) -> str:
    return _escape(value, all_spaces=False)


def render(properties: Mapping[str, str], header: str) -> str:
    """Java `.properties` text (pure ASCII), keys sorted so equal content gives equal text."""
    lines = [f"# {escape_value(line)}" for line in header.splitlines()]
    lines += [f"{escape_key(k)}={escape_value(v)}" for k, v in sorted(properties.items())]
    return "\n".join(lines) + "\n"


def rcp_properties(
    *,
    keystore_path: str | None,
    alias: str | None,
    require_client_auth: bool,
    platform_host: str | None = None,
    platform_port: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The public RCP properties of one pico instance (never a password)."""
    props = dict(extra or {})
    if keystore_path is not None:
        props["pico.rcp.tls.keystore"] = keystore_path
        props["pico.rcp.tls.require_clientauth"] = "true" if require_client_auth else "false"
        if alias is not None:
            props["pico.rcp.tls.keystore.alias"] = alias
    if platform_host is not None:
        props["pico.rcp.platform.host"] = platform_host
    if platform_port is not None:
        props["pico.rcp.platform.port"] = str(platform_port)
    return props


def password_properties(store_password: str, key_password: str) -> dict[str, str]:
    return {
        "pico.rcp.tls.keystore.password": store_password,
        "pico.rcp.tls.key.password": key_password,
    }


def httpd_password_properties(store_password: str, key_password: str) -> dict[str, str]:
    """The Web UI's password properties (same keystore as RCP)."""
    return {
        "mz.httpd.security.keystore.password": store_password,
        "mz.httpd.security.key.password": key_password,
    }


PUBLIC_HEADER = "Written by pico-tls-operator. Passwords are in the mounted Secret."
SECRET_HEADER = (
    "Written by pico-tls-operator. Plain-text passwords; the output of the vendor's\n"
    "`mzsh encryptpassword` may replace them."
)
BASE64_SECRET_HEADER = "Written by pico-tls-operator. Passwords base64-encoded (UTF-8)."
