"""A private containerd (its own root, state and socket in a temporary folder; CRI plugin off)
to prove that the image tars import with ``ctr -n k8s.io images import`` and run as imported.

    with PrivateContainerd(tmp_path) as ctrd:
        ctrd.import_tar(tar)                       # -> the image names it holds
        ctrd.ctr("run", "--rm", ..., ref, "id", ...)

Started and stopped by pid; its tasks are killed and removed on exit.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import TracebackType

from pico_harness.proc import ManagedProcess

NAMESPACE = "k8s.io"
CONFIG = """version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{socket}"
"""


class PrivateContainerd:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "containerd.sock"
        self._proc: ManagedProcess | None = None

    def start(self) -> PrivateContainerd:
        root, state = self.directory / "root", self.directory / "state"
        for d in (root, state):
            d.mkdir(parents=True, exist_ok=True)
        config = self.directory / "config.toml"
        config.write_text(CONFIG.format(root=root, state=state, socket=self.socket))
        log_path = self.directory / "containerd.log"
        log_path.write_bytes(b"")  # a fresh log per start
        self._proc = ManagedProcess(
            ["containerd", "--config", str(config)],
            log_path=log_path,
            stdin=None,
            new_session=True,
            grace=20,
            kill_wait=10,
        ).start()
        self._proc.wait_ready(
            lambda: self.socket.exists() and self.ctr_ok("version"),
            30,
            on_exit=lambda code: RuntimeError(f"containerd exited: {self.log_tail()}"),
            on_timeout=lambda: TimeoutError(f"containerd not up in 30s: {self.log_tail()}"),
        )
        return self

    def log_tail(self) -> str:
        return (self.directory / "containerd.log").read_text(errors="replace")[-3000:]

    def ctr_command(self, *args: str) -> list[str]:
        return ["ctr", "--address", str(self.socket), "--namespace", NAMESPACE, *args]

    def ctr(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run(
            self.ctr_command(*args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args[:3])} failed: {proc.stderr}{proc.stdout}")
        return proc.stdout

    def ctr_ok(self, *args: str) -> bool:
        proc = subprocess.run(self.ctr_command(*args), capture_output=True, check=False)
        return proc.returncode == 0

    def import_tar(self, tar: Path) -> list[str]:
        """Import one image tar; returns the image names containerd now lists."""
        self.ctr("images", "import", str(tar))
        return self.ctr("images", "ls", "-q").split()

    def stop(self) -> None:
        if self._proc is None:
            return
        for task in self._lines("tasks", "ls", "-q"):
            subprocess.run(self.ctr_command("tasks", "kill", "-s", "SIGKILL", task),
                           capture_output=True, check=False)  # fmt: skip
        time.sleep(0.5)
        for task in self._lines("tasks", "ls", "-q"):
            subprocess.run(self.ctr_command("tasks", "rm", "-f", task), capture_output=True,
                           check=False)  # fmt: skip
        for container in self._lines("containers", "ls", "-q"):
            subprocess.run(self.ctr_command("containers", "rm", container), capture_output=True,
                           check=False)  # fmt: skip
        self._proc.stop()
        self._unmount_leftovers()
        self._proc = None

    def _lines(self, *args: str) -> list[str]:
        proc = subprocess.run(self.ctr_command(*args), capture_output=True, text=True, check=False)
        return proc.stdout.split() if proc.returncode == 0 else []

    def _unmount_leftovers(self) -> None:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        ours = [m.split()[1] for m in mounts if m.split()[1].startswith(str(self.directory))]
        for target in sorted(ours, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)

    def __enter__(self) -> PrivateContainerd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
