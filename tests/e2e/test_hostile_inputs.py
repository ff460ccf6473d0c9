"""The hostile-input corpus (pico_harness.support.hostile) against a real apiserver with crds/:
every input the schema can judge is refused with the message the corpus expects (a message
that says what to fix), and every edge case of ACCEPTED is let through. The same corpus runs
against the spec parsers in tests/unit/test_hostile_specs.py."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pico_harness.support.hostile import ACCEPTED, HOSTILE, Hostile

pytestmark = pytest.mark.e2e

SCHEMA_CASES = [case for case in HOSTILE if case.crd is not None]


@pytest.fixture(scope="module")
def hostile_ns(crds: Any) -> Iterator[str]:
    name = "hostile-inputs"
    crds.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        crds.kubectl("delete", "namespace", name, "--wait=false", check=False)


def create(cluster: Any, namespace: str, body: dict[str, Any]) -> tuple[bool, str]:
    """kubectl create of one object, sent as JSON so control characters arrive as written."""
    sent = copy.deepcopy(body)
    sent["metadata"]["namespace"] = namespace
    proc = cluster.kubectl("create", "-f", "-", input_text=json.dumps(sent), check=False)
    return proc.returncode == 0, proc.stdout + proc.stderr


def test_corpus_size() -> None:
    assert len(SCHEMA_CASES) >= 60, len(SCHEMA_CASES)


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=[c.id for c in SCHEMA_CASES])
def test_schema_refuses(crds: Any, hostile_ns: str, case: Hostile) -> None:
    created, output = create(crds, hostile_ns, case.body)
    if created:  # leave the namespace clean for the other cases
        crds.kubectl("delete", "-n", hostile_ns, case.kind.lower(), case.body["metadata"]["name"])
    assert not created, f"{case.id} was accepted"
    assert case.crd is not None and case.crd in output, output


@pytest.mark.parametrize(("case_id", "body"), ACCEPTED, ids=[i for i, _ in ACCEPTED])
def test_schema_accepts_the_edges(
    crds: Any, hostile_ns: str, case_id: str, body: dict[str, Any]
) -> None:
    created, output = create(crds, hostile_ns, body)
    assert created, output
    crds.kubectl("delete", "-n", hostile_ns, body["kind"].lower(), body["metadata"]["name"])
