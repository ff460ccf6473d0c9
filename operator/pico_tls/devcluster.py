"""`pico-tls dev-cluster up|down|status|kubeconfig|build`: the local Kubernetes control plane
of the tests (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) for manual
use. Needs a source checkout: it delegates to tests/cluster/localcluster.py."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ACTIONS = ("up", "down", "status", "kubeconfig", "build")


def find_script() -> Path | None:
    """tests/cluster/localcluster.py of the checkout (PICO_TLS_REPO, or above this package)."""
    candidates = []
    env = os.environ.get("PICO_TLS_REPO")
    if env:
        candidates.append(Path(env))
    candidates += list(Path(__file__).resolve().parents)
    candidates.append(Path.cwd())
    for root in candidates:
        script = root / "tests" / "cluster" / "localcluster.py"
        if script.is_file():
            return script
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the dev-cluster command with `argv` (e.g. ["up"]); returns its exit code."""
    script = find_script()
    if script is None:
        print(
            "pico-tls dev-cluster needs a source checkout (tests/cluster/); "
            "set PICO_TLS_REPO to its folder",
            file=sys.stderr,
        )
        return 2
    args = list(sys.argv[1:] if argv is None else argv)
    return subprocess.call([sys.executable, str(script), *args])


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev-cluster", help="a local Kubernetes control plane with fake nodes (for development)"
    )
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("--nodes", type=int, default=None, help="fake nodes (up; default 2)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    argv = [args.action]
    if args.nodes is not None and args.action == "up":
        argv.append(f"--nodes={args.nodes}")
    return main(argv)
