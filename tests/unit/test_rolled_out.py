"""What counts as rolled out: every replica runs the current template and is ready, for a
Deployment and a StatefulSet, as the controllers report it in status."""

from __future__ import annotations

from typing import Any

import pytest

from pico_tls.reconcile.rollout import rolled_out


def workload(kind: str, replicas: int, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "w", "generation": 2},
        "spec": {"replicas": replicas, "template": {"metadata": {}}},
        "status": status,
    }


def done(replicas: int, **extra: Any) -> dict[str, Any]:
    return {
        "observedGeneration": 2,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        **extra,
    }


SAME = {"currentRevision": "r2", "updateRevision": "r2"}
CASES = [
    ("Deployment", 2, done(2), True),
    ("Deployment", 0, {"observedGeneration": 2}, True),  # scaled to zero: nothing to wait for
    ("Deployment", 2, {**done(2), "observedGeneration": 1}, False),  # controller not caught up
    # Mid-surge: the new pod is up and ready, one old pod still runs the old template.
    ("Deployment", 2, {**done(2), "updatedReplicas": 1, "replicas": 3, "readyReplicas": 3}, False),
    ("Deployment", 2, {**done(2), "updatedReplicas": 1}, False),  # fewer updated than desired
    ("Deployment", 2, {**done(2), "replicas": 3}, False),  # an old pod not yet gone
    ("Deployment", 2, {**done(2), "readyReplicas": 1}, False),  # a new pod not ready
    ("Deployment", 1, {}, False),  # no status yet
    ("StatefulSet", 1, done(1, **SAME), True),
    ("StatefulSet", 1, done(1, currentRevision="r1", updateRevision="r2"), False),
    ("StatefulSet", 2, done(2, **SAME, updatedReplicas=1), False),
    ("StatefulSet", 2, done(2, **SAME, readyReplicas=1), False),
    ("StatefulSet", 1, {**done(1, **SAME), "observedGeneration": 1}, False),
]


@pytest.mark.parametrize(("kind", "replicas", "status", "expected"), CASES)
def test_what_counts_as_rolled_out(
    kind: str, replicas: int, status: dict[str, Any], expected: bool
) -> None:
    assert rolled_out(workload(kind, replicas, status)) is expected


def test_a_workload_that_does_not_exist_has_not_rolled_out() -> None:
    assert rolled_out(None) is False
