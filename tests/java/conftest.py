"""Java interop tests: every test here is marked ``java`` and gets the ``java_probe`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from pico_harness.java.fixtures import java_probe, require_java

__all__ = ["java_probe", "require_java"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.java)
