"""Shell stand-ins for image entrypoints, shared by the Java tests of the delivery forms."""

from __future__ import annotations

# Behaves like the public MediationZone entrypoint: TLS_* variables, base64-encoded passwords,
# its options built as one string and word-split, then the container's arguments; it ends in
# the Java class $MAIN_CLASS (on $CLASSES) instead of mzsh startup.
PUBLIC_ENTRYPOINT = """#!/bin/sh
OPTS=""
if [ "$TLS_ENABLED" = "true" ]; then
  KS_PW=$(printf %s "$TLS_KEYSTORE_PASSWORD" | base64 -w0)
  KEY_PW=$(printf %s "$TLS_KEY_PASSWORD" | base64 -w0)
  OPTS="$OPTS -e mz.httpd.security=true"
  OPTS="$OPTS -e mz.httpd.security.keystore=$TLS_KEYSTORE"
  OPTS="$OPTS -e mz.httpd.security.keystore.password=$KS_PW"
  OPTS="$OPTS -e mz.httpd.security.key.alias=$TLS_KEY_ALIAS"
  OPTS="$OPTS -e mz.httpd.security.key.password=$KEY_PW"
  OPTS="$OPTS -e pico.rcp.tls.keystore=$TLS_KEYSTORE -e pico.rcp.tls.keystore.password=$KS_PW"
  OPTS="$OPTS -e pico.rcp.tls.key.password=$KEY_PW"
fi
OPTS="$OPTS $*"
exec java -cp "$CLASSES" "$MAIN_CLASS" $OPTS
"""
