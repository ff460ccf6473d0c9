"""Readers of single fields of our custom resources, each raising `SpecError` with a message
that says what to fix; `spec` puts them together into `spec_model`'s types."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pico_tls.delivery_choice import DeliveryError, DeliverySpec, check_choice, parse_delivery
from pico_tls.javaprops import keys_read_from
from pico_tls.keystore import Pkcs12Profile, StoreFormat
from pico_tls.pki.keys import KeyAlgorithm
from pico_tls.spec_model import (
    MANAGED_PROPERTIES,
    MANAGED_PROPERTY_PREFIX,
    PROPERTIES_MOUNT,
    WEB_UI_PROPERTY_PREFIX,
    PodTemplateSpec,
    StoreFormatSpec,
    TlsSpec,
    WorkloadRef,
)
from pico_tls.validation import SpecError as SpecError  # raised by every parser here
from pico_tls.validation import (
    check_password_secret_name,
    check_pod_additions,
    check_property,
)

_PROFILES = {"Legacy3DES": Pkcs12Profile.LEGACY_3DES, "ModernAES": Pkcs12Profile.MODERN_AES}
_FORMATS = {"PKCS12": StoreFormat.PKCS12, "JKS": StoreFormat.JKS}
_KEYS = {
    ("RSA", 2048): KeyAlgorithm.RSA_2048,
    ("RSA", 3072): KeyAlgorithm.RSA_3072,
    ("RSA", 4096): KeyAlgorithm.RSA_4096,
    ("ECDSA", 256): KeyAlgorithm.EC_P256,
    ("ECDSA", 384): KeyAlgorithm.EC_P384,
}
_DEFAULT_KEY_SIZE = {"RSA": 2048, "ECDSA": 256}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str, field_path: str) -> timedelta:
    """Parse a Go duration string such as `8760h` or `1h30m`."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise SpecError(f"{field_path}: {text!r} is not a duration; use a form like 8760h or 90m")
    return timedelta(seconds=sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


def section(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, Mapping):
        raise SpecError(f"{key}: must be an object")
    return value


def ref_name(section: Mapping[str, Any], key: str, field_path: str) -> str | None:
    ref = section.get(key)
    if not ref:
        return None
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if not name:
        raise SpecError(f"{field_path}.{key}.name: give the name of a Secret in this namespace")
    if key == "passwordSecretRef":
        check_password_secret_name(str(name), f"{field_path}.{key}.name")
    return str(name)


def key_algorithm(section: Mapping[str, Any], field_path: str) -> KeyAlgorithm:
    algorithm = str(section.get("algorithm", "RSA"))
    if algorithm not in _DEFAULT_KEY_SIZE:
        raise SpecError(f"{field_path}.algorithm: use RSA or ECDSA, not {algorithm!r}")
    size = int(section.get("size", _DEFAULT_KEY_SIZE[algorithm]))
    try:
        return _KEYS[(algorithm, size)]
    except KeyError:
        allowed = ", ".join(str(s) for a, s in _KEYS if a == algorithm)
        raise SpecError(
            f"{field_path}.size: {algorithm} keys can be {allowed}, not {size}"
        ) from None


def store_format(section: Mapping[str, Any], field_path: str) -> StoreFormatSpec:
    kind = str(section.get("type", "PKCS12"))
    if kind not in _FORMATS:
        raise SpecError(f"{field_path}.type: use PKCS12 or JKS, not {kind!r}")
    profile = section.get("profile")
    if profile is not None and kind != "PKCS12":
        raise SpecError(f"{field_path}.profile: only PKCS12 stores have a profile; remove it")
    profile = str(profile or "Legacy3DES")
    if profile not in _PROFILES:
        raise SpecError(f"{field_path}.profile: use Legacy3DES or ModernAES, not {profile!r}")
    return StoreFormatSpec(_FORMATS[kind], _PROFILES[profile])


def managed_key(key: str, web_ui_tls: bool = False) -> str | None:
    """The operator-managed key `key` would set, read the way `Properties.load` reads a
    raw key (so `"pico.rcp.platform.host\\t"` is `pico.rcp.platform.host`), or None."""
    prefixes = (
        (MANAGED_PROPERTY_PREFIX, WEB_UI_PROPERTY_PREFIX)
        if web_ui_tls
        else (MANAGED_PROPERTY_PREFIX,)
    )
    for read in sorted(keys_read_from(key)):
        stripped = read.strip()
        if stripped.startswith(prefixes) or stripped in MANAGED_PROPERTIES:
            return stripped
        if web_ui_tls and stripped == WEB_UI_PROPERTY_PREFIX.rstrip("."):
            return stripped
    return None


def properties(
    body: Mapping[str, Any], field_path: str, web_ui_tls: bool = False
) -> dict[str, str]:
    props = {str(k): str(v) for k, v in section(body, "properties").items()}
    for key, value in props.items():
        managed = managed_key(key, web_ui_tls)
        try:
            check_property(key, value, f"{field_path}.properties")
        except SpecError as err:
            if managed is None:
                raise
            raise SpecError(
                f"{err}; Java would read it as {managed}, which the operator sets"
            ) from None
        if managed is not None:
            raise SpecError(
                f"{field_path}.properties: {key!r} is set by the operator ({managed}); use "
                "spec.tls (or spec.delivery) instead "
                "(passwords belong in the Secret named by passwordSecretRef)"
            )
    return props


def pod(body: Mapping[str, Any], tls_mount: str | None) -> PodTemplateSpec:
    pod = section(body, "podTemplate")
    check_pod_additions(
        [str(e.get("name")) for e in pod.get("env") or ()],
        [str(v.get("name")) for v in pod.get("volumes") or ()],
        [str(m.get("mountPath")) for m in pod.get("volumeMounts") or ()],
        tls_mount,
    )
    return PodTemplateSpec(
        resources=pod.get("resources") or {},
        env=tuple(pod.get("env") or ()),
        node_selector=pod.get("nodeSelector") or {},
        tolerations=tuple(pod.get("tolerations") or ()),
        affinity=pod.get("affinity") or {},
        security_context=pod.get("securityContext") or {},
        pod_security_context=pod.get("podSecurityContext") or {},
        volumes=tuple(pod.get("volumes") or ()),
        volume_mounts=tuple(pod.get("volumeMounts") or ()),
        annotations=pod.get("annotations") or {},
        labels=pod.get("labels") or {},
    )


def meta(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta["name"]), str(meta.get("namespace") or "default")


ATTACH_KINDS = ("StatefulSet", "Deployment")


def image(spec: Mapping[str, Any]) -> str:
    """The image, "" when the resource attaches to the user's workload (workloadRef)."""
    image = spec.get("image")
    if spec.get("workloadRef"):
        if image or spec.get("podTemplate") or spec.get("imagePullPolicy"):
            raise SpecError(
                "spec.workloadRef: set either image (and podTemplate) or workloadRef, not both; "
                "with workloadRef your own workload carries the image and pod settings"
            )
        return ""
    if not image:
        raise SpecError(
            "spec.image: give the container image of the pico platform, "
            "or spec.workloadRef to secure your own workload"
        )
    return str(image)


def workload_ref(spec: Mapping[str, Any]) -> WorkloadRef | None:
    ref = section(spec, "workloadRef")
    if not ref:
        return None
    kind, name = str(ref.get("kind", "")), str(ref.get("name") or "")
    if kind not in ATTACH_KINDS or not name:
        raise SpecError(
            "spec.workloadRef: give kind (StatefulSet or Deployment) and the name of your workload"
        )
    container = ref.get("containerName")
    return WorkloadRef(
        kind, name, str(container) if container else None, bool(ref.get("keepOnDelete", False))
    )


def delivery(spec: Mapping[str, Any]) -> DeliverySpec | None:
    try:
        return parse_delivery(section(spec, "delivery"), "spec.delivery")
    except DeliveryError as err:
        raise SpecError(str(err)) from None


def check_delivery(
    choice: DeliverySpec,
    props: Mapping[str, str],
    tls: TlsSpec,
    field_path: str,
    pod: PodTemplateSpec,
) -> None:
    mounted = {tls.mount_path, PROPERTIES_MOUNT} | {
        str(m.get("mountPath")) for m in pod.volume_mounts
    }
    try:
        check_choice(
            choice,
            props,
            keystore_path=tls.mount_path,
            mounted=mounted,
            has_password_secret=tls.password_secret_name is not None,
            field_path=field_path,
        )
    except DeliveryError as err:
        raise SpecError(str(err)) from None
