#!/bin/sh
# Install what harness/pico_harness/images/build.sh needs, from Debian packages (idempotent: installs only what
# is missing). Run as root.
set -eu
need=""
command -v buildah >/dev/null || need="$need buildah"
command -v debootstrap >/dev/null || need="$need debootstrap"
command -v runc >/dev/null || need="$need runc"
command -v containerd >/dev/null || need="$need containerd"
command -v javac >/dev/null || need="$need openjdk-17-jdk-headless"
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need="$need debian-archive-keyring"
if [ -n "$need" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
fi
