"""A corpus of hostile custom resources, each with the refusal expected from the apiserver (a
substring of its message, from the CEL rules and patterns of crds/) and from the spec parsers
of pico_tls.spec (a substring of the SpecError), so both layers are checked on the same inputs.

`crd=None` means the schema cannot see the problem (the parsers or the reconcile pass must);
`spec=None` means the parser leaves it to the schema or to the reconcile pass. ACCEPTED holds
inputs at the edge of each rule that both layers must let through, so no rule refuses too much.
Used by tests/unit/test_hostile_specs.py and tests/e2e/test_hostile_inputs.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

API_VERSION = "picotls.dev/v1alpha1"
IMAGE = "registry.example/pico:9.5"


@dataclass(frozen=True)
class Hostile:
    id: str
    body: dict[str, Any]
    crd: str | None
    spec: str | None

    @property
    def kind(self) -> str:
        return str(self.body["kind"])


def platform(name: str = "mz", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Platform",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"image": IMAGE, **spec},
    }


def container(name: str = "ec1", platform_name: str = "mz", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ExecutionContainer",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"image": IMAGE, "platformRef": {"name": platform_name}, **spec},
    }


def desktop(
    name: str = "alice", platform_name: str = "mz", user: str = "alice", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "DesktopClient",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"user": user, "platformRef": {"name": platform_name}, **spec},
    }


def _pod(**template: Any) -> dict[str, Any]:
    return {"podTemplate": template}


def _mount(path: str) -> dict[str, Any]:
    return _pod(volumeMounts=[{"name": "data", "mountPath": path}])


def _env(*names: str) -> dict[str, Any]:
    return _pod(env=[{"name": n, "value": "x"} for n in names])


# Substrings of the messages (CRD rule, parser).
PLATFORM_NAME = ("a Platform name must be at most 52", "a Platform name must be at most 52")
HEADLESS = ("must not end in -headless", "must not end in -headless")
DC_NAME = ("a DesktopClient name must be at most 63", "a DesktopClient name must be at most 63")
EC_NAME = (
    "an ExecutionContainer name must be at most 63",
    "an ExecutionContainer name must be at most 63",
)
REF = ("platformRef.name must name a Platform", "name a Platform")
DURATION = ("tls.duration must be between 1h and 87600h", "duration: must be between 1h and 87600h")
DC_DURATION = ("duration must be between 1h and 87600h", "spec.duration: must be between 1h")
HALF = ("at most half of tls.duration", "at most half of spec.tls.duration")
SHORTER = ("tls.renewBefore must be shorter than tls.duration", "must be shorter than")
NOT_DURATION = ("should match", "is not a duration")
USER = ("user must not contain control or format characters", "must not contain control or format")
USER_SPACE = ("user must not start or end with a space", "must not start or end with a space")
ENV = ("podTemplate.env must not set", "is set by the operator; remove it")
VOLUME = ("must not be named pico-tls or pico-properties", "is the operator's; rename")
TLS_MOUNT = ("must not mount anything at tls.mountPath or under it", "where the operator mounts")
PROPS_MOUNT = ("must not mount anything at /etc/pico/properties", "where the operator mounts")
CLEAN = ("mountPath must be a clean absolute path", None)
KEY = ("properties keys must be at most 253 letters", "must be at most 253 letters, digits")
VALUE = ("should match", "must not contain control characters")
PASSWORD_REF = (
    "passwordSecretRef.name must not end in -rcp-tls",
    "named like a Secret the operator",
)
DUPLICATE = ("Duplicate value", "appears twice")
TLS_PATH_PROPS = (
    "tls.mountPath must not be /etc/pico/properties",
    "must not be /etc/pico/properties",
)


def _case(case_id: str, body: dict[str, Any], expected: tuple[str | None, str | None]) -> Hostile:
    return Hostile(case_id, body, *expected)


def _tls(**tls: Any) -> dict[str, Any]:
    return {"tls": tls}


HOSTILE: list[Hostile] = [
    # -- names the operator derives object names and label values from ----------------------
    _case("desktop-name-64", desktop(name="d" * 64), DC_NAME),
    _case("desktop-name-100", desktop(name="a" * 99 + "z"), DC_NAME),
    _case("container-name-64", container(name="e" * 64), EC_NAME),
    _case("container-name-dotted-70", container(name="ec." + "x" * 67), EC_NAME),
    _case("platform-name-53", platform(name="p" * 53), PLATFORM_NAME),
    _case("platform-name-dotted", platform(name="mz.prod"), PLATFORM_NAME),
    _case("platform-name-leading-digit", platform(name="1mz"), PLATFORM_NAME),
    _case("platform-y-headless", platform(name="y-headless"), HEADLESS),
    _case("platform-a-b-headless", platform(name="a-b-headless"), HEADLESS),
    _case("container-ref-53", container(platform_name="p" * 53), REF),
    _case("container-ref-dotted", container(platform_name="mz.prod"), REF),
    _case("desktop-ref-60", desktop(platform_name="q" * 60), REF),
    _case("desktop-ref-leading-digit", desktop(platform_name="9mz"), REF),
    _case(
        "container-named-like-its-platform",
        container(name="mz", platform_name="mz"),
        ("cannot have its Platform's name", None),
    ),
    # -- certificate lifetimes --------------------------------------------------------------
    _case(
        "duration-20s-renew-10s", platform(tls={"duration": "20s", "renewBefore": "10s"}), DURATION
    ),
    _case("duration-59m", platform(tls={"duration": "59m", "renewBefore": "10m"}), DURATION),
    _case("duration-3599s", platform(tls={"duration": "3599s", "renewBefore": "1s"}), DURATION),
    _case("duration-87601h", platform(tls={"duration": "87601h"}), DURATION),
    _case("duration-1000000h", platform(tls={"duration": "1000000h"}), DURATION),
    _case("renew-more-than-half", platform(tls={"duration": "2h", "renewBefore": "61m"}), HALF),
    _case("renew-4381h-of-8760h", platform(tls={"renewBefore": "4381h"}), HALF),
    _case("renew-0s", platform(tls={"renewBefore": "0s"}), ("more than 0s", "more than 0s")),
    _case("renew-equals-duration", platform(tls={"duration": "1h", "renewBefore": "1h"}), SHORTER),
    _case("renew-days", platform(tls={"renewBefore": "10d"}), NOT_DURATION),
    _case("duration-negative", platform(tls={"duration": "-1h"}), NOT_DURATION),
    _case("duration-trailing-space", platform(tls={"duration": "8760h "}), NOT_DURATION),
    _case("desktop-duration-20s", desktop(duration="20s"), DC_DURATION),
    _case("desktop-duration-30m", desktop(duration="30m"), DC_DURATION),
    _case("desktop-duration-100000h", desktop(duration="100000h"), DC_DURATION),
    # -- the desktop user, the client certificate's common name -----------------------------
    _case("user-nul", desktop(user="ali\x00ce"), USER),
    _case("user-esc", desktop(user="\x1b[31malice"), USER),
    _case("user-newline", desktop(user="alice\nCN=admin"), USER),
    _case("user-carriage-return", desktop(user="alice\r"), USER),
    _case("user-tab", desktop(user="alice\tbob"), USER),
    _case("user-del", desktop(user="alice\x7f"), USER),
    _case("user-c1-next-line", desktop(user="alice\x85bob"), USER),
    _case("user-right-to-left-override", desktop(user="alice\u202egnp.exe"), USER),
    _case("user-isolates", desktop(user="\u2066admin\u2069"), USER),
    _case("user-zero-width-space", desktop(user="ad\u200bmin"), USER),
    _case("user-byte-order-mark", desktop(user="\ufeffalice"), USER),
    _case("user-line-separator", desktop(user="alice\u2028bob"), USER),
    _case("user-private-use", desktop(user="alice\ue000"), USER),
    _case("user-leading-space", desktop(user=" alice"), USER_SPACE),
    _case("user-trailing-no-break-space", desktop(user="alice\u00a0"), USER_SPACE),
    _case("user-65", desktop(user="u" * 65), ("Too long", "give 1 to 64 characters")),
    _case("user-empty", desktop(user=""), ("should be at least 1", "give the desktop user's name")),
    # -- pod additions that collide with what the operator puts in the pod -----------------
    _case(
        "platform-env-keystore-password", platform(**_env("PICO_RCP_TLS_KEYSTORE_PASSWORD")), ENV
    ),
    _case("container-env-properties-files", container(**_env("PICO_PROPERTIES_FILES")), ENV),
    _case("container-env-key-password", container(**_env("PICO_RCP_TLS_KEY_PASSWORD")), ENV),
    _case("platform-env-twice", platform(**_env("JAVA_OPTS", "JAVA_OPTS")), DUPLICATE),
    _case(
        "container-volume-pico-tls",
        container(**_pod(volumes=[{"name": "pico-tls", "emptyDir": {}}])),
        VOLUME,
    ),
    _case(
        "platform-volume-pico-properties",
        platform(**_pod(volumes=[{"name": "pico-properties", "emptyDir": {}}])),
        VOLUME,
    ),
    _case(
        "platform-volume-twice",
        platform(**_pod(volumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}])),
        DUPLICATE,
    ),
    _case("platform-mount-at-tls", platform(**_mount("/etc/pico/tls")), TLS_MOUNT),
    _case("platform-mount-at-tls-slash", platform(**_mount("/etc/pico/tls/")), TLS_MOUNT),
    _case("platform-mount-under-tls", platform(**_mount("/etc/pico/tls/extra")), TLS_MOUNT),
    _case(
        "platform-mount-at-custom-tls-slash",
        platform(**_tls(mountPath="/opt/tls/"), **_mount("/opt/tls")),
        TLS_MOUNT,
    ),
    _case(
        "platform-mount-double-slash",
        platform(**_tls(mountPath="/opt/tls"), **_mount("/opt/tls//")),
        (CLEAN[0], "where the operator mounts"),
    ),
    _case("platform-mount-at-properties", platform(**_mount("/etc/pico/properties")), PROPS_MOUNT),
    _case(
        "container-mount-at-properties-slash",
        container(**_mount("/etc/pico/properties/")),
        PROPS_MOUNT,
    ),
    _case(
        "container-mount-dot-segment",
        container(**_mount("/etc/pico/./properties")),
        (CLEAN[0], "where the operator mounts"),
    ),
    _case(
        "container-mount-dot-dot",
        container(**_mount("/etc/pico/x/../properties")),
        (CLEAN[0], "where the operator mounts"),
    ),
    _case("container-mount-relative", container(**_mount("data/dir")), CLEAN),
    _case(
        "platform-mount-twice",
        platform(
            **_pod(
                volumeMounts=[
                    {"name": "a", "mountPath": "/data"},
                    {"name": "b", "mountPath": "/data"},
                ]
            )
        ),
        DUPLICATE,
    ),
    _case(
        "tls-mount-at-properties",
        platform(**_tls(mountPath="/etc/pico/properties")),
        TLS_PATH_PROPS,
    ),
    _case("tls-mount-above-properties", platform(**_tls(mountPath="/etc/pico")), TLS_PATH_PROPS),
    _case(
        "tls-mount-under-properties",
        platform(**_tls(mountPath="/etc/pico/properties/tls")),
        TLS_PATH_PROPS,
    ),
    _case(
        "tls-mount-double-slash",
        platform(**_tls(mountPath="/etc//tls")),
        ("tls.mountPath must be a clean path", None),
    ),
    # -- properties Java would read differently ----------------------------------------------
    _case(
        "key-trailing-tab",
        platform(properties={"pico.rcp.platform.host\t": "evil.example.com"}),
        KEY,
    ),
    _case("key-trailing-form-feed", platform(properties={"pico.rcp.platform.host\f": "evil"}), KEY),
    _case("key-leading-space", container(properties={" pico.rcp.platform.port": "1"}), KEY),
    _case("key-equals", platform(properties={"mz.x=pico.rcp.platform.host": "evil"}), KEY),
    _case("key-colon", platform(properties={"pico.rcp.platform.host:x": "evil"}), KEY),
    _case("key-hash-comment", container(properties={"#mz.comment": "x"}), KEY),
    _case("key-bang-comment", container(properties={"!mz.comment": "x"}), KEY),
    _case("key-backslash", platform(properties={"pico\\u002ercp.platform.host": "evil"}), KEY),
    _case("key-cyrillic-a", platform(properties={"pico.rcp.pl\u0430tform.host": "evil"}), KEY),
    _case("key-newline", container(properties={"mz.a\npico.rcp.platform.host": "evil"}), KEY),
    _case("value-newline", platform(properties={"mz.a": "1\npico.rcp.platform.host=evil"}), VALUE),
    _case(
        "value-carriage-return",
        container(properties={"mz.a": "1\rpico.rcp.platform.port=1"}),
        VALUE,
    ),
    _case("value-nul", platform(properties={"mz.a": "1\x00"}), VALUE),
    _case(
        "key-platform-host",
        platform(properties={"pico.rcp.platform.host": "evil"}),
        ("must not contain pico.rcp.platform.host", "is set by the operator"),
    ),
    _case(
        "key-tls-namespace",
        container(properties={"pico.rcp.tls.truststore": "x"}),
        ("must not contain pico.rcp.tls.* keys", "is set by the operator"),
    ),
    # -- password Secrets named like the operator's own -----------------------------------
    _case(
        "platform-password-ref-state",
        platform(**_tls(passwordSecretRef={"name": "mz-rcp-tls-state"})),
        PASSWORD_REF,
    ),
    _case(
        "platform-password-ref-tls",
        platform(**_tls(passwordSecretRef={"name": "ec1-rcp-tls"})),
        PASSWORD_REF,
    ),
    _case(
        "desktop-password-ref-key",
        desktop(passwordSecretRef={"name": "alice-desktop-key"}),
        PASSWORD_REF,
    ),
    _case(
        "desktop-password-ref-state",
        desktop(passwordSecretRef={"name": "bob-desktop-key-state"}),
        PASSWORD_REF,
    ),
]

ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("platform-name-52", platform(name="p" * 52)),
    ("platform-name-headless-inside", platform(name="headless-mz")),
    ("desktop-name-63", desktop(name="d" * 63)),
    ("container-name-63-dotted", container(name="ec." + "x" * 60)),
    ("container-ref-52", container(platform_name="p" * 52)),
    ("duration-1h-renew-30m", platform(tls={"duration": "1h", "renewBefore": "30m"})),
    ("duration-87600h", platform(tls={"duration": "87600h", "renewBefore": "720h"})),
    ("desktop-duration-1h", desktop(duration="1h")),
    ("user-comma", desktop(user="Smith, John")),
    ("user-accents", desktop(user="Zo\u00eb \u00c5ngstr\u00f6m")),
    ("user-cjk", desktop(user="\u674e\u5c0f\u9f99")),
    ("user-64", desktop(user="u" * 64)),
    ("mount-beside-tls", platform(**_mount("/etc/pico/tlsx"))),
    ("mount-above-tls", platform(**_mount("/etc/pico"))),
    ("container-mount-trailing-slash", container(**_mount("/data/tls/"))),
    (
        "properties-plain",
        platform(properties={"mz.webserver.port": "9000", "pico.exec_timeout-ms": "5"}),
    ),
    ("value-with-spaces-and-unicode", platform(properties={"mz.banner": " Welcome \u00e0 pico "})),
    ("env-own", container(**_env("JAVA_OPTS", "TZ"))),
    ("password-ref-own", platform(**_tls(passwordSecretRef={"name": "mz-passwords"}))),
    ("tls-mount-custom", platform(**_tls(mountPath="/opt/pico/tls/"))),
]
