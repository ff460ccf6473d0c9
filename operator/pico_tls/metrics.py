"""The operator's Prometheus metrics (prefix `picotls_`, names modelled on cert-manager's) and
their HTTP endpoint. Gauges are set from the samples a pass computed (`reconcile.samples`); a
group's series that a later pass no longer reports (a deleted resource) are removed.

Label values are names, kinds, phases, condition values, HTTP verbs and status codes: never a
Secret value or a password.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.exposition import generate_latest

from pico_tls.reconcile import samples as s

# No `_created` series beside the counters (as Go clients such as cert-manager's).
disable_created_metrics()  # type: ignore[no-untyped-call]
CERT_LABELS = ("namespace", "name", "kind")
PHASE_LABELS = ("namespace", "name", "phase")
HELP = {
    s.EXPIRATION: "Time the certificate expires (notAfter)",
    s.RENEWAL: "Time the operator renews the certificate",
    s.READY: "1 for the value of the resource's Ready condition",
    s.CLIENT_AUTH_PHASE: "1 for the Platform's client authentication phase",
    s.CA_ROTATION_PHASE: "1 for the phase of a CA rotation in progress (all 0 when none)",
}
GroupKey = tuple[str, str]  # (namespace, platform)
Series = tuple[str, tuple[str, ...]]  # (metric, label values in the gauge's label order)


class Metrics:
    """One registry with every `picotls_` metric; thread-safe (reconciles run in threads)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.labels: dict[str, tuple[str, ...]] = {
            s.EXPIRATION: CERT_LABELS,
            s.RENEWAL: CERT_LABELS,
            s.READY: (*CERT_LABELS, "condition"),
            s.CLIENT_AUTH_PHASE: PHASE_LABELS,
            s.CA_ROTATION_PHASE: PHASE_LABELS,
        }
        self.gauges = {
            metric: Gauge(metric, HELP[metric], labels, registry=r)
            for metric, labels in self.labels.items()
        }
        self.reconciles = Counter(
            "picotls_reconcile", "Reconcile passes of a platform group", ("result",), registry=r
        )
        self.duration = Histogram(
            "picotls_reconcile_duration_seconds",
            "Duration of a reconcile pass of a platform group",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.requests = Counter(
            "picotls_api_requests", "Requests to the Kubernetes API", ("verb", "code"), registry=r
        )
        self.leader = Gauge(
            "picotls_leader_status", "1 while this instance is the leader", registry=r
        )
        self._series: dict[GroupKey, set[Series]] = {}
        self._lock = threading.Lock()

    def record_group(self, key: GroupKey, group: Iterable[s.Sample]) -> None:
        """Set the group's gauges to `group`, removing its series that are no longer in it."""
        with self._lock:
            now: set[Series] = set()
            for sample in group:
                values = dict(sample.labels)
                series = (sample.metric, tuple(values[n] for n in self.labels[sample.metric]))
                self.gauges[sample.metric].labels(*series[1]).set(sample.value)
                now.add(series)
            for metric, gone in self._series.get(key, set()) - now:
                self.gauges[metric].remove(*gone)
            for other, owned in self._series.items():  # a member moved to this group
                if other != key:
                    owned -= now
            self._series[key] = now

    def observe_reconcile(self, result: str, seconds: float) -> None:
        self.reconciles.labels(result).inc()
        self.duration.observe(seconds)

    def count_request(self, verb: str, code: int) -> None:
        self.requests.labels(verb, str(code)).inc()

    def scrape(self) -> str:
        """The text exposition, as Prometheus reads it."""
        return generate_latest(self.registry).decode()

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        """Serve /metrics in a daemon thread."""
        start_http_server(port, address, registry=self.registry)


METRICS = Metrics()


def follow_leader(leading: Callable[[], bool]) -> None:
    """`picotls_leader_status` reads `leading()` (the leader election's standing) at scrape."""
    METRICS.leader.set_function(lambda: 1.0 if leading() else 0.0)
