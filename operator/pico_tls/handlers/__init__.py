"""Thin kopf handlers: every watched change marks its platform group due for reconciliation.

No handler stores state on the objects and none adds a finalizer, so an operator restart
writes nothing and a deleted custom resource goes at once (its objects are garbage-collected
through owner references).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import kopf

from pico_tls.builders.names import FIELD_MANAGER, MANAGED_BY, PLATFORM_LABEL
from pico_tls.config import OperatorConfig
from pico_tls.kube import Kube, KubeError
from pico_tls.metrics import METRICS, set_leader
from pico_tls.reconcile.group import GroupReconciler
from pico_tls.scheduler import Scheduler
from pico_tls.spec_model import GROUP, VERSION

log = logging.getLogger(__name__)
_state: dict[str, Any] = {}
OWNED = {MANAGED_BY: FIELD_MANAGER}


def _scheduler() -> Scheduler | None:
    return _state.get("scheduler")


def _enqueue(namespace: str | None, platform: str | None) -> None:
    scheduler = _scheduler()
    if scheduler is not None and namespace and platform:
        scheduler.enqueue((namespace, platform))


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    config = OperatorConfig.from_env()
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    kube = Kube()
    kube.on_response = METRICS.count_request
    if config.metrics_port:
        try:
            METRICS.serve(config.metrics_port)
        except OSError as err:  # the port is taken: reconcile anyway, without metrics
            log.warning("no metrics endpoint on port %d: %s", config.metrics_port, err)
    set_leader(True)  # standalone: this one instance reconciles (a leader election sets it)
    reconciler = GroupReconciler(kube, resync_seconds=config.resync_seconds)
    scheduler = Scheduler(
        reconciler_entry(reconciler, kube, config), config.settle_seconds, config.workers
    )
    _state.update(scheduler=scheduler, kube=kube, reconciler=reconciler)
    # Only our own objects are watched for these kinds (server-side label selector).
    owned = f"{MANAGED_BY}={FIELD_MANAGER}"
    for group, plural in (("v1", "configmaps"), ("apps", "statefulsets"), ("apps", "deployments")):
        settings.watching.label_selectors[group, plural] = owned
    _state["task"] = asyncio.create_task(scheduler.run())


def reconciler_entry(reconciler: GroupReconciler, kube: Kube, config: OperatorConfig) -> Any:
    def run(namespace: str, platform: str) -> float | None:
        start = time.monotonic()
        try:
            outcome = reconciler.reconcile(namespace, platform)
        except Exception as err:
            gone = isinstance(err, KubeError) and err.namespace_terminating
            METRICS.observe_reconcile("success" if gone else "error", time.monotonic() - start)
            if not gone:
                raise
            log.info("namespace %s is being deleted; platform %s left alone", namespace, platform)
            METRICS.record_group((namespace, platform), ())
            return None
        METRICS.observe_reconcile("success", time.monotonic() - start)
        METRICS.record_group((namespace, platform), outcome.samples)
        log.info("reconciled platform %s/%s: %d writes", namespace, platform, outcome.writes)
        if config.stats_file:
            with open(config.stats_file, "w") as out:
                json.dump({"requests": dict(kube.requests)}, out)
        return outcome.requeue_after

    return run


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    task = _state.pop("task", None)
    if task is not None:
        task.cancel()


@kopf.on.event(GROUP, VERSION, "platforms")
def platform_changed(name: str, namespace: str | None, **_: Any) -> None:
    _enqueue(namespace, name)


@kopf.on.event(GROUP, VERSION, "executioncontainers")
@kopf.on.event(GROUP, VERSION, "desktopclients")
def member_changed(spec: kopf.Spec, namespace: str | None, **_: Any) -> None:
    _enqueue(namespace, (spec.get("platformRef") or {}).get("name"))


@kopf.on.event("v1", "configmaps", labels=OWNED)
@kopf.on.event("apps", "v1", "statefulsets", labels=OWNED)
@kopf.on.event("apps", "v1", "deployments", labels=OWNED)
def owned_changed(labels: kopf.Labels, namespace: str | None, **_: Any) -> None:
    _enqueue(namespace, labels.get(PLATFORM_LABEL))


@kopf.on.event("v1", "secrets")
def secret_changed(labels: kopf.Labels, name: str, namespace: str | None, **_: Any) -> None:
    """Our own Secrets (repair) and the user's CA and password Secrets a platform reads."""
    if labels.get(MANAGED_BY) == FIELD_MANAGER:
        _enqueue(namespace, labels.get(PLATFORM_LABEL))
        return
    reconciler: GroupReconciler | None = _state.get("reconciler")
    if reconciler is not None and namespace:
        for platform in reconciler.platforms_reading(namespace, name):
            _enqueue(namespace, platform)
