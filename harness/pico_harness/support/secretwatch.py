"""Every version of some Secrets, in the order the API server reports them (kubectl watch)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence
from typing import Any

from pico_harness.support.leaks import json_objects


class SecretVersions:
    """Every version of the watched Secrets' data, in order, from a `kubectl get -w` stream."""

    def __init__(self, cluster: Any, ns: str, names: Sequence[str]) -> None:
        self.versions: dict[str, list[dict[str, str]]] = {name: [] for name in names}
        # (name, version index) in the order the API server reported them
        self.order: list[tuple[str, int]] = []
        self._process = subprocess.Popen(
            [
                cluster.kubectl_bin,
                f"--kubeconfig={cluster.kubeconfig}",
                "get",
                "secrets",
                "-n",
                ns,
                "--watch",
                "--output-watch-events=false",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for obj in json_objects(self._process.stdout):
            name = obj.get("metadata", {}).get("name")
            if name in self.versions:
                data = obj.get("data") or {}
                seen = self.versions[name]
                if not seen or seen[-1] != data:
                    seen.append(data)
                    self.order.append((name, len(seen) - 1))

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)
        self._thread.join(10)
