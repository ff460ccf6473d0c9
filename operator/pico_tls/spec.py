"""The parsers of custom resources: the single reading of `crds/` into `spec_model`'s types.

The CRD schema applies the defaults and rejects most bad input; these parsers repeat the
defaults (so `pico-tls render` works on files that never went through an apiserver) and
raise `SpecError` with a message that says what to fix for what the schema cannot check.
"""

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
    ContainerSpec,
    DesktopSpec,
    KeystoreMode,
    PlatformSpec,
    PodTemplateSpec,
    ServiceSpec,
    StoreFormatSpec,
    TlsSpec,
    TrustMode,
    WorkloadRef,
)
from pico_tls.validation import SpecError as SpecError  # raised by every parser here
from pico_tls.validation import (
    check_durations,
    check_member_name,
    check_password_secret_name,
    check_platform_name,
    check_platform_ref,
    check_pod_additions,
    check_property,
    check_tls_mount,
    check_user,
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


def _section(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, Mapping):
        raise SpecError(f"{key}: must be an object")
    return value


def _ref_name(section: Mapping[str, Any], key: str, field_path: str) -> str | None:
    ref = section.get(key)
    if not ref:
        return None
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if not name:
        raise SpecError(f"{field_path}.{key}.name: give the name of a Secret in this namespace")
    if key == "passwordSecretRef":
        check_password_secret_name(str(name), f"{field_path}.{key}.name")
    return str(name)


def _key_algorithm(section: Mapping[str, Any], field_path: str) -> KeyAlgorithm:
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


def _store_format(section: Mapping[str, Any], field_path: str) -> StoreFormatSpec:
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


def _properties(
    body: Mapping[str, Any], field_path: str, web_ui_tls: bool = False
) -> dict[str, str]:
    props = {str(k): str(v) for k, v in _section(body, "properties").items()}
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


def _pod(body: Mapping[str, Any], tls_mount: str | None) -> PodTemplateSpec:
    pod = _section(body, "podTemplate")
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


def _meta(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta["name"]), str(meta.get("namespace") or "default")


ATTACH_KINDS = ("StatefulSet", "Deployment")


def _image(spec: Mapping[str, Any]) -> str:
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


def _workload_ref(spec: Mapping[str, Any]) -> WorkloadRef | None:
    ref = _section(spec, "workloadRef")
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


def _delivery(spec: Mapping[str, Any]) -> DeliverySpec | None:
    try:
        return parse_delivery(_section(spec, "delivery"), "spec.delivery")
    except DeliveryError as err:
        raise SpecError(str(err)) from None


def _check_delivery(
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


def parse_platform(body: Mapping[str, Any]) -> PlatformSpec:
    name, namespace = _meta(body)
    check_platform_name(name)
    spec = _section(body, "spec")
    delivery = _delivery(spec) or DeliverySpec()
    tls = _section(spec, "tls")
    trust = _section(tls, "trust")
    service = _section(spec, "service")
    duration = parse_duration(str(tls.get("duration", "8760h")), "spec.tls.duration")
    renew_before = parse_duration(str(tls.get("renewBefore", "720h")), "spec.tls.renewBefore")
    check_durations(duration, renew_before, "spec.tls.")
    mount_path = str(tls.get("mountPath", "/etc/pico/tls"))
    if not mount_path.startswith("/"):
        raise SpecError("spec.tls.mountPath: must be an absolute path such as /etc/pico/tls")
    check_tls_mount(mount_path)
    parsed_tls = TlsSpec(
        enabled=bool(tls.get("enabled", True)),
        require_client_auth=bool(tls.get("requireClientAuth", False)),
        keystore_mode=KeystoreMode(tls.get("keystoreMode", KeystoreMode.PER_CONTAINER)),
        trust_mode=TrustMode(trust.get("mode", TrustMode.CERTIFICATE_AUTHORITY)),
        ca_secret_name=_ref_name(trust, "caSecretRef", "spec.tls.trust"),
        store=_store_format(_section(tls, "format"), "spec.tls.format"),
        key_algorithm=_key_algorithm(_section(tls, "key"), "spec.tls.key"),
        duration=duration,
        renew_before=renew_before,
        mount_path=mount_path.rstrip("/") or "/",
        alias=str(tls.get("alias", "platform")).lower(),
        hostnames=tuple(str(h) for h in tls.get("hostnames") or ()),
        password_secret_name=_ref_name(tls, "passwordSecretRef", "spec.tls"),
        retain_on_delete=bool(tls.get("retainOnDelete", False)),
        desktop_reimport_period=parse_duration(
            str(tls.get("desktopReimportPeriod", "0s")), "spec.tls.desktopReimportPeriod"
        ),
    )
    if parsed_tls.ca_secret_name and parsed_tls.trust_mode is TrustMode.PINNED:
        raise SpecError("spec.tls.trust.caSecretRef: only used with mode CertificateAuthority")
    props = _properties(spec, "spec", delivery.web_ui_tls)
    pod = _pod(spec, parsed_tls.mount_path if parsed_tls.enabled else None)
    _check_delivery(delivery, props, parsed_tls, "spec", pod)
    return PlatformSpec(
        name=name,
        namespace=namespace,
        image=_image(spec),
        image_pull_policy=spec.get("imagePullPolicy"),
        pod=pod,
        service=ServiceSpec(
            type=str(service.get("type", "ClusterIP")),
            rcp_port=int(service.get("rcpPort", 6790)),
            web_port=int(service.get("webPort", 9000)),
        ),
        properties=props,
        tls=parsed_tls,
        delivery=delivery,
        workload_ref=_workload_ref(spec),
    )


def _platform_ref(spec: Mapping[str, Any]) -> str:
    name = _ref_name(spec, "platformRef", "spec")
    if not name:
        raise SpecError("spec.platformRef.name: give the name of a Platform in this namespace")
    check_platform_ref(name, "spec.platformRef.name")
    return name


def parse_container(body: Mapping[str, Any], platform: PlatformSpec | None = None) -> ContainerSpec:
    """With `platform`, also refuse what the effective delivery form cannot carry."""
    name, namespace = _meta(body)
    check_member_name("ExecutionContainer", name)
    spec = _section(body, "spec")
    tls = _section(spec, "tls")
    delivery = _delivery(spec)
    if platform is not None:
        choice = delivery or platform.delivery
        web_ui = choice.web_ui_tls
        props = _properties(spec, "spec", web_ui)
        _check_delivery(choice, props, platform.tls, "spec", _pod(spec, platform.tls.mount_path))
    return ContainerSpec(
        name=name,
        namespace=namespace,
        platform=_platform_ref(spec),
        image=_image(spec),
        image_pull_policy=spec.get("imagePullPolicy"),
        replicas=int(spec.get("replicas", 1)),
        # The Platform's tls.mountPath is not known here: a clash with it is for the reconcile
        # pass to report (not done yet).
        pod=_pod(spec, None),
        properties=_properties(spec, "spec", bool(delivery and delivery.web_ui_tls)),
        alias=str(tls["alias"]).lower() if tls.get("alias") else None,
        delivery=delivery,
        workload_ref=_workload_ref(spec),
    )


def parse_desktop(body: Mapping[str, Any]) -> DesktopSpec:
    name, namespace = _meta(body)
    spec = _section(body, "spec")
    user = spec.get("user")
    if not user:
        raise SpecError("spec.user: give the desktop user's name (the certificate's subject)")
    check_member_name("DesktopClient", name)
    check_user(str(user))
    duration = parse_duration(str(spec.get("duration", "8760h")), "spec.duration")
    check_durations(duration, None, "spec.")
    return DesktopSpec(
        name=name,
        namespace=namespace,
        platform=_platform_ref(spec),
        user=str(user),
        key_algorithm=_key_algorithm(_section(spec, "key"), "spec.key"),
        duration=duration,
        store=_store_format(_section(spec, "format"), "spec.format"),
        alias=str(spec.get("alias", "desktop")).lower(),
        password_secret_name=_ref_name(spec, "passwordSecretRef", "spec"),
    )
