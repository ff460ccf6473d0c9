"""The operator's own configuration, from `PICO_TLS_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorConfig:
    settle_seconds: float = 1.0
    resync_seconds: float = 600.0
    workers: int = 4
    stats_file: str | None = None
    metrics_port: int = 9402  # 0: no metrics endpoint

    @classmethod
    def from_env(cls) -> OperatorConfig:
        env = os.environ
        return cls(
            settle_seconds=float(env.get("PICO_TLS_SETTLE_SECONDS", cls.settle_seconds)),
            resync_seconds=float(env.get("PICO_TLS_RESYNC_SECONDS", cls.resync_seconds)),
            workers=int(env.get("PICO_TLS_WORKERS", cls.workers)),
            stats_file=env.get("PICO_TLS_STATS_FILE") or None,
            metrics_port=int(env.get("PICO_TLS_METRICS_PORT", cls.metrics_port)),
        )
