#!/usr/bin/env bash
# Builds cert-manager's controller (a benchmark peer of bench/bench_certmanager.py, never a runtime
# dependency: nothing in .ci/run or the tests calls this) from the wrapper Go module in go/, and
# copies its CRDs from the module's deploy/crds with the Helm template lines removed, into
#   ${PICO_TLS_CLUSTER_CACHE:-$HOME/.cache/pico-tls}/cert-manager-<v>/{bin/controller,crds/}
# A warm run builds nothing. The last line on stdout is that folder.
#
#   bench/certmanager/build.sh            build what is missing
#   bench/certmanager/build.sh --print    print the folder only, build nothing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod_dir="$here/go"
module=github.com/cert-manager/cert-manager

mode=build
case "${1:-}" in
    "") ;;
    --print) mode=print ;;
    *) echo "usage: $0 [--print]" >&2; exit 2 ;;
esac

version="$(awk -v m="$module" '$1 == "require" && $2 == m { print $3; exit } $1 == m && $2 ~ /^v/ { print $2; exit }' "$gomod_dir/go.mod")"
[[ -n "$version" ]] || { echo "build.sh: no version of $module in $gomod_dir/go.mod" >&2; exit 1; }
out_dir="${PICO_TLS_CLUSTER_CACHE:-$HOME/.cache/pico-tls}/cert-manager-${version#v}"
if [[ "$mode" == print ]]; then
    echo "$out_dir"
    exit 0
fi
command -v go >/dev/null || { echo "build.sh: 'go' is not on PATH" >&2; exit 1; }
mkdir -p "$out_dir/bin"

if [[ ! -x "$out_dir/bin/controller" ]]; then
    echo "build.sh: building $module/cmd/controller $version" >&2
    start=$SECONDS
    tmp="$(mktemp -d "$out_dir/bin/.build.XXXXXX")"
    # cmd/controller/app stamps its version through pkg/util (read by --version and the user agent).
    ldflags="-s -w -X $module/pkg/util.AppVersion=$version"
    (cd "$gomod_dir" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod -trimpath -buildvcs=false" \
        go build -o "$tmp/controller" -ldflags "$ldflags" "$module/cmd/controller") >&2
    mv -f "$tmp/controller" "$out_dir/bin/controller"
    rmdir "$tmp"
    echo "build.sh: built the controller in $((SECONDS - start))s" >&2
fi

if [[ ! -d "$out_dir/crds" ]]; then
    src="$(cd "$gomod_dir" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "$module")"
    [[ -n "$src" && -d "$src/deploy/crds" ]] || { echo "build.sh: no deploy/crds in $module $version" >&2; exit 1; }
    tmp="$(mktemp -d "$out_dir/.crds.XXXXXX")"
    for f in "$src"/deploy/crds/crd-*.yaml; do
        # Drop every line with a Helm template (the labels naming the release, a comment that
        # includes more; other versions wrap the file in {{- if ...}}): a plain apply needs none.
        grep -v '{{' "$f" >"$tmp/$(basename "$f")"
    done
    chmod 755 "$tmp"
    mv "$tmp" "$out_dir/crds"
fi
echo "$out_dir"
