"""The pico `.properties` files: public ones for ConfigMaps, password ones for Secrets."""

from __future__ import annotations

from collections.abc import Mapping


def _escape(text: str) -> str:
    out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return out.replace("=", "\\=").replace(":", "\\:") if out else out


def render(properties: Mapping[str, str], header: str) -> str:
    """Java `.properties` text, keys sorted so equal content gives equal text."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [
        f"{_escape(k).replace(' ', chr(92) + ' ')}={_escape(v)}"
        for k, v in sorted(properties.items())
    ]
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


PUBLIC_HEADER = "Written by pico-tls-operator. Passwords are in the mounted Secret."
SECRET_HEADER = (
    "Written by pico-tls-operator. Plain-text passwords; the output of the vendor's\n"
    "`mzsh encryptpassword` may replace them."
)
