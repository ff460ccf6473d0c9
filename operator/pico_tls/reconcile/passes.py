"""One reconcile pass over one platform group: what it read, wrote and decided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pico_tls.reconcile.carotation import Rotation


@dataclass
class Pass:
    namespace: str
    platform_name: str
    now: datetime
    writes: int = 0
    renewals: list[datetime] = field(default_factory=list)
    # What the group's objects look like now (read once per pass, updated as we write).
    secrets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    configmaps: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    services: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    workloads: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # CA rotation in force for this pass, and the one the next pass will use.
    rotation: Rotation | None = None
    next_rotation: Rotation | None = None
