"""Every version of the objects of one kind in a namespace, in the order the API server reports
them (a `kubectl get --watch` stream): what a GitOps tool polling the object could ever see."""

from __future__ import annotations

import subprocess
import threading
from typing import Any

from pico_harness.support.leaks import json_objects


class ObjectVersions:
    def __init__(self, cluster: Any, kind: str, ns: str) -> None:
        self.versions: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        cmd = [cluster.kubectl_bin, f"--kubeconfig={cluster.kubeconfig}", "get", kind, "-n", ns]
        cmd += ["--watch", "--output-watch-events=false", "-o", "json"]
        self._process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self._thread = threading.Thread(target=self._read, daemon=True, name=f"watch-{kind}")
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for obj in json_objects(self._process.stdout):
            with self._lock:
                self.versions.append(obj)

    def of(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [v for v in self.versions if v["metadata"]["name"] == name]

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)
        self._thread.join(10)
