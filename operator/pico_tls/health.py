"""The probe endpoints, on `PICO_TLS_HEALTH_ADDRESS` (host:port; unset: none).

`/healthz` (liveness): 200 while the event loop answers, unless this replica lost the Lease and
passes of that term still run past a lease duration (then 503: kubelet restarts it).
`/readyz` (readiness): 200 once the operator has started, leader or standby alike (a standby
is healthy). Both bodies say who this replica is and whether it leads (no secret in them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict

from aiohttp import web

from pico_tls.leader import Leadership

log = logging.getLogger(__name__)


class Health:
    def __init__(self, leadership: Leadership, alive: Callable[[], bool]) -> None:
        self.leadership = leadership
        self.alive = alive  # False: stuck writing after losing the Lease
        self.ready = False  # set once startup is done
        self._runner: web.AppRunner | None = None

    def _answer(self, ok: bool, why: str) -> web.Response:
        body = {"ok": ok, "reason": why, **asdict(self.leadership.status())}
        return web.Response(
            status=200 if ok else 503, text=json.dumps(body), content_type="application/json"
        )

    async def livez(self, _: web.Request) -> web.Response:
        alive = self.alive()
        return self._answer(alive, "" if alive else "lost the Lease, passes still running")

    async def readyz(self, _: web.Request) -> web.Response:
        return self._answer(self.ready, "" if self.ready else "starting")

    async def start(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        app = web.Application()
        app.add_routes([web.get("/healthz", self.livez), web.get("/readyz", self.readyz)])
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host or "0.0.0.0", int(port)).start()
        log.info("probes served on http://%s/healthz and /readyz", address)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
