#!/usr/bin/env bash
# Builds the binaries of the local test control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kubelet, kube-proxy, etcd, kwok, and for the real node coredns and
# pause, and the probe program of its tests) from the wrapper Go modules under harness/pico_harness/cluster/go/ into
#   ${PICO_TLS_CLUSTER_CACHE:-$HOME/.cache/pico-tls}/cluster-k8s<v>-etcd<v>-kwok<v>/bin
# Binaries already present there are reused (a warm run builds nothing).
# The last line on stdout is the bin directory.
#
#   harness/pico_harness/cluster/build.sh            build what is missing
#   harness/pico_harness/cluster/build.sh --print    print the bin directory only, build nothing
#   harness/pico_harness/cluster/build.sh --force    rebuild everything
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod_dir="$here/go"

mode=build
case "${1:-}" in
    "") ;;
    --print) mode=print ;;
    --force) mode=force ;;
    *) echo "usage: $0 [--print|--force]" >&2; exit 2 ;;
esac

# Version of a module as required by one wrapper go.mod.
module_version() {
    local gomod="$1" module="$2"
    awk -v m="$module" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$gomod"
}

k8s_version="$(module_version "$gomod_dir/kubernetes/go.mod" k8s.io/kubernetes)"
etcd_version="$(module_version "$gomod_dir/etcd/go.mod" go.etcd.io/etcd/server/v3)"
kwok_version="$(module_version "$gomod_dir/kwok/go.mod" sigs.k8s.io/kwok)"
for v in "$k8s_version" "$etcd_version" "$kwok_version"; do
    [[ -n "$v" ]] || { echo "build.sh: cannot read a module version from $gomod_dir/*/go.mod" >&2; exit 1; }
done

cache_root="${PICO_TLS_CLUSTER_CACHE:-$HOME/.cache/pico-tls}"
bin_dir="$cache_root/cluster-k8s${k8s_version#v}-etcd${etcd_version#v}-kwok${kwok_version#v}/bin"

if [[ "$mode" == print ]]; then
    echo "$bin_dir"
    exit 0
fi

command -v go >/dev/null || { echo "build.sh: 'go' is not on PATH (Go >= 1.24 is needed)" >&2; exit 1; }
mkdir -p "$bin_dir"

k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"
version_pkg=k8s.io/component-base/version
k8s_ldflags="-s -w -X $version_pkg.gitVersion=$k8s_version -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$k8s_minor -X $version_pkg.gitTreeState=clean"
etcd_ldflags="-s -w"
kwok_ldflags="-s -w"

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -buildvcs=false"

built=0
# build <module dir> <ldflags> <binary name> <package> [<binary name> <package> ...]
build() {
    local dir="$1" ldflags="$2"
    shift 2
    local names=() pkgs=()
    while (($#)); do
        if [[ "$mode" == force || ! -x "$bin_dir/$1" ]]; then
            names+=("$1")
            pkgs+=("$2")
        fi
        shift 2
    done
    ((${#pkgs[@]})) || return 0
    echo "build.sh: building ${names[*]} (module $dir)" >&2
    local tmp
    tmp="$(mktemp -d "$bin_dir/.build.XXXXXX")"
    local start=$SECONDS
    (cd "$gomod_dir/$dir" && go build -o "$tmp/" -ldflags "$ldflags" "${pkgs[@]}") >&2
    local i
    for i in "${!names[@]}"; do
        local out="$tmp/$(basename "${pkgs[$i]}")"
        # go.etcd.io/etcd/server/v3 builds a binary named "v3"
        [[ -e "$out" ]] || out="$tmp/$(basename "$(dirname "${pkgs[$i]}")")"
        mv -f "$out" "$bin_dir/${names[$i]}"
    done
    rmdir "$tmp" 2>/dev/null || rm -rf "$tmp"
    echo "build.sh: built ${names[*]} in $((SECONDS - start))s" >&2
    built=$((built + ${#names[@]}))
}

build kubernetes "$k8s_ldflags" \
    kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager \
    kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler \
    kubectl k8s.io/kubernetes/cmd/kubectl \
    kubelet k8s.io/kubernetes/cmd/kubelet \
    kube-proxy k8s.io/kubernetes/cmd/kube-proxy
build etcd "$etcd_ldflags" etcd go.etcd.io/etcd/server/v3
build kwok "$kwok_ldflags" kwok sigs.k8s.io/kwok/cmd/kwok

# The real node's CoreDNS (only the plugins it needs), pause program and test probe. The bin
# folder's name does not carry their versions: a stamp of each module's sources (go.mod, go.sum,
# *.go) next to the binary makes a changed module rebuild.
src_stamp() {
    (cd "$gomod_dir/$1" && { [[ ! -f go.sum ]] || cat go.sum; cat go.mod ./*.go; } | sha256sum | cut -c1-16)
}
build_stamped() {
    local name="$1" pkg="$2" stamp
    stamp="$(src_stamp "$name")"
    [[ "$(cat "$bin_dir/.$name-src" 2>/dev/null)" == "$stamp" ]] || rm -f "$bin_dir/$name"
    build "$name" "-s -w" "$name" "$pkg"
    echo "$stamp" >"$bin_dir/.$name-src"
}
build_stamped coredns picotls.dev/devcluster/coredns
build_stamped pause picotls.dev/devcluster/pause
build_stamped probe picotls.dev/devcluster/probe
rm -f "$bin_dir/.coredns-version"  # the stamp of earlier versions of this script

if ((built == 0)); then
    echo "build.sh: all binaries present, nothing built" >&2
fi
echo "$bin_dir"
