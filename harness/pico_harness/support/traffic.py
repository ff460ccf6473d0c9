"""Live traffic between the pico stand-in pods, scraped from their `/stats` endpoints.

A background thread lists the namespace's pico pods (straight from the apiserver, no kubectl
per scrape) and reads every pod's counters twice a second. A pod's counters die with it, so
each scrape is kept per pod (by uid): a window [t0, t1] sums, per pod, the counters of its last
scrape before t1 minus those of its last scrape before t0. What a pod counted between its last
scrape and its end (at most one interval) is not seen; the Platform's own counters see the
same handshakes from the other side.

Outcomes (pico_harness/images/standin/src/Outcome.java): `ok`; TLS failures `tls_rejected_by_peer`,
`tls_rejected_peer`, `tls_error`; the Platform unreachable `refused`, `reset`, `timeout`;
others `dns`, `io_error`; `no_hello` (server side: a TCP readiness probe).
"""

from __future__ import annotations

import base64
import bisect
import json
import ssl
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TLS_FAILURES = ("tls_rejected_by_peer", "tls_rejected_peer", "tls_error")
UNREACHABLE = ("refused", "reset", "timeout")
OTHER = ("dns", "io_error")
EC_COMPONENT = "execution-container"
PLATFORM_COMPONENT = "platform"
STATS_PORTS = {EC_COMPONENT: 9090, PLATFORM_COMPONENT: 9000}


class ApiReader:
    """GETs against the apiserver with the admin credentials of a kubeconfig (embedded data)."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self.server = cluster["server"]
        self._dir = tempfile.TemporaryDirectory(prefix="pico-traffic-")
        ca = Path(self._dir.name) / "ca.crt"
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        self.context = ssl.create_default_context(cafile=str(ca))
        cert, key = Path(self._dir.name) / "client.crt", Path(self._dir.name) / "client.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        self.context.load_cert_chain(str(cert), str(key))

    def get(self, path: str, **query: str) -> Any:
        url = f"{self.server}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, context=self.context, timeout=5) as resp:
            return json.load(resp)

    def close(self) -> None:
        self._dir.cleanup()


@dataclass
class PodTrack:
    """What was scraped from one pod during its life."""

    uid: str
    name: str
    component: str
    instance: str  # the custom resource's name (app.kubernetes.io/instance)
    times: list[float] = field(default_factory=list)  # epoch seconds of each scrape
    counts: list[dict[str, int]] = field(default_factory=list)  # cumulative, "outcome"
    peers: list[dict[str, int]] = field(default_factory=list)  # cumulative, "peer|outcome"
    last: dict[str, Any] = field(default_factory=dict)  # the last /stats body

    def add(self, at: float, stats: dict[str, Any]) -> None:
        self.times.append(at)
        self.counts.append({k: int(v["count"]) for k, v in stats["outcomes"].items()})
        self.peers.append(
            {
                f"{p}|{o}": int(n)
                for p, outcomes in stats["peers"].items()
                for o, n in outcomes.items()
            }
        )
        self.last = stats

    def _at(self, series: list[dict[str, int]], t: float) -> dict[str, int]:
        i = bisect.bisect_right(self.times, t)
        return series[i - 1] if i else {}

    def delta(self, t0: float, t1: float, peers: bool = False) -> dict[str, int]:
        series = self.peers if peers else self.counts
        start, end = self._at(series, t0), self._at(series, t1)
        return {k: v - start.get(k, 0) for k, v in end.items() if v - start.get(k, 0)}

    def first_ok(self) -> float | None:
        ok = self.last.get("outcomes", {}).get("ok")
        return ok["first"] / 1000 if ok else None

    def bad_intervals(self, kinds: Iterable[str]) -> list[tuple[float, float]]:
        """Intervals (epoch s) in which this pod's state was one of `kinds`, from its state
        changes; an interval still open ends at the pod's last scrape."""
        wanted, out = set(kinds), []
        began: float | None = None
        for change in self.last.get("changes", []):
            at = change["at"] / 1000
            if began is not None and change["to"] not in wanted:
                out.append((began, at))
                began = None
            elif began is None and change["to"] in wanted:
                began = at
        if began is not None and self.times:
            out.append((began, max(began, self.times[-1])))
        return out


def union_seconds(intervals: Iterable[tuple[float, float]], t0: float, t1: float) -> float:
    """Length of the union of `intervals`, clipped to [t0, t1]."""
    clipped = sorted((max(a, t0), min(b, t1)) for a, b in intervals if b > t0 and a < t1)
    total, end = 0.0, t0
    for a, b in clipped:
        if b > end:
            total += b - max(a, end)
            end = b
    return total


@dataclass
class Window:
    """Traffic in one transition."""

    name: str
    t0: float
    t1: float
    ec: dict[str, int]  # outcomes counted by the Execution Containers
    ec_by_instance: dict[str, dict[str, int]]  # the same per custom resource (instance label)
    platform: dict[str, int]  # outcomes counted by the Platform (every client, desktops too)
    platform_peers: dict[str, int]  # "peer|outcome" counted by the Platform (known peers only)
    unreachable_seconds: float  # union over EC pods of refused/reset/timeout states
    unreachable_max_pod_seconds: float
    ec_pods: int
    platform_pods: int

    @property
    def tls_failures(self) -> int:
        return sum(self.ec.get(k, 0) for k in TLS_FAILURES)

    @property
    def unreachable_attempts(self) -> int:
        return sum(self.ec.get(k, 0) for k in UNREACHABLE)

    @property
    def platform_tls_failures(self) -> int:
        """TLS failures the Platform counted (a refused peer's subject is often unknown)."""
        return sum(self.platform.get(k, 0) for k in TLS_FAILURES)

    def tls_failures_of(self, instance: str) -> int:
        return sum(self.ec_by_instance.get(instance, {}).get(k, 0) for k in TLS_FAILURES)

    def row(self) -> dict[str, Any]:
        return {
            "transition": self.name,
            "seconds": round(self.t1 - self.t0, 1),
            "ok": self.ec.get("ok", 0),
            "tls_failures": self.tls_failures,
            "platform_tls_failures": self.platform_tls_failures,
            "unreachable_attempts": self.unreachable_attempts,
            "unreachable_s": round(self.unreachable_seconds, 1),
            "unreachable_max_pod_s": round(self.unreachable_max_pod_seconds, 1),
            "other": sum(self.ec.get(k, 0) for k in OTHER),
            "ec_pods": self.ec_pods,
            "platform_pods": self.platform_pods,
        }


class TrafficMonitor:
    """Scrapes every pico pod of `namespace` every `interval` seconds in a thread."""

    def __init__(self, kubeconfig: Path, namespace: str, interval: float = 0.5) -> None:
        self.api = ApiReader(kubeconfig)
        self.namespace = namespace
        self.interval = interval
        self.pods: dict[str, PodTrack] = {}
        self.errors: list[str] = []
        self.scrapes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    def start(self) -> TrafficMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.api.close()

    def __enter__(self) -> TrafficMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.scrape_once()
            except Exception as exc:  # keep scraping; the error is reported
                self.errors.append(f"{time.time():.1f} {exc!r}")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def scrape_once(self) -> None:
        pods = self.api.get(
            f"/api/v1/namespaces/{self.namespace}/pods", labelSelector="app.kubernetes.io/name=pico"
        )["items"]
        for pod in pods:
            labels = pod["metadata"].get("labels", {})
            component = labels.get("app.kubernetes.io/component", "")
            ip = pod.get("status", {}).get("podIP")
            if component not in STATS_PORTS or not ip:
                continue
            try:
                url = f"http://{ip}:{STATS_PORTS[component]}/stats"
                with urllib.request.urlopen(url, timeout=1) as resp:
                    stats = json.load(resp)
            except OSError:
                continue  # not listening yet, or gone
            uid = pod["metadata"]["uid"]
            with self._lock:
                track = self.pods.setdefault(
                    uid,
                    PodTrack(
                        uid,
                        pod["metadata"]["name"],
                        component,
                        labels.get("app.kubernetes.io/instance", ""),
                    ),
                )
                track.add(time.time(), stats)
        self.scrapes += 1

    # -- queries ---------------------------------------------------------------------------

    def tracks(self, component: str) -> list[PodTrack]:
        with self._lock:
            return [t for t in self.pods.values() if t.component == component and t.times]

    def window(self, name: str, t0: float, t1: float) -> Window:
        ec, peers = self.tracks(EC_COMPONENT), self.tracks(PLATFORM_COMPONENT)
        ec_sum: dict[str, int] = {}
        by_instance: dict[str, dict[str, int]] = {}
        platform_sum: dict[str, int] = {}
        peer_sum: dict[str, int] = {}
        for track in ec:
            for k, v in track.delta(t0, t1).items():
                ec_sum[k] = ec_sum.get(k, 0) + v
                mine = by_instance.setdefault(track.instance, {})
                mine[k] = mine.get(k, 0) + v
        for track in peers:
            for k, v in track.delta(t0, t1).items():
                platform_sum[k] = platform_sum.get(k, 0) + v
            for k, v in track.delta(t0, t1, peers=True).items():
                peer_sum[k] = peer_sum.get(k, 0) + v
        intervals = [i for t in ec for i in t.bad_intervals(UNREACHABLE)]
        per_pod = [union_seconds(t.bad_intervals(UNREACHABLE), t0, t1) for t in ec]

        def alive(t: PodTrack) -> bool:
            return t.times[0] <= t1 and t.times[-1] >= t0

        return Window(
            name,
            t0,
            t1,
            ec_sum,
            by_instance,
            platform_sum,
            peer_sum,
            union_seconds(intervals, t0, t1),
            max(per_pod, default=0.0),
            sum(1 for t in ec if alive(t)),
            sum(1 for t in peers if alive(t)),
        )

    def current_ec_states(self, since: float) -> dict[str, str | None]:
        """The state of every EC pod scraped after `since` (pod name -> last outcome)."""
        return {
            t.name: t.last.get("state") for t in self.tracks(EC_COMPONENT) if t.times[-1] > since
        }

    def wait_scrape(self) -> float:
        """Blocks until a full scrape has started and ended after now; returns now."""
        now, seen = time.time(), self.scrapes
        while self.scrapes < seen + 2:
            time.sleep(0.1)
        return now
