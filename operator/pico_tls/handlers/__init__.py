"""Thin kopf handlers: every watched change marks its platform group due for reconciliation.

No handler stores state on the objects and none adds a finalizer, so an operator restart
writes nothing and a deleted custom resource goes at once (its objects are garbage-collected
through owner references). kopf itself writes nothing either (no peering, no Event posting):
every write is a pass of the scheduler through `Kube`, which the leader election gates (the
scheduler starts passes only on the leader) and fences (`Kube.fence`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

import kopf

from pico_tls import leader
from pico_tls.builders.names import FIELD_MANAGER, MANAGED_BY, PLATFORM_LABEL
from pico_tls.config import OperatorConfig
from pico_tls.election import Elector
from pico_tls.health import Health
from pico_tls.keystore.parallel import StorePool
from pico_tls.kube import Fenced, Kube, KubeError
from pico_tls.kube.cache import ObjectCache
from pico_tls.metrics import METRICS, follow_leader
from pico_tls.reconcile.apply import WriteConflict
from pico_tls.reconcile.changes import ChangeFilter
from pico_tls.reconcile.group import GroupReconciler, Outcome
from pico_tls.scheduler import Check, Scheduler
from pico_tls.spec_model import GROUP, VERSION
from pico_tls.watches import SecretWatches

log = logging.getLogger(__name__)
_state: dict[str, Any] = {}
CONFLICT_RETRIES = 3  # passes read again at once after a 409, before backing off
OWNED = {MANAGED_BY: FIELD_MANAGER}
CHANGES = ChangeFilter()  # what of our own objects' events a pass would see
CACHE = ObjectCache()  # what the watches delivered: passes read it instead of LISTing


def _scheduler() -> Scheduler | None:
    return _state.get("scheduler")


def _enqueue(namespace: str | None, platform: str | None, unless: Check | None = None) -> None:
    scheduler = _scheduler()
    if scheduler is not None and namespace and platform:
        scheduler.enqueue((namespace, platform), unless=unless)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    config = OperatorConfig.from_env()
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.posting.enabled = False  # our Events come from passes (fenced), not from kopf
    settings.watching.server_timeout = 300
    # No watch of CRDs or Namespaces (their RBAC is not granted): the kinds are found once by
    # discovery, the namespaces served are the ones named on the command line (or all).
    settings.scanning.disabled = True
    kube = Kube()
    kube.on_response = METRICS.count_request
    kube.on_written = _written  # our own writes start no pass when their events come
    if config.metrics_port:
        try:
            METRICS.serve(config.metrics_port)
        except OSError as err:  # the port is taken: reconcile anyway, without metrics
            log.warning("no metrics endpoint on port %d: %s", config.metrics_port, err)
    pool = StorePool()  # keystores of a pass encoded on every core
    reconciler = GroupReconciler(
        kube, resync_seconds=config.resync_seconds, encoder=pool, cache=CACHE
    )
    watches = SecretWatches(kube, _user_secret_changed)
    election = leader.ElectionConfig.from_env()
    lease = f"{election.namespace}/{election.lease_name}" if election.enabled else ""
    leadership = leader.Leadership(election.identity, lease)
    leader.install(leadership)
    follow_leader(leadership.leading)
    kube.fence = leadership.check
    scheduler = Scheduler(
        reconciler_entry(reconciler, kube, config, watches, leadership),
        config.settle_seconds,
        config.workers,
        gate=leadership.leading,
    )
    _state.update(scheduler=scheduler, kube=kube, reconciler=reconciler, watches=watches, pool=pool)
    # Only our own objects are watched (server-side label selector): unrelated Secrets,
    # ConfigMaps and workloads never reach the operator. The user's CA and password Secrets
    # are followed by name (`SecretWatches`).
    owned = f"{MANAGED_BY}={FIELD_MANAGER}"
    for group, plural in OWNED_KINDS:
        settings.watching.label_selectors[group, plural] = owned
    # Workloads: ours and the users' attached ones (both labelled with their platform).
    for group, plural in WORKLOAD_KINDS:
        settings.watching.label_selectors[group, plural] = PLATFORM_LABEL
    tasks = [asyncio.create_task(scheduler.run())]
    alive = _always_alive
    if election.enabled:  # a Kube of its own: renewals never wait behind a pass's requests
        elector = Elector(Kube(), election, leadership, busy=scheduler.busy, on_lead=scheduler.poke)
        tasks.append(asyncio.create_task(elector.run()))
        _state["elector"], alive = elector, elector.healthy
    health = Health(leadership, alive)
    if address := os.environ.get("PICO_TLS_HEALTH_ADDRESS"):
        await health.start(address)
    health.ready = True
    _state.update(tasks=tasks, health=health)


def _always_alive() -> bool:
    return True


def _written(body: Any) -> None:
    CHANGES.saw(body)
    CACHE.put(body)


OWNED_KINDS = (("v1", "secrets"), ("v1", "configmaps"), ("v1", "services"))
WORKLOAD_KINDS = (("apps", "statefulsets"), ("apps", "deployments"))


def reconciler_entry(
    reconciler: GroupReconciler,
    kube: Kube,
    config: OperatorConfig,
    watches: SecretWatches | None = None,
    leadership: leader.Leadership | None = None,  # None: no election, always leading
) -> Any:
    leadership = leadership or leader.Leadership("local")

    def attempt(namespace: str, platform: str) -> Outcome:
        """A pass; after a 409 (someone wrote what it read), read and decide again."""
        for _ in range(CONFLICT_RETRIES - 1):
            try:
                return reconciler.reconcile(namespace, platform)
            except WriteConflict as err:
                log.info(
                    "platform %s/%s: %s changed meanwhile; reading again", namespace, platform, err
                )
        return reconciler.reconcile(namespace, platform)

    def run(namespace: str, platform: str) -> float | None:
        if not leadership.leading():
            return 0.0  # stays due; the gate holds it until this replica leads
        start = time.monotonic()
        try:
            outcome = attempt(namespace, platform)
        except Fenced:
            log.info(
                "platform %s/%s: pass stopped, this replica lost the Lease", namespace, platform
            )
            return 0.0
        except Exception as err:
            gone = isinstance(err, KubeError) and err.namespace_terminating
            METRICS.observe_reconcile("success" if gone else "error", time.monotonic() - start)
            if not gone:
                raise
            log.info("namespace %s is being deleted; platform %s left alone", namespace, platform)
            METRICS.record_group((namespace, platform), ())
            return None
        finally:
            if watches is not None:
                watches.follow(reconciler.referenced())
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
    elector: Elector | None = _state.pop("elector", None)
    if elector is not None:
        await elector.release()  # a standby takes over at once, not after the lease duration
    for task in _state.pop("tasks", []):
        task.cancel()
    health: Health | None = _state.pop("health", None)
    if health is not None:
        await health.stop()
    pool: StorePool | None = _state.pop("pool", None)
    if pool is not None:
        pool.close()
    watches: SecretWatches | None = _state.pop("watches", None)
    if watches is not None:
        watches.stop_all()


def _changed(event: kopf.RawEvent, namespace: str | None, platform: str | None) -> None:
    """Wake the group when the event changes what a pass reads. Not for the echo of the
    operator's own write: known already (its response came first), or dropped when its
    response comes before the pass is due (`ChangeFilter.echo`)."""
    body, deleted = event["object"], event.get("type") == "DELETED"
    # kopf calls event handlers only once every watch has listed and the indexers below
    # have cached what it listed: from now on the cache holds everything watched.
    CACHE.ready = True
    if deleted:
        CACHE.drop(body)
    if CHANGES.matters(body, deleted=deleted):
        _enqueue(namespace, platform, unless=None if deleted else CHANGES.echo(body))


# Indexers run for every listed or changed object before any event handler, and kopf holds
# the event handlers until every watch's first listing has been indexed: the cache is complete
# when `_changed` first runs. They keep nothing in kopf's indices (they return None).
@kopf.index(GROUP, VERSION, "platforms", id="cache-platforms")
@kopf.index(GROUP, VERSION, "executioncontainers", id="cache-executioncontainers")
@kopf.index(GROUP, VERSION, "desktopclients", id="cache-desktopclients")
@kopf.index("v1", "secrets", labels=OWNED, id="cache-secrets")
@kopf.index("v1", "configmaps", labels=OWNED, id="cache-configmaps")
@kopf.index("v1", "services", labels=OWNED, id="cache-services")
@kopf.index("apps", "v1", "statefulsets", labels={PLATFORM_LABEL: kopf.PRESENT}, id="cache-sts")
@kopf.index("apps", "v1", "deployments", labels={PLATFORM_LABEL: kopf.PRESENT}, id="cache-deploy")
async def cache_object(body: kopf.Body, **_: Any) -> None:
    CACHE.put(dict(body))


@kopf.on.event(GROUP, VERSION, "platforms")
async def platform_changed(
    event: kopf.RawEvent, name: str, namespace: str | None, **_: Any
) -> None:
    _changed(event, namespace, name)


@kopf.on.event(GROUP, VERSION, "executioncontainers")
@kopf.on.event(GROUP, VERSION, "desktopclients")
async def member_changed(
    event: kopf.RawEvent, spec: kopf.Spec, namespace: str | None, **_: Any
) -> None:
    _changed(event, namespace, (spec.get("platformRef") or {}).get("name"))


@kopf.on.event("v1", "secrets", labels=OWNED)
@kopf.on.event("v1", "configmaps", labels=OWNED)
@kopf.on.event("v1", "services", labels=OWNED)
@kopf.on.event("apps", "v1", "statefulsets", labels={PLATFORM_LABEL: kopf.PRESENT})
@kopf.on.event("apps", "v1", "deployments", labels={PLATFORM_LABEL: kopf.PRESENT})
async def owned_changed(
    event: kopf.RawEvent, labels: kopf.Labels, namespace: str | None, **_: Any
) -> None:
    """Our own objects and the attached workloads (repair, rollout progress), when the change
    matters to a pass."""
    _changed(event, namespace, labels.get(PLATFORM_LABEL))


def _user_secret_changed(namespace: str, name: str) -> None:
    """A user's CA or password Secret a platform reads (from `SecretWatches`' threads)."""
    reconciler: GroupReconciler | None = _state.get("reconciler")
    if reconciler is not None:
        for platform in reconciler.platforms_reading(namespace, name):
            _enqueue(namespace, platform)
