"""A folder as data, for tests that must prove a run left it untouched."""

from __future__ import annotations

import stat
from pathlib import Path


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every path below root with its mode and content: equal snapshots mean an untouched DIR."""
    out: dict[str, tuple[int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        out[str(path.relative_to(root))] = (mode, path.read_bytes() if path.is_file() else b"")
    return out
