"""Small text helpers for the commands' output (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, kubectl style (three spaces apart)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def shorten(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def parse_time(text: str) -> datetime:
    """An RFC 3339 time of the API ("2026-12-05T10:00:00Z") as an aware datetime."""
    found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
