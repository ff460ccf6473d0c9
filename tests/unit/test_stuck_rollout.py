"""A rollout that cannot finish (ProgressDeadlineExceeded) is reported once and looked at
again with backoff, not every 2 s forever (decide on the in-memory API)."""

from __future__ import annotations

from pico_harness.support.world import World, custom

EC = {"key": {"algorithm": "ECDSA"}}


def stuck_world() -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    world.add(custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"}))
    world.settle()
    body = world.get("ExecutionContainer", "ec1")
    body["spec"]["image"] = "i:2"
    body["metadata"]["generation"] += 1
    world.reconcile()  # the Deployment is written; its new pods never get ready
    deployment = world.get("Deployment", "ec1")
    deployment["status"] = {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": 2,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "conditions": [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "ec1-7d" has timed out progressing.',
            }
        ],
    }
    return world


def test_a_stuck_rollout_backs_off_and_warns_once() -> None:
    world = stuck_world()
    decision = world.reconcile()
    assert decision.requeue_after is not None and decision.requeue_after >= 60
    warnings = [e for e in decision.events if e.type == "Warning"]
    assert [e.reason for e in warnings] == ["RolloutStuck"]
    assert "Deployment ec1" in warnings[0].message
    ready = world.condition("Platform", "mz", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RolloutStuck")
    again = world.reconcile()
    assert [e.reason for e in again.events if e.type == "Warning"] == []
    assert again.requeue_after is not None and again.requeue_after >= 60


def test_a_rollout_that_finishes_after_all_is_ready_again() -> None:
    world = stuck_world()
    world.reconcile()
    world.roll_out()
    world.settle()
    assert world.condition("Platform", "mz", "Ready")["status"] == "True"


def statefulset_rolling() -> World:
    """The Platform's StatefulSet written with a new template whose pod never gets ready
    (no deadline of its own); the operator's apply recorded in managedFields, as the API does."""
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": EC}))
    world.settle()
    body = world.get("Platform", "mz")
    body["spec"]["image"] = "img:2"
    body["metadata"]["generation"] += 1
    world.reconcile()
    statefulset = world.get("StatefulSet", "mz")
    stamp = world.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    statefulset["metadata"]["managedFields"] = [
        {"manager": "pico-tls-operator", "operation": "Apply", "time": stamp},
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "time": "2020-01-01T00:00:00Z",
        },
    ]
    statefulset["status"] = {
        "observedGeneration": statefulset["metadata"]["generation"],
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 0,
        "currentRevision": "r1",
        "updateRevision": "r2",
    }
    return world


def test_a_statefulset_not_ready_past_the_bound_is_stuck_warned_once_and_backs_off() -> None:
    world = statefulset_rolling()
    world.advance(minutes=9)
    early = world.reconcile()
    assert world.condition("Platform", "mz", "Ready")["reason"] == "RollingOut"
    assert early.requeue_after == 30.0  # still rolling: the watch or the safety net looks again
    world.advance(minutes=2)  # 11 min after the apply
    decision = world.reconcile()
    warnings = [e for e in decision.events if e.type == "Warning"]
    assert [e.reason for e in warnings] == ["RolloutStuck"]
    assert "StatefulSet mz" in warnings[0].message
    ready = world.condition("Platform", "mz", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RolloutStuck")
    assert decision.requeue_after is not None and decision.requeue_after >= 60
    assert [e for e in world.reconcile().events if e.type == "Warning"] == []
    world.roll_out()
    world.settle()
    assert world.condition("Platform", "mz", "Ready")["status"] == "True"
