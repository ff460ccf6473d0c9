"""A real Prometheus (tests/support/prometheus.py) scrapes the operator's metrics endpoint on
loopback: the samples a pass computed, queried through Prometheus's HTTP API with the
operator's own labels. (The same on the real node's operator pod: tests/e2e/test_real_pods.py.)"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from pico_harness.support.prometheus import free_port, running_prometheus
from pico_harness.support.world import World, custom
from pico_tls.metrics import Metrics
from pico_tls.reconcile.samples import group_samples


def test_prometheus_reads_the_platform_expiry_and_its_change(tmp_path: Path) -> None:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": {"key": {"algorithm": "ECDSA"}}}))
    world.settle()
    metrics = Metrics()
    metrics.record_group(("ns", "mz"), group_samples(world.snapshot(), world.decide()))
    port = free_port()
    metrics.serve(port, "127.0.0.1")
    pod = {
        "metadata": {"namespace": "pico-tls-system", "name": "op-1"},
        "spec": {"containers": [{"ports": [{"name": "metrics", "containerPort": port}]}]},
        "status": {"podIP": "127.0.0.1"},
    }
    query = 'picotls_certificate_expiration_timestamp_seconds{kind="Platform",name="mz"}'
    with running_prometheus(tmp_path) as prometheus:
        prometheus.set_targets([pod])

        def scraped() -> list[float]:
            return [float(r["value"][1]) for r in prometheus.query(query)]

        first = wait_for(scraped, lambda found: len(found) == 1)
        labels = prometheus.query(query)[0]["metric"]
        assert labels["namespace"] == "ns" and labels["pod"] == "op-1", labels
        metrics.record_group(("ns", "mz"), ())  # the Platform deleted: its series go
        wait_for(scraped, lambda found: found == [])
    not_after = world.status("Platform", "mz")["notAfter"].replace("Z", "+00:00")
    assert first == [datetime.fromisoformat(not_after).timestamp()]


def wait_for(read, done, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if done(found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.5)
