"""Benchmark: a first pass's key generation on every core against the serial floor (issue 18,
item 3).

In one process, no cluster: a Platform with N ExecutionContainers and N DesktopClients
(RSA-2048, PKCS12: the defaults) in an in-memory namespace (pico_harness.support.world), and
its first pass decided from that snapshot. Measured per round, alternating:

- **serial floor**: the same keys (`keysupply.wanted_keys`: the CA, the Platform, every member)
  generated one after the other;
- **keys made ahead**: `keysupply.prepare` (a thread per CPU; OpenSSL releases the GIL);
- **first pass, parallel**: `prepare` + `decide` with the prepared keys and its keystores
  encoded by a `StorePool` (a worker process per CPU, started before the rounds, as the
  operator keeps its pool): what the operator does;
- **first pass, serial**: `decide` generating each key when it needs it and encoding every
  store in this process (before this change).

Reported: medians over `--rounds`, and the ratios to the serial floor of the same run. The rest
of a first pass (certificates, PKCS12 stores, plan) is the parallel first pass minus its key
preparation. Run from the repository root:

    .venv/bin/python -m bench.bench_first_pass_keys --members 50 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pico_harness.support.world import World, custom
from pico_tls.keystore import KeyEntry, KeystoreContent, StoreFormat, StoreOptions
from pico_tls.keystore.parallel import Job, StorePool
from pico_tls.pki.certs import self_signed_certificate
from pico_tls.pki.keys import KeyAlgorithm, generate_key
from pico_tls.reconcile.decide import decide
from pico_tls.reconcile.keysupply import prepare, wanted_keys


def group(members: int) -> World:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": {"requireClientAuth": True}}))
    for i in range(members):
        spec = {"platformRef": {"name": "mz"}, "image": "i"}
        world.add(custom("ExecutionContainer", f"ec{i}", spec))
        desk = {"platformRef": {"name": "mz"}, "user": f"u{i}"}
        world.add(custom("DesktopClient", f"d{i}", desk))
    return world


def encode_jobs() -> list[Job]:
    key = generate_key(KeyAlgorithm.EC_P256)
    cert = self_signed_certificate(key, common_name="warm-up", duration=timedelta(days=1))
    content = KeystoreContent(KeyEntry("a", key, (cert,)))
    return [(content, StoreOptions(StoreFormat.JKS, "warm-up", "warm-up"))] * 4


def timed(work: Callable[[], Any]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def one_round(world: World, pool: StorePool) -> dict[str, float]:
    snapshot = world.snapshot()
    wanted = wanted_keys(snapshot)
    out = {"serial_floor": timed(lambda: [generate_key(a) for _, a in wanted])}
    supply = None

    def parallel() -> None:
        nonlocal supply
        supply = prepare(wanted)
        decide(snapshot, world.now, keys=supply, encoder=pool)

    out["keys_made_ahead"] = timed(lambda: prepare(wanted))
    out["first_pass_parallel"] = timed(parallel)
    out["first_pass_serial"] = timed(lambda: decide(snapshot, world.now))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50, help="containers, and as many desktops")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    world = group(args.members)
    keys = len(wanted_keys(world.snapshot()))
    load_before = os.getloadavg()
    pool = StorePool()
    pool(encode_jobs())  # start the workers
    rounds = [one_round(world, pool) for _ in range(args.rounds)]
    pool.close()
    median = {k: round(statistics.median(r[k] for r in rounds), 2) for k in rounds[0]}
    floor = median["serial_floor"]
    report = {
        "command": " ".join(["python -m bench.bench_first_pass_keys", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "store_pool_workers": pool.workers,
        "keys": keys,
        "medians_seconds": median,
        "ratios_to_serial_floor": {k: round(v / floor, 2) for k, v in median.items()},
        "rest_of_first_pass_seconds": round(
            median["first_pass_parallel"] - median["keys_made_ahead"], 2
        ),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "rounds": rounds,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
