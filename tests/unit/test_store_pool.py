"""Keystores encoded in worker processes (`keystore.parallel.StorePool`) hold exactly what the
serial encoder writes: same entries, keys and certificates, readable with the same passwords,
in the order asked; a pass that encodes with the pool writes what a serial pass writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pico_harness.support.world import World, custom
from pico_tls.keystore import (
    KeyEntry,
    KeystoreContent,
    Pkcs12Profile,
    StoreFormat,
    StoreOptions,
    content_fingerprint,
    decode_keystore,
    parallel,
)
from pico_tls.keystore.parallel import StorePool, encode_serial
from pico_tls.pki import KeyAlgorithm, generate_key, self_signed_certificate
from pico_tls.reconcile.decide import decide
from pico_tls.reconcile.decision import Write


@pytest.fixture(scope="module")
def pool() -> Iterator[StorePool]:
    started = StorePool(workers=2)
    yield started
    started.close()


def jobs() -> list[tuple[KeystoreContent, StoreOptions]]:
    out = []
    formats = [
        (StoreFormat.PKCS12, Pkcs12Profile.LEGACY_3DES),
        (StoreFormat.PKCS12, Pkcs12Profile.MODERN_AES),
        (StoreFormat.JKS, Pkcs12Profile.LEGACY_3DES),
    ]
    for i, (fmt, profile) in enumerate(formats * 2):
        key = generate_key(KeyAlgorithm.EC_P256)
        cert = self_signed_certificate(key, common_name=f"party {i}", duration=timedelta(days=9))
        peer = self_signed_certificate(
            generate_key(KeyAlgorithm.EC_P256), common_name="peer", duration=timedelta(days=9)
        )
        content = KeystoreContent(KeyEntry(f"p{i}", key, (cert,)), (("peer", peer),))
        out.append((content, StoreOptions(fmt, f"store-pw-{i}", f"key-pw-{i}", profile)))
    return out


def test_the_pool_encodes_what_the_serial_encoder_encodes_in_order(pool: StorePool) -> None:
    batch = jobs()
    parallel, serial = pool(batch), encode_serial(batch)
    assert len(parallel) == len(batch)
    for (content, options), mine, theirs in zip(batch, parallel, serial, strict=True):
        decoded = decode_keystore(mine, options)
        assert content_fingerprint(decoded, options) == content_fingerprint(content, options)
        reference = decode_keystore(theirs, options)
        assert content_fingerprint(decoded, options) == content_fingerprint(reference, options)


def test_a_pass_encoding_with_the_pool_writes_the_same_objects(pool: StorePool) -> None:
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": {"key": {"algorithm": "ECDSA"}}}))
    for i in range(3):
        spec = {"platformRef": {"name": "mz"}, "image": "i"}
        world.add(custom("ExecutionContainer", f"ec{i}", spec))
    snapshot = world.snapshot()
    with_pool = decide(snapshot, world.now, encoder=pool)
    names = [f"{a.kind}/{a.name}" for a in with_pool.actions if isinstance(a, Write)]
    serial = decide(snapshot, world.now)
    assert names == [f"{a.kind}/{a.name}" for a in serial.actions if isinstance(a, Write)]
    world.apply(with_pool)
    world.roll_out()
    assert world.decide().writes == []  # the stores the pool wrote read back as up to date


def test_worker_count_follows_a_cpu_limit_and_is_capped(tmp_path: Path) -> None:
    """A node's 64 CPUs never start 64 worker processes: a `cpu.max` quota lowers the count,
    and MAX_WORKERS bounds it (each worker costs memory inside the operator's limit)."""
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert parallel._cpu_quota(cpu_max) == 1.5
    cpu_max.write_text("max 100000\n")
    assert parallel._cpu_quota(cpu_max) is None
    assert parallel._cpu_quota(tmp_path / "absent") is None
    assert parallel.worker_count(64, None) == parallel.MAX_WORKERS == 4
    assert parallel.worker_count(64, 1.5) == 2
    assert parallel.worker_count(1, None) == parallel.worker_count(8, 0.1) == 1
    assert 1 <= parallel.usable_cpus() <= parallel.MAX_WORKERS
