"""`pico-tls desktop-key`, pure: the Desktop Launcher steps with the user's file names, and
the warnings that tell them when to fetch the key again."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pico_tls.ctl.table import day, parse_time


def launcher_steps(key_file: str, password_file: str | None, platform: str, store_type: str) -> str:
    """The seed's steps for the Desktop Launcher (Instance Settings, Security, Client Key,
    Import Key From File), for these files."""
    password = (
        f"the password in {password_file} (keep that file private)"
        if password_file
        else "the password printed above"
    )
    return "\n".join(
        [
            "Import the key in the Desktop Launcher:",
            f"  1. Copy {key_file} ({store_type} keystore) to the host that runs the Desktop "
            "Launcher.",
            "  2. Open the Desktop Launcher.",
            f"  3. Right-click the instance of Platform {platform} and select Instance Settings;",
            "     select the Security tab.",
            "  4. Right-click the text field under Client Key and select Import Key From File.",
            f"  5. Select {key_file}; when asked for its password, give {password}.",
        ]
    )


def warnings(
    desktop: Mapping[str, Any],
    platform: Mapping[str, Any] | None,
    now: datetime,
    soon: timedelta,
    *,
    readable: bool = True,
) -> list[str]:
    """Why this key may soon stop working: renewal due, a CA rotation, a desktop not Ready
    (`readable`: False when the user may not read the Platform, so it may well exist)."""
    out: list[str] = []
    status = desktop.get("status") or {}
    name = desktop["metadata"]["name"]
    renewal = status.get("renewalTime")
    if renewal and parse_time(renewal) - now <= soon:
        out.append(
            f"the certificate of this key is renewed at {day(parse_time(renewal))}: "
            f"run `pico-tls desktop-key {name}` again after that and import the new file"
        )
    rotation = ((platform or {}).get("status") or {}).get("caRotation")
    if rotation:
        out.append(
            f"Platform {(platform or {})['metadata']['name']} is rotating its CA (phase "
            f"{rotation.get('phase')}): once `pico-tls status` shows no CA rotation, fetch "
            "this key again and re-import it (one fetched before may trust the old CA only)"
        )
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") != "True":
        why = f"{ready.get('reason')}: {ready.get('message')}" if ready else "no status yet"
        out.append(f"DesktopClient {name} is not Ready ({why}); the Platform may refuse it")
    if platform is None and readable:
        out.append("its Platform does not exist: nothing will accept this key")
    return out
