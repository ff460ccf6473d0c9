"""Configuration of the real node's processes, as pure builders (no I/O): CNI, containerd,
CoreDNS, kube-proxy, kubelet. `d` is the node's folder in the run's work folder; every path
the processes write to is below it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .nodenet import BRIDGE, CLUSTER_DNS_IP, NODE_IP, NODE_POD_CIDR, POD_NETWORK

NODE_NAME = "real-node"
NODE_LABEL = ("picotls.dev/node", "real")
KUBELET_PORT = 10250  # on the bridge address only
CNI_CONF_DIR = "cni-net.d"


def cni_conflist(d: Path) -> dict[str, Any]:
    """Bridge + host-local (state in `d`) + portmap; no masquerading."""
    return {
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
                    "ranges": [[{"subnet": NODE_POD_CIDR, "gateway": NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(d / "cni-ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def containerd_toml(
    d: Path, socket: Path, *, sandbox_image: str, cni_bin_dir: Path, restrict_oom: bool, runc: str
) -> str:
    """containerd 1.6 (config version 2): root, state, socket and runc state in `d`; the CRI
    plugin with the local pause image, cgroupfs, the CNI config of `cni_conflist`, and an empty
    registry configuration (nothing is ever pulled)."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{d / "containerd-root"}"
state = "{d / "containerd-state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[{cri}]
  sandbox_image = "{sandbox_image}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # negative OOM scores need CAP_SYS_RESOURCE, which a container or VM sandbox may lack
  restrict_oom_score_adj = {str(restrict_oom).lower()}
  max_container_log_line_size = 16384
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = "{runc}"
  Root = "{d / "runc"}"
[{cri}.cni]
  bin_dir = "{cni_bin_dir}"
  conf_dir = "{d / CNI_CONF_DIR}"
  max_conf_num = 1
[{cri}.registry]
  config_path = "{d / "no-registries"}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d / "containerd-opt"}"
"""


def corefile(kubeconfig: Path, ready_port: int, health_port: int) -> str:
    """The cluster zone only, on the bridge address; no other zone, nothing forwarded."""
    return f"""cluster.local:53 {{
    bind {NODE_IP}
    ready 127.0.0.1:{ready_port}
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


def kube_proxy_config(kubeconfig: Path, health_port: int, metrics_port: int) -> dict[str, Any]:
    """iptables mode; NodePorts on the bridge address only; conntrack sysctls left alone."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "clusterCIDR": POD_NETWORK,
        "healthzBindAddress": f"127.0.0.1:{health_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "iptables": {"masqueradeAll": False, "localhostNodePorts": False},
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


def kubelet_config(d: Path, socket: Path, ca_file: Path, health_port: int) -> dict[str, Any]:
    """cgroup v1 + cgroupfs accepted, webhook authn/authz, cluster DNS only, image GC off."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": health_port,
        "tlsCertFile": str(d / "kubelet.crt"),
        "tlsPrivateKeyFile": str(d / "kubelet.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{socket}",
        "clusterDNS": [CLUSTER_DNS_IP],
        "clusterDomain": "cluster.local",
        "resolvConf": "",  # pods get the cluster DNS only, never the machine's resolver
        "podLogsDir": str(d / "pod-logs"),
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


def kubelet_args(d: Path, bin_path: Path, config: Path, kubeconfig: Path) -> list[str]:
    return [
        str(bin_path),
        f"--config={config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={d / 'kubelet'}",
        f"--cert-dir={d / 'kubelet-pki'}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={NODE_IP}",
        f"--node-labels={NODE_LABEL[0]}={NODE_LABEL[1]}",
        "--v=1",
    ]
