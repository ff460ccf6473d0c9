#!/bin/sh
# Entrypoint of the pico stand-in image.
#
# With TLS_ENABLED=true it imitates a public MediationZone platform entrypoint (not
# pico-tls-operator): it reads TLS_KEYSTORE, TLS_KEYSTORE_PASSWORD, TLS_KEY_PASSWORD and
# TLS_KEY_ALIAS, base64-encodes the passwords and builds startup options (`mzsh startup -e`):
#   -e mz.httpd.security=true -e mz.httpd.security.keystore=$TLS_KEYSTORE ... (web server)
#   -e pico.rcp.tls.keystore=$TLS_KEYSTORE
#   -e pico.rcp.tls.keystore.password=<base64> -e pico.rcp.tls.key.password=<base64>
# then appends the container's arguments (extra `-e key=value`; later wins) and, like that
# entrypoint, word-splits the whole option string. It sets neither pico.rcp.tls.keystore.alias nor
# pico.rcp.tls.require_clientauth (TLS_KEY_ALIAS goes to the web server's key alias only): those
# must come from the arguments or from properties files (PICO_PROPERTIES_FILES).
#
# Otherwise the arguments go through unchanged, one word each, as an image whose entrypoint runs
# `exec mzsh startup <pico> "$@"`. The System Topology Registry files are copied as the public EC
# entrypoint does (below). The role: PICO_ROLE (platform, ec or desktop), else ec when
# pico.rcp.platform.host is set, else platform.
set -eu

JAVA_CMD="${JAVA:-java} ${JAVA_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData}"
CLASSPATH_DIR="${STANDIN_CLASSPATH:-/opt/standin/classes}"

b64() { printf '%s' "$1" | base64 | tr -d '\n'; }

# only_file DIR MIN: the one file in DIR (dot files skipped); MIN=1: exactly one, MIN=0: at most one
only_file() {
    n=0
    found=""
    for f in "$1"/*; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        found=$f
    done
    if [ "$n" -gt 1 ] || [ "$n" -lt "$2" ]; then
        echo "entrypoint: $1 must hold exactly one file ($n found)" >&2
        return 1
    fi
    printf '%s' "$found"
}

# As the public EC entrypoint: with MZ_HOME set and $STANDIN_CONFIG_DIR/common present (default
# /etc/config), copy the one file of common/ and of pico/ and at most one of container/ into the
# active System Topology Registry, which the stand-in reads at start (MZ_CONTAINER required).
config_dir="${STANDIN_CONFIG_DIR:-/etc/config}"
if [ -n "${MZ_HOME:-}" ] && [ -d "$config_dir/common" ]; then
    : "${MZ_CONTAINER:?MZ_CONTAINER is required}"
    pico="${HOSTNAME:-$(hostname)}"
    common_file=$(only_file "$config_dir/common" 1)
    pico_file=$(only_file "$config_dir/pico" 1)
    container_file=$(only_file "$config_dir/container" 0)
    active="$MZ_HOME/common/config/cell/.active"
    mkdir -p "$active/containers/$MZ_CONTAINER/picos"
    cp "$common_file" "$active/cell.conf"
    cp "$pico_file" "$active/containers/$MZ_CONTAINER/picos/$pico.conf"
    if [ -n "$container_file" ]; then
        cp "$container_file" "$active/containers/$MZ_CONTAINER/container.conf"
    fi
    export HOSTNAME="$pico"
fi

if [ "${TLS_ENABLED:-false}" = "true" ]; then
    : "${TLS_KEYSTORE:?TLS_ENABLED=true needs TLS_KEYSTORE}"
    store_pw=$(b64 "${TLS_KEYSTORE_PASSWORD:-}")
    key_pw=$(b64 "${TLS_KEY_PASSWORD:-${TLS_KEYSTORE_PASSWORD:-}}")
    OPTS="-e mz.httpd.security=true -e mz.httpd.security.keystore=$TLS_KEYSTORE"
    OPTS="$OPTS -e mz.httpd.security.keystore.password=$store_pw"
    OPTS="$OPTS -e mz.httpd.security.key.password=$key_pw"
    if [ -n "${TLS_KEY_ALIAS:-}" ]; then
        OPTS="$OPTS -e mz.httpd.security.key.alias=$TLS_KEY_ALIAS"
    fi
    OPTS="$OPTS -e pico.rcp.tls.keystore=$TLS_KEYSTORE"
    OPTS="$OPTS -e pico.rcp.tls.keystore.password=$store_pw -e pico.rcp.tls.key.password=$key_pw"
    OPTS="$OPTS $*"
    # shellcheck disable=SC2086 # word splitting is the imitated behaviour
    exec $JAVA_CMD -cp "$CLASSPATH_DIR" StandinMain $OPTS
fi

# shellcheck disable=SC2086
exec $JAVA_CMD -cp "$CLASSPATH_DIR" StandinMain "$@"
