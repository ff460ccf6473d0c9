"""The layer contract of docs/architecture.md, checked on the source: a layer imports only the
layers below it; only `handlers` imports kopf, only `kube` imports kubernetes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "pico_tls"

# Layer of each top-level part of the package, bottom up (docs/architecture.md).
LAYERS = {
    "clock": 0,
    "pki": 1,
    "validation": 2,
    "javaprops": 2,
    "delivery_choice": 2,
    "keystore": 2,
    "material": 3,
    "spec_model": 3,  # what a parsed custom resource is
    "config": 3,
    "spec_fields": 3.5,  # readers of single fields, for the parsers
    "spec": 4,  # the parsers that fill spec_model (builders use the model, never the parsers)
    "builders": 4,
    "parties": 5,
    "plan_model": 5.5,  # what a group's plan is
    "plan": 6,
    "classic": 7,
    "kube": 7,
    "scheduler": 7,
    "leader": 7.5,  # the election's rules and state (the fence raises kube.Fenced)
    "election": 7.7,  # the Lease loop (kube, leader)
    "health": 7.7,  # probe endpoints (leader)
    "reconcile": 8,
    "watches": 8,
    "metrics": 8.5,  # applies the samples `reconcile` computes
    "handlers": 9,
    "render": 9,
    "ctl": 9.5,  # people's commands: over kube.session, keystore, spec, builders.names
    "cli": 10,
    "__init__": 10,
}
# The CLI imports what a subcommand needs lazily, from any layer.
THIRD_PARTY_OWNERS = {
    "kopf": {"handlers"},
    "kubernetes": {"kube"},
    "prometheus_client": {"metrics"},
}


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem


def module_name(path: Path) -> str:
    """`pico_tls.reconcile.decide` for operator/pico_tls/reconcile/decide.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, source: str | None = None) -> set[str]:
    """Every module `path` imports, absolute: relative imports resolved, and
    `from pico_tls import x` counted as `pico_tls.x`."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names if module == "pico_tls"}
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_part_has_a_layer() -> None:
    assert {part_of(p) for p in MODULES} <= set(LAYERS)


def violations(path: Path, source: str | None = None) -> list[str]:
    part = part_of(path)
    found = []
    for name in sorted(imports(path, source)):
        top = name.split(".")[0]
        if top in THIRD_PARTY_OWNERS and part not in THIRD_PARTY_OWNERS[top]:
            found.append(f"{part} must not import {top}")
        if top == "pico_tls" and "." in name and part not in ("cli", "__init__"):
            target = name.split(".")[1]
            if target != part and LAYERS[target] >= LAYERS[part]:
                found.append(
                    f"{path.relative_to(PACKAGE)} (layer {LAYERS[part]}) imports {name} "
                    f"(layer {LAYERS[target]})"
                )
    return found


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_respect_the_layers(path: Path) -> None:
    assert violations(path) == []


@pytest.mark.parametrize(
    "source",
    [
        "from ..handlers import startup\n",
        "from .. import handlers\n",
        "from pico_tls import handlers\n",
        "import kopf\n",
    ],
)
def test_relative_and_package_imports_are_checked_too(source: str) -> None:
    assert violations(PACKAGE / "reconcile" / "decide.py", source) != []


def test_a_relative_import_within_the_part_is_fine() -> None:
    source = "from . import report\nfrom .snapshot import Snapshot\nfrom ..plan import build_plan\n"
    assert violations(PACKAGE / "reconcile" / "decide.py", source) == []


REPO = PACKAGE.parents[1]
HARNESS = REPO / "harness" / "pico_harness"
HARNESS_MODULES = sorted(p for p in HARNESS.rglob("*.py") if "__pycache__" not in p.parts)
TEST_MODULE_IMPORT = re.compile(r"^\s*(from|import)\s+tests(\.\w+)*\.test_\w+", re.M)


def top_levels(path: Path, source: str | None = None) -> set[str]:
    """The top-level packages `path` imports absolutely (relative imports stay in its package)."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def importers(paths: list[Path], forbidden: set[str]) -> list[str]:
    return [str(p.relative_to(REPO)) for p in paths if top_levels(p) & forbidden]


def test_shipped_code_never_imports_tests_or_the_harness() -> None:
    assert importers(MODULES, {"tests", "pico_harness"}) == []


def test_the_harness_never_imports_tests() -> None:
    assert HARNESS_MODULES
    assert importers(HARNESS_MODULES, {"tests"}) == []


@pytest.mark.parametrize(
    "source",
    ["import tests.conftest\n", "from tests import conftest\n", "from pico_harness import proc\n"],
)
def test_forbidden_imports_are_seen(source: str) -> None:
    assert top_levels(PACKAGE / "cli.py", source) & {"tests", "pico_harness"}


def test_no_module_imports_helpers_from_a_test_module() -> None:
    """Shared helpers live in pico_harness; test modules import from it, not each other."""
    sources = [
        *REPO.glob("tests/**/*.py"),
        *REPO.glob("bench/*.py"),
        *REPO.glob("scripts/*.py"),
        *HARNESS_MODULES,
    ]
    offenders = [
        str(p.relative_to(REPO)) for p in sources if TEST_MODULE_IMPORT.search(p.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    ["from tests.e2e.test_operator import x\n", "import tests.images.test_images\n"],
)
def test_an_import_of_a_test_module_is_seen(source: str) -> None:
    assert TEST_MODULE_IMPORT.search(source)
