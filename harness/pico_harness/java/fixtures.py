"""Pytest fixtures for anything that needs the JDK (``java_probe``).

tests/java/conftest.py imports them; other test folders (e.g. e2e) can do the same with
``from pico_harness.java.fixtures import java_probe``, or list ``"pico_harness.java.fixtures"`` in
``pytest_plugins`` of the root conftest.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pico_harness.java.tools import compile_probe, java_available

ALLOW_NO_JAVA = "PICO_TLS_ALLOW_NO_JAVA"


def require_java() -> None:
    """Fail (or skip with PICO_TLS_ALLOW_NO_JAVA=1) when the JDK tools are missing."""
    if java_available():
        return
    missing = [t for t in ("java", "javac", "keytool") if shutil.which(t) is None]
    message = (
        f"JDK tools missing on PATH: {', '.join(missing)}. The Java interop tests must run in CI; "
        f"install a JDK (e.g. apt-get install openjdk-17-jdk-headless) or set {ALLOW_NO_JAVA}=1 "
        "to skip them locally."
    )
    if os.environ.get(ALLOW_NO_JAVA) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def java_probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Class directory of the compiled TlsProbe (compiled once per session, outside the repo)."""
    require_java()
    return compile_probe(tmp_path_factory.mktemp("java-probe"))
