#!/usr/bin/env bash
# Installs what the real node of the local cluster needs beside the Go-built binaries:
# containerd, runc, the CNI plugins (bridge, host-local, loopback, portmap in /usr/lib/cni),
# iptables and conntrack (kube-proxy), from the distribution's packages (Debian/Ubuntu, apt-get).
# Idempotent: installs nothing when every command is already there. Needs root (or sudo).
#   harness/pico_harness/cluster/install-node-deps.sh          install what is missing
#   harness/pico_harness/cluster/install-node-deps.sh --check  exit 1 (and say what) when something is missing
set -euo pipefail

cni_dir="${PICO_TLS_CNI_DIR:-/usr/lib/cni}"
# command (or file) -> Debian package
declare -A needs=(
    [containerd]=containerd
    [ctr]=containerd
    [runc]=runc
    [iptables]=iptables
    [conntrack]=conntrack
    [$cni_dir/bridge]=containernetworking-plugins
    [$cni_dir/host-local]=containernetworking-plugins
    [$cni_dir/loopback]=containernetworking-plugins
    [$cni_dir/portmap]=containernetworking-plugins
)

missing_packages() {
    local item pkgs=()
    for item in "${!needs[@]}"; do
        if [[ "$item" == /* ]]; then [[ -x "$item" ]] && continue
        else command -v "$item" >/dev/null && continue
        fi
        pkgs+=("${needs[$item]}")
    done
    ((${#pkgs[@]})) && printf '%s\n' "${pkgs[@]}" | sort -u
    return 0
}

as_root() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-node-deps.sh: need root for: $*" >&2; return 1
    fi
}

mapfile -t pkgs < <(missing_packages)
if ((${#pkgs[@]} == 0)); then
    echo "install-node-deps.sh: containerd, runc, CNI plugins, iptables, conntrack present" >&2
    exit 0
fi
if [[ "${1:-}" == --check ]]; then
    echo "install-node-deps.sh: missing packages: ${pkgs[*]}" >&2
    exit 1
fi
command -v apt-get >/dev/null || {
    echo "install-node-deps.sh: no apt-get; install ${pkgs[*]} with your package manager" >&2
    exit 1
}
echo "install-node-deps.sh: installing ${pkgs[*]}" >&2
as_root apt-get update -q
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
# The package starts a system containerd (systemd or not): the node runs its own, on its own
# socket, so the system one is not needed; it is left as the package configured it.
mapfile -t still < <(missing_packages)
if ((${#still[@]})); then
    echo "install-node-deps.sh: still missing after install: ${still[*]}" >&2
    exit 1
fi
