"""The Debian mirror this machine's apt already uses, and a minimal Debian root file system.

The mirror is never written into the project: it is read from ``/etc/apt/sources.list`` and
``/etc/apt/sources.list.d/*`` (one-line ``deb`` entries and deb822 ``.sources`` files), taking the
first source of the suite (default: the machine's own codename) with component ``main``.
``PICO_TLS_DEBIAN_MIRROR`` overrides it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

APT_DIR = Path("/etc/apt")


def codename() -> str:
    os_release = Path("/etc/os-release")
    if os_release.is_file():
        match = re.search(r"^VERSION_CODENAME=\"?(\w+)", os_release.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    return "bookworm"


def _one_line_sources(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    out = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 4 and words[0] == "deb":
            out.append(([words[1]], [words[2]], words[3:]))
    return out


def _deb822_sources(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    out = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            entry = (fields.get("uris", []), fields.get("suites", []), fields.get("components", []))
            out.append(entry)
    return out


def mirror(suite: str | None = None, apt_dir: Path = APT_DIR) -> str:
    """The URI apt uses for ``suite`` main on this machine."""
    override = os.environ.get("PICO_TLS_DEBIAN_MIRROR")
    if override:
        return override
    suite = suite or codename()
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        entries = _deb822_sources(text) if path.suffix == ".sources" else _one_line_sources(text)
        for uris, suites, components in entries:
            if suite in suites and "main" in components and uris:
                return uris[0].rstrip("/")
    raise RuntimeError(
        f"no apt source for {suite} main in {apt_dir}: "
        "set PICO_TLS_DEBIAN_MIRROR to a Debian mirror"
    )
