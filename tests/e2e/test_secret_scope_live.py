"""End-to-end: the operator receives only its own Secrets and the user Secrets a platform
reads; an unrelated Secret never reaches it, a referenced one reaches it without a resync."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from pico_harness.support.resources import platform, secret_data, wait_ready

pytestmark = pytest.mark.e2e

UNRELATED = 40


def unrelated_secrets(ns: str) -> dict[str, Any]:
    items = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"bystander-{i}", "namespace": ns},
            "stringData": {"payload": "x" * 2048},
        }
        for i in range(UNRELATED)
    ]
    return {"apiVersion": "v1", "kind": "List", "items": items}


def wait_quiet(operator: Any, seconds: float = 4.0, timeout: float = 60.0) -> None:
    """Until the operator's log has not grown for `seconds` (no pass is pending)."""
    deadline = time.monotonic() + timeout
    size, since = len(operator.log_text()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now_size = len(operator.log_text())
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
    raise AssertionError("the operator never went quiet")


def test_unrelated_secrets_stay_out_and_a_referenced_one_is_followed(
    kube_cluster: Any, operator: Any, namespace: str
) -> None:
    ns = namespace
    start = len(operator.log_text())
    kube_cluster.apply(unrelated_secrets(ns))
    kube_cluster.kubectl(
        "create", "secret", "generic", "pico-pw", "-n", ns,
        "--from-literal=keystore.password=first-Passw0rd",
    )  # fmt: skip
    kube_cluster.apply(platform(ns, passwordSecretRef={"name": "pico-pw"}))
    wait_ready(kube_cluster, "platform", "mz", ns)
    wait_quiet(operator)
    assert secret_data(kube_cluster, "mz-rcp-tls", ns)["keystore.password"] == b"first-Passw0rd"

    # Edit the unrelated Secrets: the operator hears nothing of them.
    for i in range(0, UNRELATED, 8):
        kube_cluster.kubectl(
            "label", "secret", f"bystander-{i}", "-n", ns, "touched=yes", "--overwrite"
        )
    wait_quiet(operator)
    assert "bystander-" not in operator.log_text()[start:]

    # The referenced Secret changes while nothing else is due (the resync is 10 minutes away):
    # only its own watch can bring the platform back.
    kube_cluster.kubectl(
        "patch", "secret", "pico-pw", "-n", ns, "--type=merge",
        "-p", json.dumps({"stringData": {"keystore.password": "second-Passw0rd"}}),
    )  # fmt: skip
    kube_cluster.wait_until(
        "the new password in the keystore Secret",
        lambda: (
            secret_data(kube_cluster, "mz-rcp-tls", ns)["keystore.password"] == b"second-Passw0rd"
        ),
        timeout=30,
    )
