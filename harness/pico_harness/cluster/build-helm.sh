#!/usr/bin/env bash
# Builds helm (the Helm chart tests: helm lint, helm template) from its Go module into
#   ${PICO_TLS_CLUSTER_CACHE:-$HOME/.cache/pico-tls}/helm-<version>/bin/helm
# A present binary is reused (a warm run builds nothing); a cold build takes about 4 minutes.
# The last line on stdout is the bin directory.
#
#   harness/pico_harness/cluster/build-helm.sh            build it if missing
#   harness/pico_harness/cluster/build-helm.sh --print    print the bin directory only, build nothing
set -euo pipefail

helm_version=v4.3.2
cache_root="${PICO_TLS_CLUSTER_CACHE:-$HOME/.cache/pico-tls}"
bin_dir="$cache_root/helm-${helm_version#v}/bin"

case "${1:-}" in
    "") ;;
    --print) echo "$bin_dir"; exit 0 ;;
    *) echo "usage: $0 [--print]" >&2; exit 2 ;;
esac

if [[ ! -x "$bin_dir/helm" ]]; then
    command -v go >/dev/null || { echo "build-helm.sh: 'go' is not on PATH" >&2; exit 1; }
    mkdir -p "$bin_dir"
    tmp="$(mktemp -d "$bin_dir/.build.XXXXXX")"
    start=$SECONDS
    echo "build-helm.sh: building helm $helm_version" >&2
    # helm prints this version (helm version); go install leaves it empty.
    ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version"
    CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -buildvcs=false" \
        go install -ldflags "$ldflags" "helm.sh/helm/v4/cmd/helm@$helm_version" >&2
    mv -f "$tmp/helm" "$bin_dir/helm"
    rm -rf "$tmp"
    echo "build-helm.sh: built helm in $((SECONDS - start))s" >&2
fi
echo "$bin_dir"
