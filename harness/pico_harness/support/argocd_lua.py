"""Runs an Argo CD health check (docs/argocd-health/*.lua) in a real Lua interpreter (Debian's
lua5.4, install-monitoring-deps.sh) on an object, as Argo CD does: the object as the
global `obj`, the script's returned table read for `status` and `message`."""

from __future__ import annotations

import shutil
import string
import subprocess
from pathlib import Path
from typing import Any

from pico_harness import REPO_ROOT

SCRIPTS = REPO_ROOT / "docs" / "argocd-health"
SAFE = frozenset(string.ascii_letters + string.digits + " .,:;/-_()=")
SCRIPT_OF_KIND = {
    "Platform": SCRIPTS / "platform.lua",
    "ExecutionContainer": SCRIPTS / "member.lua",
    "DesktopClient": SCRIPTS / "member.lua",
}


def lua_interpreter() -> str:
    for name in ("lua5.4", "lua5.3", "lua"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no Lua interpreter: install-monitoring-deps.sh installs lua5.4")


def lua_value(value: Any) -> str:
    """`value` (JSON-like) as a Lua expression: objects as tables keyed by string, lists as
    sequences (1-based, as Argo CD's JSON decoding gives them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # every byte outside a safe ASCII set as a \ddd escape
        escaped = (chr(b) if chr(b) in SAFE else f"\\{b:03d}" for b in value.encode())
        return '"' + "".join(escaped) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    if isinstance(value, dict):
        items = (f"[{lua_value(str(k))}] = {lua_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"no Lua form for {type(value).__name__}")


def health(obj: dict[str, Any], script: Path | None = None) -> tuple[str, str]:
    """(status, message) the health check returns for `obj`."""
    source = (script or SCRIPT_OF_KIND[obj["kind"]]).read_text()
    program = (
        f"obj = {lua_value(obj)}\n"
        f"local hs = (function()\n{source}\nend)()\n"
        'io.write(hs.status, "\\n", hs.message or "")\n'
    )
    result = subprocess.run(
        [lua_interpreter(), "-"], input=program, capture_output=True, text=True, timeout=30
    )
    if result.returncode != 0:
        raise RuntimeError(f"lua failed: {result.stderr.strip()}")
    status, _, message = result.stdout.partition("\n")
    return status, message
