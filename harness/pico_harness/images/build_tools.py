"""Running the build's commands (buildah, debootstrap, runc), their output on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def log(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def run(*args: str, capture: bool = False) -> str:
    """Run a command (output to stderr unless captured); raise with its tail on failure."""
    proc = subprocess.run(
        list(args),
        stdout=subprocess.PIPE if capture else sys.stderr,
        stderr=subprocess.PIPE if capture else sys.stderr,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or "")[-4000:] if capture else "(see the output above)"
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(args[:5])} ...\n{tail}")
    return proc.stdout if capture else ""


def in_storage(ref: str) -> bool:
    """True when buildah's storage holds the image ``ref``."""
    proc = subprocess.run(
        ["buildah", "inspect", "--type", "image", ref], capture_output=True, check=False
    )
    return proc.returncode == 0


def image_config(ref: str) -> dict[str, Any]:
    """The image's OCI config (Env, Entrypoint, Cmd, User, WorkingDir)."""
    data = json.loads(run("buildah", "inspect", "--type", "image", ref, capture=True))
    config: dict[str, Any] = data.get("OCIv1", {}).get("config", {}) or {}
    return config
