"""The one part of the operator that talks to the Kubernetes API (and the only one importing
the `kubernetes` package): `client` (the operator's requests), `watch` (single-object
watches), `session` (people's commands on their own kubeconfig), `kinds`, `errors`."""

from pico_tls.kube.client import Kube
from pico_tls.kube.errors import Fenced, KubeConfigError, KubeError, KubeUnreachable
from pico_tls.kube.kinds import (
    CONFIGMAP,
    CONTAINER,
    DEPLOYMENT,
    DESKTOP,
    EVENT,
    KINDS_BY_MANIFEST,
    LEASE,
    METADATA_LIST,
    METADATA_WATCH,
    PLATFORM,
    SECRET,
    SERVICE,
    STATEFULSET,
    Kind,
    kind_of,
)
from pico_tls.kube.session import UserSession, call, user_session

__all__ = [
    "CONFIGMAP",
    "CONTAINER",
    "DEPLOYMENT",
    "DESKTOP",
    "EVENT",
    "KINDS_BY_MANIFEST",
    "LEASE",
    "METADATA_LIST",
    "METADATA_WATCH",
    "PLATFORM",
    "SECRET",
    "SERVICE",
    "STATEFULSET",
    "Fenced",
    "Kind",
    "Kube",
    "KubeConfigError",
    "KubeError",
    "KubeUnreachable",
    "UserSession",
    "call",
    "kind_of",
    "user_session",
]
