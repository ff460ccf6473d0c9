"""Benchmark: `pico-tls keystores` against the seed's keytool procedure, in one run.

For a platform, C execution containers and D desktops (default 20 + 20), per-container mode:

(a) `pico-tls keystores` as a user runs it (a fresh process, fresh DIR; median of --repeat runs),
    and once more in-process with key generation timed (the same steps as the CLI: read DIR,
    plan, write DIR), giving the split between key generation and everything else;
(b) the seed's procedure scripted with keytool (one bash script, one keytool call per step, as in
    ../shared/seed/enabling-client-authentication.txt): `-genkeypair` per party, `-exportcert
    -rfc` per party, `-importcert` of every container's and desktop's certificate into the
    platform's store, and of the platform's certificate into every container's store. The result
    is checked (`keytool -list` of the platform store) so the baseline really did the work.

Prints a table and writes JSON. Run from the repository root:

    .venv/bin/python -m bench.bench_keystores --out bench/results/keystores.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pico_tls.classic.command import add_parser, options_from
from pico_tls.classic.folder_plan import plan_folder
from pico_tls.classic.layout import read_folder, write_folder_plan
from pico_tls.pki import KeyAlgorithm, generate_key

ROOT = Path(__file__).resolve().parents[1]

KEYTOOL_ALGORITHMS = {
    "rsa-2048": ("RSA", "2048"),
    "rsa-3072": ("RSA", "3072"),
    "rsa-4096": ("RSA", "4096"),
    "ec-p256": ("EC", "256"),
    "ec-p384": ("EC", "384"),
}


def names(containers: int, desktops: int) -> tuple[list[str], list[str]]:
    return [f"ec{i}" for i in range(1, containers + 1)], [
        f"user{i}" for i in range(1, desktops + 1)
    ]


def cli_args(
    out: Path, containers: list[str], desktops: list[str], key: str, fmt: str
) -> list[str]:
    args = ["keystores", "--out", str(out), "--platform", "mz", "--mode", "per-container"]
    args += ["--format", fmt, "--key", key, "--require-client-auth"]
    for c in containers:
        args += ["--container", c]
    for d in desktops:
        args += ["--desktop", d]
    return args


def run_cli(work: Path, args: list[str]) -> float:
    """Wall seconds of one `pico-tls keystores` process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "operator"))
    code = "import sys; from pico_tls.cli import main; sys.exit(main(sys.argv[1:]))"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"pico-tls keystores failed: {proc.stderr.strip()}")
    return elapsed


def run_instrumented(args: list[str]) -> dict[str, float | int]:
    """The CLI's steps in this process; the plan reports the wall time of its key generation."""
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    ns = parser.parse_args(args)
    start = time.perf_counter()
    options = options_from(ns)
    folder = read_folder(Path(ns.out), options)
    t_plan = time.perf_counter()
    plan = plan_folder(options, folder)
    t_write = time.perf_counter()
    write_folder_plan(Path(ns.out), plan)
    end = time.perf_counter()
    total, keygen = end - start, plan.keygen_seconds
    # The same keys generated one after the other, for reference.
    t = time.perf_counter()
    for _ in range(plan.keys_generated):
        generate_key(KeyAlgorithm(ns.key))
    serial = time.perf_counter() - t
    return {
        "total_s": total,
        "keygen_s": keygen,
        "other_s": total - keygen,
        "read_s": t_plan - start,
        "plan_without_keygen_s": t_write - t_plan - keygen,
        "write_s": end - t_write,
        "keys_generated": plan.keys_generated,
        "keygen_threads": min(plan.keys_generated, os.cpu_count() or 1),
        "total_over_keygen": total / keygen if keygen else float("inf"),
        "serial_keygen_same_keys_s": serial,
        "total_over_serial_keygen": total / serial if serial else float("inf"),
    }


def keytool_script(
    work: Path, containers: list[str], desktops: list[str], key: str, fmt: str
) -> tuple[str, int]:
    """The seed's procedure as a bash script; returns (script, number of keytool calls)."""
    alg, size = KEYTOOL_ALGORITHMS[key]
    store_type = "JKS" if fmt == "jks" else "PKCS12"
    ext = "jks" if fmt == "jks" else "p12"
    pw = "changeit-bench"  # keytool's PKCS12 needs store password == key password
    q = shlex.quote
    lines = ["set -euo pipefail", f"cd {q(str(work))}"]
    calls = 0

    def kt(*a: str) -> None:
        nonlocal calls
        calls += 1
        lines.append("keytool " + " ".join(q(x) for x in a) + " >/dev/null 2>&1")

    common = ["-storetype", store_type, "-storepass", pw]
    for name in ["mz", *containers, *desktops]:
        kt(
            "-genkeypair",
            "-keystore",
            f"{name}.{ext}",
            *common,
            "-keypass",
            pw,
            "-alias",
            name,
            "-keyalg",
            alg,
            "-keysize",
            size,
            "-dname",
            f"CN={name}",
            "-validity",
            "365",
            "-noprompt",
        )
    for name in ["mz", *containers, *desktops]:
        kt(
            "-exportcert",
            "-rfc",
            "-keystore",
            f"{name}.{ext}",
            *common,
            "-alias",
            name,
            "-file",
            f"{name}.crt",
        )
    for name in [*containers, *desktops]:
        kt(
            "-importcert",
            "-noprompt",
            "-keystore",
            f"mz.{ext}",
            *common,
            "-keypass",
            pw,
            "-alias",
            name,
            "-file",
            f"{name}.crt",
        )
    for name in containers:
        kt(
            "-importcert",
            "-noprompt",
            "-keystore",
            f"{name}.{ext}",
            *common,
            "-keypass",
            pw,
            "-alias",
            "mz",
            "-file",
            "mz.crt",
        )
    return "\n".join(lines) + "\n", calls


def run_keytool(
    work: Path, containers: list[str], desktops: list[str], key: str, fmt: str
) -> dict[str, Any]:
    script, calls = keytool_script(work, containers, desktops, key, fmt)
    (work / "seed-procedure.sh").write_text(script)
    start = time.perf_counter()
    subprocess.run(["bash", str(work / "seed-procedure.sh")], check=True)
    elapsed = time.perf_counter() - start
    store_type = "JKS" if fmt == "jks" else "PKCS12"
    ext = "jks" if fmt == "jks" else "p12"
    listing = subprocess.run(
        [
            "keytool",
            "-list",
            "-keystore",
            str(work / f"mz.{ext}"),
            "-storetype",
            store_type,
            "-storepass",
            "changeit-bench",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    entries = sum(1 for line in listing.splitlines() if "Entry," in line or "entry," in line)
    expected = 1 + len(containers) + len(desktops)
    if entries != expected:
        raise RuntimeError(
            f"keytool baseline: platform store has {entries} entries, not {expected}"
        )
    return {
        "wall_s": elapsed,
        "keytool_calls": calls,
        "per_call_s": elapsed / calls,
        "platform_entries": entries,
    }


def java_version() -> str:
    proc = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return (proc.stderr.splitlines() or ["?"])[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--desktops", type=int, default=20)
    parser.add_argument("--key", default="rsa-2048", choices=sorted(KEYTOOL_ALGORITHMS))
    parser.add_argument("--format", default="pkcs12", choices=["pkcs12", "jks"])
    parser.add_argument("--repeat", type=int, default=3, help="CLI runs (median reported)")
    parser.add_argument("--no-keytool", action="store_true", help="skip the keytool baseline")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "keystores.json")
    a = parser.parse_args(argv)
    containers, desktops = names(a.containers, a.desktops)

    with tempfile.TemporaryDirectory(prefix="bench-keystores-") as tmp:
        work = Path(tmp)
        cli_runs = [
            run_cli(work, cli_args(work / f"cli-{i}", containers, desktops, a.key, a.format))
            for i in range(a.repeat)
        ]
        instrumented = run_instrumented(
            cli_args(work / "inproc", containers, desktops, a.key, a.format)
        )
        rerun_args = cli_args(work / "cli-0", containers, desktops, a.key, a.format)
        rerun = run_cli(work, rerun_args)  # nothing new: reads and keeps everything
        keytool: dict[str, Any] | None = None
        if not a.no_keytool:
            (work / "keytool").mkdir()
            keytool = run_keytool(work / "keytool", containers, desktops, a.key, a.format)

    cli_median = statistics.median(cli_runs)
    result: dict[str, Any] = {
        "parties": {"platform": 1, "containers": a.containers, "desktops": a.desktops},
        "key": a.key,
        "format": a.format,
        "mode": "per-container",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "java": java_version(),
            "system": platform.platform(),
        },
        "pico_tls": {
            "cli_runs_s": cli_runs,
            "cli_median_s": cli_median,
            "cli_median_over_keygen": cli_median / instrumented["keygen_s"],
            "rerun_nothing_new_s": rerun,
            "in_process": instrumented,
        },
        "keytool": keytool,
    }
    if keytool is not None:
        result["speedup"] = keytool["wall_s"] / cli_median
    result["targets"] = {
        "speedup_at_least_20x": None if keytool is None else result["speedup"] >= 20,
        "total_within_1.5x_keygen": instrumented["total_over_keygen"] <= 1.5,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")

    rows = [
        (f"pico-tls keystores (process, median of {a.repeat})", f"{cli_median:.2f} s"),
        ("  in-process total", f"{instrumented['total_s']:.2f} s"),
        (
            f"  key generation ({instrumented['keys_generated']} keys, "
            f"{instrumented['keygen_threads']} threads)",
            f"{instrumented['keygen_s']:.2f} s",
        ),
        ("  everything else", f"{instrumented['other_s']:.2f} s"),
        ("  total / key generation", f"{instrumented['total_over_keygen']:.2f}x (target <= 1.5x)"),
        ("  process median / key generation", f"{cli_median / instrumented['keygen_s']:.2f}x"),
        (
            "  same keys generated serially",
            f"{instrumented['serial_keygen_same_keys_s']:.2f} s "
            f"(total / serial: {instrumented['total_over_serial_keygen']:.2f}x)",
        ),
        ("pico-tls keystores re-run (nothing new)", f"{rerun:.2f} s"),
    ]
    if keytool is not None:
        rows += [
            (f"keytool procedure ({keytool['keytool_calls']} calls)", f"{keytool['wall_s']:.1f} s"),
            ("speedup", f"{result['speedup']:.0f}x (target >= 20x)"),
        ]
    width = max(len(r[0]) for r in rows)
    parties = f"platform + {a.containers} containers + {a.desktops} desktops"
    print(f"{parties}, per-container, {a.key}, {a.format}")
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")
    print(f"JSON: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
