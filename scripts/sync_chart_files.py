"""Copies what the Helm chart shares with the rest of the project into its files/ folder (Helm
reads no file outside the chart): the CRDs of crds/ and the admission policy of manifests/base/.
tests/unit/test_chart.py fails while a copy is stale.

    python scripts/sync_chart_files.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHART_FILES = ROOT / "charts" / "pico-tls-operator" / "files"


def sources() -> dict[Path, Path]:
    """Copy in the chart -> its one source."""
    out = {CHART_FILES / "crds" / f.name: f for f in sorted((ROOT / "crds").glob("*.yaml"))}
    policy = ROOT / "manifests" / "base" / "admission-policy.yaml"
    out[CHART_FILES / policy.name] = policy
    return out


def stale() -> list[Path]:
    """Copies that differ from their source, and files in the chart's copy with no source."""
    wanted = sources()
    out = [c for c, s in wanted.items() if not c.exists() or c.read_bytes() != s.read_bytes()]
    extra = [p for p in (CHART_FILES / "crds").glob("*") if p not in wanted]
    return sorted(out + extra)


def sync() -> list[Path]:
    changed = stale()
    wanted = sources()
    for path in changed:
        if path in wanted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(wanted[path].read_bytes())
        else:
            path.unlink()
    return changed


if __name__ == "__main__":
    for path in sync():
        print(f"updated {path.relative_to(ROOT)}", file=sys.stderr)
