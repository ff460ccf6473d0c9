"""Run an image the way a kubelet with ``readOnlyRootFilesystem: true`` would: runc, the image's
own user, entrypoint and environment, a read-only root, no network (a fresh, empty network
namespace), no capabilities. Used to verify the built images (buildah cannot make the root
read-only)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pico_harness.images.build_tools import image_config, run


@dataclass(frozen=True)
class Result:
    command: list[str]
    code: int
    output: str

    def expect(self, code: int, *texts: str) -> None:
        missing = [t for t in texts if t not in self.output]
        if self.code != code or missing:
            raise RuntimeError(
                f"image check failed: {self.command} exited {self.code} (wanted {code}), "
                f"missing {missing}; output:\n{self.output[-3000:]}"
            )


def _user(config: Mapping[str, object]) -> dict[str, int]:
    user = str(config.get("User") or "0")
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        raise RuntimeError(f"image user must be numeric uid[:gid] for runAsNonRoot, got {user!r}")
    return {"uid": int(uid), "gid": int(gid or uid)}


def _spec(
    bundle: Path, rootfs: str, args: list[str], env: list[str], config: dict[str, object]
) -> None:
    run("runc", "spec", "--bundle", str(bundle))
    spec_path = bundle / "config.json"
    spec = json.loads(spec_path.read_text())
    spec["root"] = {"path": rootfs, "readonly": True}
    process = spec["process"]
    process.update(
        terminal=False,
        args=args,
        env=env,
        cwd=str(config.get("WorkingDir") or "/"),
        user=_user(config),
        noNewPrivileges=True,
    )
    process["capabilities"] = {k: [] for k in process.get("capabilities", {})}
    spec["hostname"] = "image-check"
    spec_path.write_text(json.dumps(spec))


def run_read_only(
    ref: str,
    argv: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    override_entrypoint: bool = False,
    timeout: float = 120,
) -> Result:
    """Run ``ref`` (argv replaces the image's Cmd, or with ``override_entrypoint`` its whole
    command) and return its exit code and output."""
    config = image_config(ref)
    entrypoint = [] if override_entrypoint else list(config.get("Entrypoint") or [])
    args = entrypoint + (list(argv) or list(config.get("Cmd") or []))
    environment = list(config.get("Env") or []) + [f"{k}={v}" for k, v in (env or {}).items()]
    container = run("buildah", "from", "--quiet", "--pull=never", ref, capture=True).strip()
    try:
        rootfs = run("buildah", "mount", container, capture=True).strip()
        with tempfile.TemporaryDirectory(prefix="pico-image-check-") as bundle:
            _spec(Path(bundle), rootfs, args, environment, config)
            name = f"pico-image-check-{os.getpid()}"
            try:
                proc = subprocess.run(
                    ["runc", "run", "--bundle", bundle, name],
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
            finally:
                subprocess.run(
                    ["runc", "delete", "--force", name], capture_output=True, check=False
                )
        return Result(args, proc.returncode, proc.stdout + proc.stderr)
    finally:
        run("buildah", "umount", container, capture=True)
        run("buildah", "rm", container, capture=True)
