"""kubectl in one namespace with results as values, and minimal custom resource bodies
(shared by the CRD validation and delivery e2e tests)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

API_VERSION = "picotls.dev/v1alpha1"
IMAGE = "registry.example/pico:9.5"


class Kubectl:
    """kubectl in one namespace; results as (succeeded, combined output)."""

    def __init__(self, cluster: Any, namespace: str, folder: Path) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.folder = folder
        self.count = 0

    def run(self, *args: str) -> tuple[bool, str]:
        try:
            result = self.cluster.kubectl(*args)
        except subprocess.CalledProcessError as error:
            return False, _text(error.stdout) + _text(error.stderr)
        if isinstance(result, str | bytes):
            return True, _text(result)
        output = _text(getattr(result, "stdout", "")) + _text(getattr(result, "stderr", ""))
        return getattr(result, "returncode", 0) == 0, output

    def apply(self, body: Mapping[str, Any]) -> tuple[bool, str]:
        self.count += 1
        path = self.folder / f"resource-{self.count}.yaml"
        path.write_text(yaml.safe_dump(dict(body)), encoding="utf-8")
        return self.run("apply", "-n", self.namespace, "-f", str(path))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        ok, output = self.run("get", "-n", self.namespace, kind, name, "-o", "json")
        assert ok, output
        data: dict[str, Any] = json.loads(output[output.index("{") :])
        return data


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def platform(name: str = "mz", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Platform",
        "metadata": {"name": name},
        "spec": {"image": IMAGE, **spec},
    }


def container(name: str = "ec1", platform_name: str = "mz", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ExecutionContainer",
        "metadata": {"name": name},
        "spec": {"image": IMAGE, "platformRef": {"name": platform_name}, **spec},
    }


def desktop(name: str = "alice", platform_name: str = "mz", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "DesktopClient",
        "metadata": {"name": name},
        "spec": {"user": "alice", "platformRef": {"name": platform_name}, **spec},
    }
