"""How many desktops one Platform can pin before its keystore Secret reaches the API's 1 MiB
limit, per desktop key type and store format. Each desktop adds its certificate (two while a
renewal is staged or a replaced one is still pinned) to the Platform's store; the Secret's size
is what `pico_tls.reconcile.sizes` checks before writing. Measured with the operator's own
decide on the in-memory API (no cluster): the Secret with 0 and with N desktops, the slope
extrapolated to 1 MiB. Run from the repository root:

    .venv/bin/python bench/bench_store_size.py [--desktops 40]
"""

from __future__ import annotations

import argparse

from pico_harness.support.world import World, custom
from pico_tls.reconcile.sizes import SECRET_LIMIT, secret_size

KEYS = [
    ("RSA", 2048),
    ("RSA", 3072),
    ("RSA", 4096),
    ("ECDSA", 256),
    ("ECDSA", 384),
]


def platform_secret_size(key: tuple[str, int], fmt: str, desktops: int) -> int:
    world = World()
    tls = {"key": {"algorithm": "ECDSA"}, "format": {"type": fmt}}
    world.add(custom("Platform", "mz", {"image": "img", "tls": tls}))
    for i in range(desktops):
        spec = {
            "platformRef": {"name": "mz"},
            "user": f"user{i}",
            "key": {"algorithm": key[0], "size": key[1]},
        }
        world.add(custom("DesktopClient", f"d{i:04}", spec))
    world.reconcile()
    return secret_size(world.get("Secret", "mz-rcp-tls"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--desktops", type=int, default=40)
    n = parser.parse_args().desktops
    print(f"{'desktop key':<12} {'format':<7} {'base B':>7} {'per desktop B':>13} {'limit':>6}")
    for key in KEYS:
        for fmt in ("PKCS12", "JKS"):
            base = platform_secret_size(key, fmt, 0)
            slope = (platform_secret_size(key, fmt, n) - base) / n
            limit = int((SECRET_LIMIT - base) / slope)
            print(f"{key[0]} {key[1]:<7} {fmt:<7} {base:>7} {slope:>13.0f} {limit:>6}")


if __name__ == "__main__":
    main()
