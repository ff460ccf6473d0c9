"""Watches of single objects by name: the user's Secrets a Platform references. A watch with a
field selector makes the API send that one object and no other."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pico_tls.kube.kinds import METADATA_LIST, METADATA_WATCH, SECRET

if TYPE_CHECKING:
    from pico_tls.kube.client import Kube

WATCH_SECONDS = 60  # a watch request's server-side timeout: how late a stop may be noticed
WATCH_RETRY_SECONDS = 2.0


def watch_one(
    kube: Kube, namespace: str, name: str, stop: threading.Event, changed: Callable[[], None]
) -> None:
    """Call `changed` whenever the Secret `name` is created, edited or deleted, and once after
    every (re)list, until `stop` is set; errors are retried with a delay."""
    selector = ("fieldSelector", f"metadata.name={name}")
    path = SECRET.path(namespace)
    while not stop.is_set():
        try:
            listed = kube.request("GET", path, query=[selector], accept=METADATA_LIST)
            changed()
            version = str((listed.get("metadata") or {}).get("resourceVersion", ""))
            query = [
                selector,
                ("watch", "true"),
                ("resourceVersion", version),
                ("timeoutSeconds", str(WATCH_SECONDS)),
                ("allowWatchBookmarks", "false"),
            ]
            events = kube.stream(path, query, accept=METADATA_WATCH, timeout=WATCH_SECONDS + 30)
            for event in events:
                if stop.is_set() or event.get("type") == "ERROR":  # 410 Gone: list again
                    break
                changed()
        except Exception:  # a dropped connection, the API restarting: list again
            stop.wait(WATCH_RETRY_SECONDS)
