#!/bin/sh
# Build the test images (or take them from the cache) and print "name=tar" lines:
#   harness/pico_harness/images/build.sh [--refs] [debian|jre|python|operator|standin ...]
# (--refs: print name=image reference instead, e.g. standin=localhost/pico-tls/standin:<key>)
# Needs root, buildah, debootstrap, runc and a JDK (harness/pico_harness/images/install-deps.sh installs them).
set -eu
repo=$(cd "$(dirname "$0")/../../.." && pwd)
for tool in buildah debootstrap runc javac; do
    command -v "$tool" >/dev/null || {
        echo "build.sh: $tool is missing; run harness/pico_harness/images/install-deps.sh" >&2
        exit 1
    }
done
cd "$repo"
# the system python3 (root may have no venv): the harness package from the checkout
PYTHONPATH="$repo/harness${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m pico_harness.images.build "$@"
