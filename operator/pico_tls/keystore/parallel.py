"""Encoding many keystores on every core.

A PKCS12 store's key derivations (RFC 7292 appendix B, 2,048 SHA-1 rounds each, five per store)
run in Python and hold the GIL: threads do not help, processes do. `StorePool` encodes a batch in
worker processes (started with `spawn`: the operator runs threads, which a fork would copy
mid-flight); `encode_serial` is the same in this process. Both return exactly what
`encode_keystore` returns for each job, in order. Content crosses to a worker as DER (its key as
unencrypted PKCS#8 over the pool's local pipe; never logged, never in an exception message).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from pico_tls.keystore.codec import encode_keystore
from pico_tls.keystore.model import KeyEntry, KeystoreContent, StoreOptions
from pico_tls.pki.keys import key_from_der, key_to_der

log = logging.getLogger(__name__)
Job = tuple[KeystoreContent, StoreOptions]
Encoder = Callable[[Sequence[Job]], list[bytes]]
Wire = tuple[Any, tuple[tuple[str, bytes], ...], StoreOptions]


def encode_serial(jobs: Sequence[Job]) -> list[bytes]:
    return [encode_keystore(content, options) for content, options in jobs]


def _to_wire(content: KeystoreContent, options: StoreOptions) -> Wire:
    entry = content.key_entry
    key = None
    if entry is not None:
        chain = tuple(c.public_bytes(Encoding.DER) for c in entry.chain)
        key = (entry.alias, key_to_der(entry.key), chain)
    trusted = tuple((alias, cert.public_bytes(Encoding.DER)) for alias, cert in content.trusted)
    return key, trusted, options


def _encode_wire(wire: Wire) -> bytes:
    """In a worker: the content back from DER, then encoded."""
    key, trusted, options = wire
    entry = None
    if key is not None:
        alias, key_der, chain = key
        certs = tuple(x509.load_der_x509_certificate(c) for c in chain)
        entry = KeyEntry(alias, key_from_der(key_der, validate=False), certs)
    content = KeystoreContent(
        entry, tuple((a, x509.load_der_x509_certificate(c)) for a, c in trusted)
    )
    return encode_keystore(content, options)


MAX_WORKERS = 4  # each worker process holds ~45 MiB: 4 stay well inside the 512 MiB limit


def usable_cpus() -> int:
    """The CPUs this process may use, at least 1 and at most MAX_WORKERS: the container's
    cpuset, lowered by a CPU limit (cgroup v2 `cpu.max`), never the node's count alone."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return worker_count(cpus, _cpu_quota(Path("/sys/fs/cgroup/cpu.max")))


def worker_count(cpus: int, quota: float | None) -> int:
    """`cpus` lowered to a CPU quota (rounded up), within 1..MAX_WORKERS."""
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, min(cpus, MAX_WORKERS))


def _cpu_quota(cpu_max: Path) -> float | None:
    """CPUs allowed by a cgroup v2 `cpu.max` ("<quota> <period>", "max" for none)."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


class StorePool:
    """Encodes batches of keystores in `workers` processes (started on first use, kept)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or usable_cpus()
        self._pool: Executor | None = None
        self.broken = False  # the workers could not run: serial from then on

    def __call__(self, jobs: Sequence[Job]) -> list[bytes]:
        if self.workers < 2 or len(jobs) < 2 or self.broken:
            return encode_serial(jobs)
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        wires = [_to_wire(content, options) for content, options in jobs]
        chunk = max(1, len(wires) // (self.workers * 4))
        try:
            return list(self._pool.map(_encode_wire, wires, chunksize=chunk))
        except (BrokenProcessPool, OSError) as err:  # no workers here: encode in this process
            log.warning("keystore workers unavailable (%s); encoding in one process", type(err))
            self.close()
            self.broken = True
            return encode_serial(jobs)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
