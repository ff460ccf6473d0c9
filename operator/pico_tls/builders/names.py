"""Names and labels of every object the operator writes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pico_tls.spec_model import API_VERSION, GROUP, PlatformSpec
from pico_tls.spec_model import PROPERTIES_MOUNT as _PROPERTIES_MOUNT

FIELD_MANAGER = "pico-tls-operator"
# Attached workloads (spec.workloadRef): the user's StatefulSet or Deployment, which the
# operator never owns; its additions are applied under a field manager of their own.
ATTACH_MANAGER = "pico-tls-attach"
ATTACH_LABEL = f"{GROUP}/attach"  # on the user's workload: the Platform it consents to
ATTACHED_BY = f"{GROUP}/attached-by"  # on an attached workload: "<Kind>/<name>" attaching it
KEEP_ON_DELETE = f"{GROUP}/keep-on-delete"  # on an attached workload: workloadRef.keepOnDelete
MANAGED_BY = "app.kubernetes.io/managed-by"
PLATFORM_LABEL = f"{GROUP}/platform"
COMPONENT_LABEL = f"{GROUP}/component"
MOUNTED_CONTENT = f"{GROUP}/mounted-content"
CONTENT_FINGERPRINT = f"{GROUP}/content-fingerprint"
# On any of the three kinds: a new value asks for its certificate to be reissued now.
RENEW = f"{GROUP}/renew"
# On a Platform: a new value asks for a new operator CA (rotated with trust overlap).
ROTATE_CA = f"{GROUP}/rotate-ca"
# On the CA Secret: the rotate-ca value already acted on.
ROTATE_CA_HANDLED = f"{GROUP}/rotate-ca-handled"
# On a DesktopClient: its user imported the store of the CA rotation with this target fingerprint.
REIMPORTED = f"{GROUP}/reimported"
APPLIED_HASH = f"{GROUP}/applied-hash"
# On a keystore Secret: the digest of the data the operator wrote (besides the keystore bytes),
# so an Event can tell a hand edit it undoes from a change it makes.
DATA_DIGEST = f"{GROUP}/data-digest"
PROPERTIES_MOUNT = _PROPERTIES_MOUNT  # the one definition is in validation (it checks collisions)
PROPERTIES_FILE = "rcp-tls.properties"
SECRET_PROPERTIES_FILE = "rcp-tls-secret.properties"
BASE64_SECRET_PROPERTIES_FILE = "rcp-tls-secret.base64.properties"
HTTPD_SECRET_PROPERTIES_FILE = "httpd-tls-secret.properties"
HTTPD_BASE64_SECRET_PROPERTIES_FILE = "httpd-tls-secret.base64.properties"
STORE_PASSWORD_BASE64_KEY = "keystore.password.base64"
KEY_PASSWORD_BASE64_KEY = "key.password.base64"
STORE_PASSWORD_KEY = "keystore.password"
PREVIOUS_CERT_KEY = "previous.crt"  # in a state Secret: the certificate a renewal replaced
NEXT_CERT_KEY = "next.crt"  # in a state Secret: a renewed certificate peers pin before its use
# In the Platform's state Secret: the phases the group is in (CA rotation, client auth).
PHASES_KEY = "phases.json"
CA_BUNDLE_KEY = "ca.crt"  # the CA, then older CAs still trusted during a rotation
KEY_PASSWORD_KEY = "key.password"


def tls_secret(name: str) -> str:
    """The mounted keystore Secret of a Platform or ExecutionContainer."""
    return f"{name}-rcp-tls"


def properties_configmap(name: str) -> str:
    """The ConfigMap of a Platform's or ExecutionContainer's public settings (named like its
    keystore Secret: the two kinds do not share names)."""
    return f"{name}-rcp-tls"


def state_secret(mounted_secret: str) -> str:
    """The unmounted Secret that keeps a party's private key and passwords."""
    return f"{mounted_secret}-state"


def desktop_secret(name: str) -> str:
    return f"{name}-desktop-key"


def ca_secret(platform: str) -> str:
    return f"{platform}-ca"


def headless_service(platform: str) -> str:
    return f"{platform}-headless"


def platform_host(platform: str, namespace: str) -> str:
    return f"{platform}.{namespace}.svc"


def labels(platform: str, component: str, instance: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "pico",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        MANAGED_BY: FIELD_MANAGER,
        PLATFORM_LABEL: platform,
        COMPONENT_LABEL: component,
    }


def owner_reference(body: Mapping[str, Any]) -> dict[str, Any]:
    """An owner reference to a custom resource, so its objects are garbage-collected with it."""
    meta = body["metadata"]
    return {
        "apiVersion": body.get("apiVersion", API_VERSION),
        "kind": body["kind"],
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(
    name: str, namespace: str, object_labels: Mapping[str, str], owner: Mapping[str, Any] | None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(object_labels)}
    if owner is not None and owner["metadata"].get("uid"):
        meta["ownerReferences"] = [owner_reference(owner)]
    return meta


def ca_common_name(platform: PlatformSpec, now: datetime | None = None) -> str:
    """A CA subject within X.509's 64-character limit; rotated CAs carry their date, so old
    and new CA differ in name as well as key."""
    stamp = f" {now:%Y%m%d%H%M%S}" if now is not None else ""
    return f"pico CA{stamp} {platform.name} {platform.namespace}"[:64].strip()
