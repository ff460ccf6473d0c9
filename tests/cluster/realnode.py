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
import tarfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

try:  # imported as tests.cluster.realnode
    from . import nodenet
    from .ociimage import OciImage, pause_image
except ImportError:  # beside localcluster.py run as a script
    import nodenet  # type: ignore[no-redef]
    from ociimage import OciImage, pause_image  # type: ignore[no-redef]

if TYPE_CHECKING:
    from tests.cluster.localcluster import LocalCluster

BRIDGE = nodenet.BRIDGE
NODE_IP = nodenet.NODE_IP

NODE_NAME = "real-node"
NODE_LABEL = ("picotls.dev/node", "real")
CNI_BIN_DIR = Path(os.environ.get("PICO_TLS_CNI_DIR", "/usr/lib/cni"))
HOST_COMMANDS = ("containerd", "ctr", "runc", "iptables", "conntrack")
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
KUBELET_PORT = 10250  # on the bridge address only


def missing_host_tools() -> list[str]:
    """What tests/cluster/install-node-deps.sh would install, or [] when all is there."""
    import shutil

    missing = [c for c in HOST_COMMANDS if shutil.which(c) is None]
    missing += [f"{CNI_BIN_DIR}/{p}" for p in CNI_PLUGINS if not (CNI_BIN_DIR / p).exists()]
    if os.geteuid() != 0:
        missing.append("root")
    return missing


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
        missing = missing_host_tools()
        if missing:
            raise RuntimeError(
                f"the real node needs {', '.join(missing)}: run tests/cluster/install-node-deps.sh"
                " as root"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket)) > 100:  # unix socket paths are limited to 108 bytes
            raise RuntimeError(f"work folder path too long for a unix socket: {self.socket}")
        self.net.setup()

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
        netns = self._sandbox_netns()
        self._kill_shims()
        self.cluster.stop_component("containerd")
        self._kill_shims()
        nodenet.unmount_under([self.dir])
        self.net.teardown(netns)
        self._remove_log_links()
        _remove_cgroups("kubepods")

    # -- images ------------------------------------------------------------------------------

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return ctr(self.socket, *args, check=check)

    def images(self) -> set[str]:
        return images(self.socket)

    def import_image(self, tar: Path) -> list[str]:
        return import_image(self.socket, tar)

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
        conf = {
            "cniVersion": "1.0.0",
            "name": "picotls",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": nodenet.NODE_POD_CIDR, "gateway": NODE_IP}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self._path("cni-ipam")),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        net_d = self._path("cni-net.d")
        net_d.mkdir(exist_ok=True)
        (net_d / "10-picotls.conflist").write_text(json.dumps(conf, indent=2) + "\n")

    def _start_containerd(self, deadline: float) -> None:
        assert self.pause is not None
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""version = 2
root = "{self._path("containerd-root")}"
state = "{self._path("containerd-state")}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[{cri}]
  sandbox_image = "{self.pause.name}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # negative OOM scores need CAP_SYS_RESOURCE, which a container or VM sandbox may lack
  restrict_oom_score_adj = {str(not _can_lower_oom_score()).lower()}
  max_container_log_line_size = 16384
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = "{os.environ.get("PICO_TLS_RUNC", "runc")}"
  Root = "{self._path("runc")}"
[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{self._path("cni-net.d")}"
  max_conf_num = 1
[{cri}.registry]
  config_path = "{self._path("no-registries")}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{self._path("containerd-opt")}"
"""
        conf = self._path("containerd.toml")
        conf.write_text(config)
        self.cluster.spawn_component("containerd", ["containerd", f"--config={conf}"])

        def serving() -> bool:
            return self.ctr("version", check=False).returncode == 0

        self.cluster.poll("containerd socket", serving, deadline, "containerd")

    def _start_coredns(self) -> None:
        self.dns_ready_port = _free_port()
        health_port = _free_port()
        corefile = self._path("Corefile")
        kubeconfig = self._kubeconfig("system:coredns")
        corefile.write_text(
            f"""cluster.local:53 {{
    bind {NODE_IP}
    ready 127.0.0.1:{self.dns_ready_port}
    health 127.0.0.1:{health_port}
    errors
    loadbalance
    cache 5
    kubernetes cluster.local {{
        kubeconfig {kubeconfig}
        pods insecure
        ttl 5
    }}
}}
"""
        )
        self.cluster.spawn_component(
            "coredns",
            [str(self.cluster.bin_dir / "coredns"), "-conf", str(corefile)],
            ports=(self.dns_ready_port, health_port),
        )

    def _start_kube_proxy(self) -> None:
        self.proxy_health_port, metrics_port = _free_port(), _free_port()
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self._kubeconfig("system:kube-proxy"))},
            "mode": "iptables",
            "hostnameOverride": NODE_NAME,
            "bindAddress": NODE_IP,
            "clusterCIDR": nodenet.POD_NETWORK,
            "healthzBindAddress": f"127.0.0.1:{self.proxy_health_port}",
            "metricsBindAddress": f"127.0.0.1:{metrics_port}",
            "nodePortAddresses": [f"{NODE_IP}/32"],
            "iptables": {"masqueradeAll": False, "localhostNodePorts": False},
            # leave the machine's conntrack settings alone
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
        }
        path = self._path("kube-proxy.yaml")
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
        (self._path("kubelet.crt")).write_bytes(serving.cert_pem)
        key = self._path("kubelet.key")
        key.write_bytes(serving.key_pem)
        key.chmod(0o600)
        self.kubelet_health_port = _free_port()
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": KUBELET_PORT,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": self.kubelet_health_port,
            "tlsCertFile": str(self._path("kubelet.crt")),
            "tlsPrivateKeyFile": str(key),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.cluster.work_dir / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "clusterDNS": [nodenet.CLUSTER_DNS_IP],
            "clusterDomain": "cluster.local",
            "resolvConf": "",  # pods get the cluster DNS only, never the machine's resolver
            "podLogsDir": str(self._path("pod-logs")),
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "rotateCertificates": False,
            "serializeImagePulls": False,
            "maxPods": 60,
            "shutdownGracePeriod": "0s",
            "syncFrequency": "10s",
        }
        path = self._path("kubelet.yaml")
        path.write_text(yaml.safe_dump(config))
        kubeconfig = self._kubeconfig(f"system:node:{NODE_NAME}", ("system:nodes",))
        self.cluster.spawn_component(
            "kubelet",
            [
                str(self.cluster.bin_dir / "kubelet"),
                f"--config={path}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={self._path('kubelet')}",
                f"--cert-dir={self._path('kubelet-pki')}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                f"--node-labels={NODE_LABEL[0]}={NODE_LABEL[1]}",
                "--v=1",
            ],
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
        names = []
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
# images (also for a running dev cluster: `dev-cluster import-image TAR`)


def ctr(socket_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ctr", f"--address={socket_path}", "--namespace=k8s.io", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return proc


def images(socket_path: Path) -> set[str]:
    return set(ctr(socket_path, "images", "ls", "-q").stdout.split())


def import_image(socket_path: Path, tar: Path) -> list[str]:
    """Imports an OCI image layout or docker-archive tar (buildah/podman `push oci-archive:`
    or `docker-archive:`, `docker save`, ociimage.py) into the containerd at `socket_path`,
    in the CRI's namespace; returns the names it added (none when all were there already).
    Pods use them with `imagePullPolicy: Never` or `IfNotPresent`."""
    before = images(socket_path)
    out = ctr(socket_path, "images", "import", str(tar), check=False)
    after = images(socket_path)
    if out.returncode != 0 or not (after - before or _names_in(tar) & after):
        raise RuntimeError(f"importing {tar} added no image: {out.stderr.strip()}")
    return sorted(after - before)


def _names_in(tar: Path) -> set[str]:
    """Image names an archive carries (OCI index annotations or docker RepoTags)."""
    with tarfile.open(tar) as archive:
        names = archive.getnames()
        member = archive.extractfile("manifest.json" if "manifest.json" in names else "index.json")
        data = json.load(member) if member else {}
    if isinstance(data, list):  # docker-archive
        tags = [t for entry in data for t in entry.get("RepoTags") or []]
        return (
            set(tags) | {f"docker.io/{t}" for t in tags} | {f"docker.io/library/{t}" for t in tags}
        )
    annotations = [m.get("annotations", {}) for m in data.get("manifests", [])]
    return {a["io.containerd.image.name"] for a in annotations if "io.containerd.image.name" in a}


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
