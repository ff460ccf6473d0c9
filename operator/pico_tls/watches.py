"""Watches of the user Secrets a platform reads (its CA, its passwords), one per name.

The operator watches Secrets with a server-side label selector (only its own), so the user's
Secrets need watches of their own: one field-selector watch per referenced name, started when a
pass first reads the Secret and stopped when no platform reads it any more. Unrelated Secrets
never reach the operator.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection

from pico_tls.kube import Kube

log = logging.getLogger(__name__)

SecretKey = tuple[str, str]  # (namespace, name)


class SecretWatches:
    """One watch thread per followed Secret; `on_change(namespace, name)` on every change."""

    def __init__(self, kube: Kube, on_change: Callable[[str, str], None]) -> None:
        self._kube = kube
        self._on_change = on_change
        self._stops: dict[SecretKey, threading.Event] = {}
        self._lock = threading.Lock()

    def follow(self, wanted: Collection[SecretKey]) -> None:
        """Watch exactly the Secrets in `wanted`: start the new ones, stop the rest."""
        with self._lock:
            for key in set(self._stops) - set(wanted):
                self._stops.pop(key).set()
                log.info("stopped watching Secret %s/%s", *key)
            for key in set(wanted) - set(self._stops):
                self._stops[key] = self._start(key)
                log.info("watching Secret %s/%s (read by a platform)", *key)

    def followed(self) -> set[SecretKey]:
        with self._lock:
            return set(self._stops)

    def stop_all(self) -> None:
        self.follow(())

    def _start(self, key: SecretKey) -> threading.Event:
        stop = threading.Event()
        namespace, name = key

        def changed() -> None:
            self._on_change(namespace, name)

        thread = threading.Thread(
            target=self._kube.watch_secret,
            args=(namespace, name, stop, changed),
            name=f"watch-secret-{namespace}/{name}",
            daemon=True,
        )
        thread.start()
        return stop
