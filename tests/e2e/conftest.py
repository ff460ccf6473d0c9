"""End-to-end fixtures: the JVM probe for keystore checks (cluster fixtures are in tests/), and
a check after every operator test that no private key or password leaked."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.javafixtures import java_probe

__all__ = ["java_probe"]

PASSWORD_KEYS = (
    "keystore.password",
    "key.password",
    "keystore.password.base64",
    "key.password.base64",
    "keystore.password.encrypted",
    "key.password.encrypted",
)


def secret_values(cluster: Any, ns: str) -> set[str]:
    """What must never show up elsewhere: every password and a line of every private key."""
    found: set[str] = set()
    for secret in cluster.get_json("secrets", "-n", ns)["items"]:
        for key, value in (secret.get("data") or {}).items():
            text = base64.b64decode(value).decode(errors="replace")
            if key in PASSWORD_KEYS and len(text.strip()) >= 8:
                found.add(text.strip())
                found.add(base64.b64encode(text.strip().encode()).decode())
            if "PRIVATE KEY-----" in text:
                body = [line for line in text.splitlines() if line and "-----" not in line]
                found.update(body[1:2])  # one full base64 line of the key
    return found


def public_texts(cluster: Any, ns: str, operator: Any) -> dict[str, str]:
    """Where the operator writes for people and tools: log, Events, status, ConfigMaps, and
    the pod specs of its StatefulSets and Deployments."""
    crs = cluster.get_json("platforms,executioncontainers,desktopclients", "-n", ns)["items"]
    return {
        "operator log": operator.log_text(),
        "events": json.dumps(cluster.get_json("events", "-n", ns)["items"]),
        "status": json.dumps([cr.get("status") for cr in crs]),
        "configmaps": json.dumps(
            [cm.get("data") for cm in cluster.get_json("configmaps", "-n", ns)["items"]]
        ),
        "pod specs": json.dumps(cluster.get_json("statefulsets,deployments", "-n", ns)["items"]),
    }


@pytest.fixture(autouse=True)
def secrets_stay_secret(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that runs the operator in a namespace: no password or private key of
    that namespace's Secrets appears in the operator's log, Events, status or ConfigMaps."""
    if not {"operator", "namespace"} <= set(request.fixturenames):
        yield
        return
    ns = request.getfixturevalue("namespace")  # torn down after this fixture
    cluster = request.getfixturevalue("kube_cluster")
    operator = request.getfixturevalue("operator")
    yield
    secrets = secret_values(cluster, ns)
    texts = public_texts(cluster, ns, operator)
    leaks = [
        f"a {'key' if len(s) > 60 else 'password'} in the {where}"
        for s in secrets
        for where, text in texts.items()
        if s in text
    ]
    assert "PRIVATE KEY" not in texts["operator log"] + texts["events"]
    assert not leaks, leaks
