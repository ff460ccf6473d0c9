"""Reconcile one platform group (a Platform with its ExecutionContainers and DesktopClients):
read (`snapshot`) -> decide (`decide`, pure) -> apply (`apply`). Level-triggered: each pass
starts from what the API holds, so a restarted operator resumes where it stopped."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from pico_tls.clock import Clock, system_clock
from pico_tls.keystore.parallel import Encoder, encode_serial
from pico_tls.kube import PLATFORM, Kube, KubeError
from pico_tls.kube.cache import ObjectCache
from pico_tls.reconcile.apply import WriteConflict, apply_decision
from pico_tls.reconcile.decide import DEFAULT_RESYNC_SECONDS, decide
from pico_tls.reconcile.exclusions import WriteFailure
from pico_tls.reconcile.failures import (
    INTERNAL_ERROR,
    READ_FAILED,
    internal_error_message,
    pass_failed,
    read_failed_message,
)
from pico_tls.reconcile.keysupply import GENERATE, prepare, wanted_keys
from pico_tls.reconcile.readback import DecodedSecrets
from pico_tls.reconcile.samples import Sample, group_samples
from pico_tls.reconcile.snapshot import read_snapshot

MAX_DECISIONS = 4  # decisions per pass: the first, then one per batch of refused writes


class WriteRefused(RuntimeError):
    """The API refused a write of the Platform's own objects (already in its status)."""


@dataclass
class Outcome:
    """What a pass did, and when the group wants another look (seconds)."""

    requeue_after: float | None = None
    writes: int = 0
    samples: tuple[Sample, ...] = ()  # the group's metric samples after the pass


class GroupReconciler:
    """Reconciles platform groups; shared by the worker threads, so it keeps no pass state."""

    def __init__(
        self,
        kube: Kube,
        resync_seconds: float = DEFAULT_RESYNC_SECONDS,
        clock: Clock = system_clock,
        encoder: Encoder = encode_serial,  # the operator: a StorePool (every core)
        cache: ObjectCache | None = None,  # the operator: what its watches delivered
    ) -> None:
        self.kube = kube
        self.cache = cache
        # When each group was last read from the API (LISTs); the cache serves it in between.
        self._listed: dict[tuple[str, str], datetime] = {}
        self._cache_ready_at: datetime | None = None
        self._must_list: set[tuple[str, str]] = set()  # groups whose last pass failed
        self.resync_seconds = resync_seconds
        self.clock = clock
        self._decoded = DecodedSecrets()
        self.encoder = encoder
        # User Secrets (CA, passwords) -> the platform groups that read them, so a change to
        # one of them wakes its groups without watching for it in every pass.
        self.references: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()  # groups are reconciled in parallel threads

    def reconcile(self, namespace: str, platform_name: str, now: datetime | None = None) -> Outcome:
        """Read, decide, apply; when the API refuses a member's write, decide again at once
        without that member (at most MAX_DECISIONS times), so the rest of the group converges
        in this pass. A refused Platform write is reported, then raised for backoff."""
        now = now or self.clock()
        failures: list[WriteFailure] = []
        outcome = Outcome()
        keys = GENERATE
        group = (namespace, platform_name)
        for _ in range(MAX_DECISIONS):
            try:
                cached = self._from_cache(group, now)
                snapshot = read_snapshot(self.kube, *group, self.cache, cached)
                if not cached:
                    self._listed[group] = now
                    self._must_list.discard(group)
                keys = prepare(wanted_keys(snapshot), have=keys)  # every core
                decision = decide(
                    snapshot,
                    now,
                    resync_seconds=self.resync_seconds,
                    decoded=self._decoded,
                    failures=failures,
                    keys=keys,
                    encoder=self.encoder,
                )
            except Exception as err:
                self._must_list.add(group)  # the next try reads from the API
                self._report_failure(namespace, platform_name, err, now)
                raise  # the scheduler backs off
            if decision.references is not None:
                self._remember_references(namespace, platform_name, decision.references)
            try:
                applied = apply_decision(self.kube, decision, now, snapshot)
            except (WriteConflict, KubeError):
                self._must_list.add(group)  # someone wrote meanwhile: read the API again
                raise
            samples = group_samples(snapshot, decision)
            outcome = Outcome(decision.requeue_after, outcome.writes + applied.writes, samples)
            if any(f.owner_kind == "Platform" for f in failures):
                raise WriteRefused(failures[0].describe())  # reported: back off
            if not applied.failures:
                return outcome
            failures += applied.failures
        return Outcome(min(outcome.requeue_after or 5.0, 5.0), outcome.writes, outcome.samples)

    def _from_cache(self, group: tuple[str, str], now: datetime) -> bool:
        """Read from the cache unless it is not ready yet, or the group has not been read from
        the API for a resync period (a watch may have missed a deletion while reconnecting),
        or its last pass failed."""
        if self.cache is None or not self.cache.ready or group in self._must_list:
            return False
        if self._cache_ready_at is None:
            self._cache_ready_at = now  # the watches' first listings stand for a LIST
        listed = self._listed.get(group, self._cache_ready_at)
        return (now - listed).total_seconds() < self.resync_seconds

    def _report_failure(
        self, namespace: str, platform_name: str, err: Exception, now: datetime
    ) -> None:
        """Say on the Platform that this pass could not read or decide (best effort: the
        API may be the one failing)."""
        if isinstance(err, KubeError):
            if err.status in (404, 410) or err.namespace_terminating:
                return  # gone, or a watch to restart: nothing to tell
            reason, message = READ_FAILED, read_failed_message(err.status, err.reason, err.message)
        else:
            reason, message = INTERNAL_ERROR, internal_error_message(type(err).__name__)
        try:
            body = self.kube.get(PLATFORM, namespace, platform_name)
            if body is not None:
                apply_decision(self.kube, pass_failed(body, reason, message, now), now)
        except Exception:
            return  # already failing; the scheduler logs the first error

    def _remember_references(self, namespace: str, platform: str, used: set[str]) -> None:
        with self._lock:
            for key, groups in list(self.references.items()):
                if key[0] == namespace:
                    groups.discard(platform)
                    if not groups:
                        del self.references[key]
            for name in used:
                self.references.setdefault((namespace, name), set()).add(platform)

    def referenced(self) -> set[tuple[str, str]]:
        """Every user Secret (namespace, name) some platform group read in its last pass."""
        with self._lock:
            return set(self.references)

    def platforms_reading(self, namespace: str, secret: str) -> list[str]:
        with self._lock:
            return sorted(self.references.get((namespace, secret), ()))
