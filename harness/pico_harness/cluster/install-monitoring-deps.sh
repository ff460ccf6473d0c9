#!/usr/bin/env bash
# Installs what the monitoring tests need, from the distribution's packages (Debian/Ubuntu):
# prometheus and promtool (package prometheus) and a Lua interpreter (lua5.4) for the Argo CD
# health checks. Idempotent: installs nothing when every command is there. Needs root (or sudo).
# The package's own service is never started (policy-rc.d during the install); the tests start
# their own Prometheus on loopback in a temporary folder.
#   harness/pico_harness/cluster/install-monitoring-deps.sh          install what is missing
#   harness/pico_harness/cluster/install-monitoring-deps.sh --check  exit 1 (and say what) when something is missing
set -euo pipefail

declare -A needs=([prometheus]=prometheus [promtool]=prometheus [lua5.4]=lua5.4)

missing_packages() {
    local cmd pkgs=()
    for cmd in "${!needs[@]}"; do
        command -v "$cmd" >/dev/null || pkgs+=("${needs[$cmd]}")
    done
    ((${#pkgs[@]})) && printf '%s\n' "${pkgs[@]}" | sort -u
    return 0
}

as_root() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-deps.sh: need root for: $*" >&2; return 1
    fi
}

mapfile -t pkgs < <(missing_packages)
if ((${#pkgs[@]} == 0)); then
    echo "monitoring install-deps.sh: prometheus, promtool, lua5.4 present" >&2
    exit 0
fi
if [[ "${1:-}" == --check ]]; then
    echo "monitoring install-deps.sh: missing packages: ${pkgs[*]}" >&2
    exit 1
fi
command -v apt-get >/dev/null || {
    echo "install-deps.sh: no apt-get; install ${pkgs[*]} with your package manager" >&2
    exit 1
}
echo "monitoring install-deps.sh: installing ${pkgs[*]}" >&2
# No service start from the package scripts (exit 101 = "not allowed" for invoke-rc.d).
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    own_policy=1
fi
trap 'if ((own_policy)); then as_root rm -f "$policy"; fi' EXIT
as_root apt-get update -q
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
mapfile -t still < <(missing_packages)
if ((${#still[@]})); then
    echo "install-deps.sh: still missing after install: ${still[*]}" >&2
    exit 1
fi
