"""Passes driven by change (`reconcile.changes`): a workload's status updates start a pass only
when they change whether it rolled out or is stuck; anything `decide` reads of the other kinds,
a spec or metadata edit and a deletion always do; bookkeeping fields never do."""

from __future__ import annotations

import copy
from typing import Any

from pico_tls.reconcile.changes import ChangeFilter


def deployment(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ec1", "namespace": "ns", "generation": 1, "resourceVersion": "1"},
        "spec": {"replicas": 1, "template": {"metadata": {"annotations": {"h": "1"}}}},
        "status": status,
    }


def progressing(**status: Any) -> dict[str, Any]:
    return deployment(observedGeneration=1, replicas=1, updatedReplicas=1, **status)


def test_a_rollout_starts_a_pass_when_seen_and_when_it_ends_not_in_between() -> None:
    changes = ChangeFilter()
    steps = [
        deployment(),  # created: not seen before
        progressing(unavailableReplicas=1),  # replica set made: still not rolled out
        progressing(unavailableReplicas=1, conditions=[{"type": "Available"}]),
        progressing(readyReplicas=1, availableReplicas=1),  # rolled out
        progressing(readyReplicas=1, availableReplicas=1, conditions=[{"type": "Progressing"}]),
    ]
    assert [changes.matters(body) for body in steps] == [True, False, False, True, False]


def test_a_stuck_rollout_matters() -> None:
    changes = ChangeFilter()
    changes.matters(progressing(unavailableReplicas=1))
    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    assert changes.matters(progressing(unavailableReplicas=1, conditions=[deadline]))


def test_spec_and_metadata_edits_and_deletions_matter_bookkeeping_does_not() -> None:
    changes = ChangeFilter()
    body = progressing(readyReplicas=1)
    changes.matters(body)
    same = copy.deepcopy(body)
    same["metadata"]["resourceVersion"] = "2"
    same["metadata"]["managedFields"] = [{"manager": "kube-controller-manager"}]
    assert not changes.matters(same)
    edited = copy.deepcopy(same)
    edited["spec"]["template"]["metadata"]["annotations"]["h"] = "by hand"
    assert changes.matters(edited)
    labelled = copy.deepcopy(edited)
    labelled["metadata"]["labels"] = {"x": "y"}
    assert changes.matters(labelled)
    assert changes.matters(labelled, deleted=True)
    assert changes.matters(labelled)  # seen again after its deletion: a new object


def test_every_change_of_a_secret_matters_and_objects_are_told_apart() -> None:
    changes = ChangeFilter()
    secret = {"kind": "Secret", "metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "1"}}
    assert changes.matters(secret)
    assert not changes.matters(copy.deepcopy(secret))
    assert changes.matters({**secret, "data": {"k": "2"}})
    other = {**secret, "metadata": {"name": "a", "namespace": "other"}}
    assert changes.matters(other)


def test_the_echo_of_the_operators_own_write_starts_no_pass_another_writer_does() -> None:
    changes = ChangeFilter()
    platform = {
        "kind": "Platform",
        "metadata": {"name": "mz", "namespace": "ns", "resourceVersion": "7"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    changes.saw(platform)  # the status patch's response
    assert not changes.matters(copy.deepcopy(platform))  # its watch event
    wiped = {**platform, "status": {}}
    assert changes.matters(wiped)  # someone else's write


def test_the_controllers_revision_annotation_on_a_workload_does_not_matter_ours_does() -> None:
    changes = ChangeFilter()
    applied = deployment()
    applied["metadata"]["annotations"] = {"picotls.dev/applied-hash": "a"}
    changes.saw(applied)
    revised = copy.deepcopy(applied)
    revised["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
    assert not changes.matters(revised)
    rehashed = copy.deepcopy(revised)
    rehashed["metadata"]["annotations"]["picotls.dev/applied-hash"] = "b"
    assert changes.matters(rehashed)


def test_an_event_seen_before_the_write_response_is_explained_by_it() -> None:
    changes = ChangeFilter()
    secret = {"kind": "Secret", "metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "1"}}
    changes.matters({**secret, "data": {"k": "0"}})
    assert changes.matters(secret)  # the watch event came first
    echo = changes.echo(secret)
    assert not echo()
    changes.saw(copy.deepcopy(secret))  # then the write's response
    assert echo()
    assert not changes.echo({**secret, "data": {"k": "2"}})()
