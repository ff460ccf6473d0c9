"""The real node of the local cluster: containerd (+ runc, CNI bridge), kubelet, kube-proxy
(iptables mode) and CoreDNS, as processes of the run, with all state in its work folder.

``LocalCluster(real_node=True)`` drives it: `prepare` (bridge, sysctls, drop rules; before the
apiserver, which listens on the bridge address) and then `start` once the control plane is
ready; `stop` drains the node and removes every process, mount, netns, link and rule it made.

Images are never pulled: `import_image(tar)` loads an OCI or docker-archive tar into the node's
containerd (``ctr -n k8s.io images import``); the pause image is built here (ociimage.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from . import nodeconfig, nodeimages, nodenet
from .nodeconfig import NODE_LABEL, NODE_NAME
from .nodeimages import import_image
from .ociimage import OciImage, pause_image

__all__ = ["NODE_LABEL", "NODE_NAME", "RealNode", "import_image", "real_node_unsupported"]

if TYPE_CHECKING:
    from pico_harness.cluster.localcluster import LocalCluster

NODE_IP = nodenet.NODE_IP
CNI_BIN_DIR = Path(os.environ.get("PICO_TLS_CNI_DIR", "/usr/lib/cni"))
HOST_COMMANDS = ("containerd", "ctr", "runc", "iptables", "conntrack")
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")


def missing_host_tools() -> list[str]:
    """What install-node-deps.sh (beside this module) would install, or [] when all is there."""
    import shutil

    missing = [c for c in HOST_COMMANDS if shutil.which(c) is None]
    missing += [f"{CNI_BIN_DIR}/{p}" for p in CNI_PLUGINS if not (CNI_BIN_DIR / p).exists()]
    if os.geteuid() != 0:
        missing.append("root")
    return missing


def real_node_unsupported() -> str | None:
    """Why this machine cannot run the real node (None when it can): for callers that fall
    back to kwok's simulated pods and must say why."""
    if not sys.platform.startswith("linux"):
        return "the real node needs Linux"
    missing = missing_host_tools()
    if missing:
        return (
            f"missing {', '.join(missing)} "
            "(harness/pico_harness/cluster/install-node-deps.sh, as root)"
        )
    if not Path("/proc/sys/net/bridge").is_dir():
        return "no bridge netfilter (/proc/sys/net/bridge): load the br_netfilter module"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "no overlay file system in this kernel (containerd's snapshotter needs it)"
    cgroups = Path("/sys/fs/cgroup")
    if not ((cgroups / "memory").is_dir() or (cgroups / "cgroup.controllers").exists()):
        return "no cgroup hierarchy mounted at /sys/fs/cgroup"
    return None


class RealNode:
    """One real node; `cluster` gives the work folder, CA, binaries and process spawning."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.net = nodenet.HostNetwork()
        self.dir = cluster.work_dir / "node"
        self.socket = self.dir / "containerd.sock"
        self.pause: OciImage | None = None
        self.startup_seconds: float | None = None

    # -- phases ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Before the apiserver starts: the bridge it listens on, sysctls, drop rules."""
        reason = real_node_unsupported()
        if reason:
            raise RuntimeError(f"cannot run the real node: {reason}")
        self.dir.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket)) > 100:  # unix socket paths are limited to 108 bytes
            raise RuntimeError(f"work folder path too long for a unix socket: {self.socket}")
        nodenet.acquire_node_lock()  # held from here until the network's teardown
        try:
            clean_stale_nodes()
            self.net.setup()
        finally:
            nodenet.release_node_lock()  # setup took its own hold

    def start(self, deadline: float) -> None:
        began = time.monotonic()
        self._apply_rbac_and_services()
        self._write_cni_config()
        self.pause = pause_image(self.cluster.bin_dir)
        self._start_containerd(deadline)
        self.import_image(self.pause.path)
        self._start_coredns()
        self._start_kube_proxy()
        self._start_kubelet()
        self._wait(deadline)
        nodenet.ensure_drop_rules_first()
        self.startup_seconds = time.monotonic() - began

    def stop(self, timeout: float = 60) -> None:
        """Drains the node (its pods end through kubelet, so their sandboxes and networks go),
        stops its processes, then removes whatever is left."""
        with contextlib.suppress(Exception):
            self._drain(timeout)
        for name in ("kubelet", "kube-proxy", "coredns"):
            self.cluster.stop_component(name)
        netns = sorted(set(self._sandbox_netns()) | set(bundle_netns(self.dir)))
        self._kill_shims()
        self.cluster.stop_component("containerd")
        self._kill_shims()
        nodenet.unmount_under([self.dir])
        self.net.teardown(netns)
        self._remove_log_links()
        _remove_cgroups("kubepods")

    # -- images ------------------------------------------------------------------------------

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return nodeimages.ctr(self.socket, *args, check=check)

    def images(self) -> set[str]:
        return nodeimages.images(self.socket)

    def import_image(self, tar: Path) -> list[str]:
        """See nodeimages.import_image: an OCI or docker-archive tar into this containerd."""
        return nodeimages.import_image(self.socket, tar)

    # -- configuration -----------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.dir / name

    def _kubeconfig(self, user: str, groups: tuple[str, ...] = ()) -> Path:
        return self.cluster.client_kubeconfig(user, groups)

    def _apply_rbac_and_services(self) -> None:
        port = self.cluster.server.rsplit(":", 1)[1]
        docs = yaml.safe_load_all(
            (Path(__file__).parent / "realnode-objects.yaml")
            .read_text()
            .replace("APISERVER_IP", NODE_IP)
            .replace("APISERVER_PORT", port)
            .replace("CLUSTER_DNS_IP", nodenet.CLUSTER_DNS_IP)
            .replace("NODE_NAME", NODE_NAME)
        )
        self.cluster.access.apply([d for d in docs if d])

    def _write_cni_config(self) -> None:
        net_d = self._path(nodeconfig.CNI_CONF_DIR)
        net_d.mkdir(exist_ok=True)
        conf = nodeconfig.cni_conflist(self.dir)
        (net_d / "10-picotls.conflist").write_text(json.dumps(conf, indent=2) + "\n")

    def _start_containerd(self, deadline: float) -> None:
        assert self.pause is not None
        conf = self._path("containerd.toml")
        conf.write_text(
            nodeconfig.containerd_toml(
                self.dir,
                self.socket,
                sandbox_image=self.pause.name,
                cni_bin_dir=CNI_BIN_DIR,
                restrict_oom=not _can_lower_oom_score(),
                runc=os.environ.get("PICO_TLS_RUNC", "runc"),
            )
        )
        self.cluster.spawn_component("containerd", ["containerd", f"--config={conf}"])

        def serving() -> bool:
            return self.ctr("version", check=False).returncode == 0

        self.cluster.poll("containerd socket", serving, deadline, "containerd")

    def _start_coredns(self) -> None:
        self.dns_ready_port, health_port = _free_port(), _free_port()
        corefile = self._path("Corefile")
        kubeconfig = self._kubeconfig("system:coredns")
        corefile.write_text(nodeconfig.corefile(kubeconfig, self.dns_ready_port, health_port))
        self.cluster.spawn_component(
            "coredns",
            [str(self.cluster.bin_dir / "coredns"), "-conf", str(corefile)],
            ports=(self.dns_ready_port, health_port),
        )

    def _start_kube_proxy(self) -> None:
        self.proxy_health_port, metrics_port = _free_port(), _free_port()
        kubeconfig = self._kubeconfig("system:kube-proxy")
        path = self._path("kube-proxy.yaml")
        config = nodeconfig.kube_proxy_config(kubeconfig, self.proxy_health_port, metrics_port)
        path.write_text(yaml.safe_dump(config))
        self.cluster.spawn_component(
            "kube-proxy",
            [str(self.cluster.bin_dir / "kube-proxy"), f"--config={path}", "--v=1"],
            ports=(self.proxy_health_port, metrics_port),
        )

    def _start_kubelet(self) -> None:
        ca = self.cluster.ca
        assert ca is not None
        serving = ca.issue(NODE_NAME, ip_addresses=[NODE_IP], dns_names=[NODE_NAME], server=True)
        self._path("kubelet.crt").write_bytes(serving.cert_pem)
        key = self._path("kubelet.key")
        key.write_bytes(serving.key_pem)
        key.chmod(0o600)
        self.kubelet_health_port = _free_port()
        config = nodeconfig.kubelet_config(
            self.dir, self.socket, self.cluster.work_dir / "ca.crt", self.kubelet_health_port
        )
        path = self._path("kubelet.yaml")
        path.write_text(yaml.safe_dump(config))
        kubeconfig = self._kubeconfig(f"system:node:{NODE_NAME}", ("system:nodes",))
        self.cluster.spawn_component(
            "kubelet",
            nodeconfig.kubelet_args(self.dir, self.cluster.bin_dir / "kubelet", path, kubeconfig),
            ports=(self.kubelet_health_port,),
        )

    # -- readiness and stop ------------------------------------------------------------------

    def _wait(self, deadline: float) -> None:
        def node_ready() -> bool:
            node = self.cluster.access.get_json("node", NODE_NAME)
            conditions = node.get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        self.cluster.poll("real node Ready", node_ready, deadline, "kubelet")
        self.cluster.poll(
            "CoreDNS ready",
            _http_ok(f"http://127.0.0.1:{self.dns_ready_port}/ready"),
            deadline,
            "coredns",
        )
        self.cluster.poll(
            "kube-proxy healthy",
            _http_ok(f"http://127.0.0.1:{self.proxy_health_port}/healthz"),
            deadline,
            "kube-proxy",
        )

    def _drain(self, timeout: float) -> None:
        """Cordons the node and deletes its pods, waiting until kubelet has ended them."""
        access = self.cluster.access
        access.kubectl("cordon", NODE_NAME, check=False, timeout=15)
        selector = f"spec.nodeName={NODE_NAME}"
        access.kubectl(
            "delete",
            "pods",
            "-A",
            f"--field-selector={selector}",
            "--grace-period=1",
            "--wait=false",
            check=False,
            timeout=30,
        )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pods = access.get_json("pods", "-A", f"--field-selector={selector}")["items"]
            if not pods and not self._running_tasks():
                return
            time.sleep(0.5)

    def _sandbox_netns(self) -> list[str]:
        """Names (in /run/netns) of the network namespaces of this containerd's containers."""
        names: list[str] = []
        if not self.socket.exists():
            return names
        for cid in self.ctr("containers", "ls", "-q", check=False).stdout.split():
            info = self.ctr("containers", "info", cid, check=False).stdout
            with contextlib.suppress(ValueError, KeyError, TypeError):
                for ns in json.loads(info)["Spec"]["linux"]["namespaces"]:
                    if ns.get("type") == "network" and ns.get("path", "").startswith(
                        "/var/run/netns/"
                    ):
                        names.append(ns["path"].rsplit("/", 1)[1])
        return sorted(set(names))

    def _running_tasks(self) -> list[str]:
        out = self.ctr("tasks", "ls", "-q", check=False).stdout
        return out.split()

    def _kill_shims(self) -> None:
        """containerd-shim processes of this node's containerd (they run in their own session,
        so stopping containerd leaves them): found by the socket address in their command line."""
        marker = str(self.socket).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and marker in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)

    def _remove_log_links(self) -> None:
        """kubelet links container logs into /var/log/containers; remove links into our dir."""
        base = Path("/var/log/containers")
        if not base.is_dir():
            return
        for link in base.iterdir():
            with contextlib.suppress(OSError):
                if link.is_symlink() and str(self.dir) in os.readlink(link):
                    link.unlink()

    def rss_names(self) -> tuple[str, ...]:
        return ("containerd", "kubelet", "kube-proxy", "coredns")


# --------------------------------------------------------------------------------------------
# what a killed run leaves: shims and containers keep running without their containerd


def _processes() -> Iterator[tuple[int, list[str]]]:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
                yield int(proc.name), argv


def stale_node_dirs() -> set[Path]:
    """Node folders whose containerd is gone while shims still serve it (found by the
    `-address <node dir>/containerd.sock` of containerd-shim command lines)."""
    shims: set[Path] = set()
    live: set[Path] = set()
    for _, argv in _processes():
        if argv and argv[0].endswith("containerd-shim-runc-v2") and "-address" in argv:
            address = argv[argv.index("-address") + 1]
            if address.endswith("/node/containerd.sock"):
                shims.add(Path(address).parent)
        if argv and argv[0].endswith("containerd"):
            live.update(Path(a.split("=", 1)[1]).parent for a in argv if a.startswith("--config="))
    return shims - live


def bundle_netns(node_dir: Path) -> list[str]:
    """Names (in /run/netns) of the network namespaces in the OCI bundles of a node's tasks."""
    names = []
    bundles = node_dir / "containerd-state" / "io.containerd.runtime.v2.task"
    for config in bundles.glob("*/*/config.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            for ns in json.loads(config.read_text())["linux"]["namespaces"]:
                path = ns.get("path", "") if ns.get("type") == "network" else ""
                if path.startswith(("/var/run/netns/", "/run/netns/")):
                    names.append(path.rsplit("/", 1)[1])
    return sorted(set(names))


def clean_stale_nodes() -> None:
    """Ends the shims and containers of killed runs' nodes, removes their network namespaces
    and mounts. Called under the node lock, so no live node of ours is among them."""
    stale = stale_node_dirs()
    for node_dir in stale:
        print(f"cleaning up the real node left in {node_dir}", file=sys.stderr)
        marker = str(node_dir)
        for pid, argv in list(_processes()):
            with contextlib.suppress(OSError):
                in_node = os.readlink(f"/proc/{pid}/root").startswith(marker)
                shim = "-address" in argv and argv[argv.index("-address") + 1].startswith(marker)
                if in_node or shim:
                    os.kill(pid, signal.SIGKILL)
        for name in bundle_netns(node_dir):
            nodenet.remove_netns(name)
        nodenet.unmount_under([node_dir])
    for name in nodenet.orphan_pod_netns():
        print(f"removing the network namespace {name} of a node that is gone", file=sys.stderr)
        nodenet.remove_netns(name)
    if stale:
        time.sleep(0.5)  # killed processes leave their cgroups
        _remove_cgroups("kubepods")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)

    return check


def _can_lower_oom_score() -> bool:
    """Whether this process may lower OOM scores (CAP_SYS_RESOURCE, bit 24)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 24 & 1)
    return False


def _remove_cgroups(name: str) -> None:
    """rmdir the cgroup `name` (deepest first) in every v1 hierarchy (or the v2 tree)."""
    root = Path("/sys/fs/cgroup")
    tops = [p / name for p in root.iterdir() if p.is_dir()] + [root / name]
    for top in tops:
        if not top.is_dir():
            continue
        dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for d in [*dirs, top]:
            with contextlib.suppress(OSError):
                d.rmdir()
