"""The layer contract of docs/architecture.md, checked on the source: a layer imports only the
layers below it; only `handlers` imports kopf, only `kube` imports kubernetes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "pico_tls"

# Layer of each top-level part of the package, bottom up.
LAYERS = {
    "pki": 0,
    "keystore": 1,
    "classic": 2,
    "material": 2,
    "javaprops": 1,
    "delivery": 1,
    "spec": 2,
    "settings": 2,
    "builders": 3,
    "plan": 4,
    "render": 5,
    "kube": 5,
    "scheduler": 5,
    "reconcile": 6,
    "handlers": 7,
    "devcluster": 7,
    "cli": 8,
    "__init__": 8,
}
# The CLI imports what a subcommand needs lazily, from any layer.
THIRD_PARTY_OWNERS = {"kopf": {"handlers"}, "kubernetes": {"kube"}}


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_part_has_a_layer() -> None:
    assert {part_of(p) for p in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_respect_the_layers(path: Path) -> None:
    part = part_of(path)
    for name in imports(path):
        top = name.split(".")[0]
        if top in THIRD_PARTY_OWNERS:
            assert part in THIRD_PARTY_OWNERS[top], f"{part} must not import {top}"
        if top == "pico_tls" and "." in name and part not in ("cli", "__init__"):
            target = name.split(".")[1]
            assert target == part or LAYERS[target] < LAYERS[part], (
                f"{path.relative_to(PACKAGE)} (layer {LAYERS[part]}) imports {name} "
                f"(layer {LAYERS[target]})"
            )
