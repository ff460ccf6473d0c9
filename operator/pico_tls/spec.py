"""The parsers of custom resources: the single reading of `crds/` into `spec_model`'s types.

The CRD schema applies the defaults and rejects most bad input; these parsers repeat the
defaults (so `pico-tls render` works on files that never went through an apiserver) and
raise `SpecError` with a message that says what to fix for what the schema cannot check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pico_tls import spec_fields as fields
from pico_tls.delivery_choice import DeliverySpec
from pico_tls.spec_model import (
    ContainerSpec,
    DesktopSpec,
    KeystoreMode,
    PlatformSpec,
    ServiceSpec,
    TlsSpec,
    TrustMode,
)
from pico_tls.validation import SpecError as SpecError  # raised by every parser here
from pico_tls.validation import (
    check_durations,
    check_member_name,
    check_platform_name,
    check_platform_ref,
    check_tls_mount,
    check_user,
)


def parse_platform(body: Mapping[str, Any]) -> PlatformSpec:
    name, namespace = fields.meta(body)
    check_platform_name(name)
    spec = fields.section(body, "spec")
    delivery = fields.delivery(spec) or DeliverySpec()
    tls = fields.section(spec, "tls")
    trust = fields.section(tls, "trust")
    service = fields.section(spec, "service")
    duration = fields.parse_duration(str(tls.get("duration", "8760h")), "spec.tls.duration")
    renew_before = fields.parse_duration(
        str(tls.get("renewBefore", "720h")), "spec.tls.renewBefore"
    )
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
        ca_secret_name=fields.ref_name(trust, "caSecretRef", "spec.tls.trust"),
        store=fields.store_format(fields.section(tls, "format"), "spec.tls.format"),
        key_algorithm=fields.key_algorithm(fields.section(tls, "key"), "spec.tls.key"),
        duration=duration,
        renew_before=renew_before,
        mount_path=mount_path.rstrip("/") or "/",
        alias=str(tls.get("alias", "platform")).lower(),
        hostnames=tuple(str(h) for h in tls.get("hostnames") or ()),
        password_secret_name=fields.ref_name(tls, "passwordSecretRef", "spec.tls"),
        retain_on_delete=bool(tls.get("retainOnDelete", False)),
        desktop_reimport_period=fields.parse_duration(
            str(tls.get("desktopReimportPeriod", "0s")), "spec.tls.desktopReimportPeriod"
        ),
    )
    if parsed_tls.ca_secret_name and parsed_tls.trust_mode is TrustMode.PINNED:
        raise SpecError("spec.tls.trust.caSecretRef: only used with mode CertificateAuthority")
    props = fields.properties(spec, "spec", delivery.web_ui_tls)
    pod = fields.pod(spec, parsed_tls.mount_path if parsed_tls.enabled else None)
    fields.check_delivery(delivery, props, parsed_tls, "spec", pod)
    return PlatformSpec(
        name=name,
        namespace=namespace,
        image=fields.image(spec),
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
        workload_ref=fields.workload_ref(spec),
    )


def _platform_ref(spec: Mapping[str, Any]) -> str:
    name = fields.ref_name(spec, "platformRef", "spec")
    if not name:
        raise SpecError("spec.platformRef.name: give the name of a Platform in this namespace")
    check_platform_ref(name, "spec.platformRef.name")
    return name


def parse_container(body: Mapping[str, Any], platform: PlatformSpec | None = None) -> ContainerSpec:
    """With `platform`, also refuse what the effective delivery form cannot carry."""
    name, namespace = fields.meta(body)
    check_member_name("ExecutionContainer", name)
    spec = fields.section(body, "spec")
    tls = fields.section(spec, "tls")
    delivery = fields.delivery(spec)
    if platform is not None:
        choice = delivery or platform.delivery
        web_ui = choice.web_ui_tls
        props = fields.properties(spec, "spec", web_ui)
        fields.check_delivery(
            choice, props, platform.tls, "spec", fields.pod(spec, platform.tls.mount_path)
        )
    return ContainerSpec(
        name=name,
        namespace=namespace,
        platform=_platform_ref(spec),
        image=fields.image(spec),
        image_pull_policy=spec.get("imagePullPolicy"),
        replicas=int(spec.get("replicas", 1)),
        # The Platform's tls.mountPath is not known here: a clash with it is for the reconcile
        # pass to report (not done yet).
        pod=fields.pod(spec, None),
        properties=fields.properties(spec, "spec", bool(delivery and delivery.web_ui_tls)),
        alias=str(tls["alias"]).lower() if tls.get("alias") else None,
        delivery=delivery,
        workload_ref=fields.workload_ref(spec),
    )


def parse_desktop(body: Mapping[str, Any]) -> DesktopSpec:
    name, namespace = fields.meta(body)
    spec = fields.section(body, "spec")
    user = spec.get("user")
    if not user:
        raise SpecError("spec.user: give the desktop user's name (the certificate's subject)")
    check_member_name("DesktopClient", name)
    check_user(str(user))
    duration = fields.parse_duration(str(spec.get("duration", "8760h")), "spec.duration")
    check_durations(duration, None, "spec.")
    return DesktopSpec(
        name=name,
        namespace=namespace,
        platform=_platform_ref(spec),
        user=str(user),
        key_algorithm=fields.key_algorithm(fields.section(spec, "key"), "spec.key"),
        duration=duration,
        store=fields.store_format(fields.section(spec, "format"), "spec.format"),
        alias=str(spec.get("alias", "desktop")).lower(),
        password_secret_name=fields.ref_name(spec, "passwordSecretRef", "spec"),
    )
