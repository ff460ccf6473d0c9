"""tests/run-all (PICO_TLS_NO_SKIPS=1) fails when an e2e or Java test was skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = """
import pytest

@pytest.mark.{marker}
def test_marked():
    pytest.skip("no JDK here")

def test_unmarked():
    pytest.skip("optional")
"""


def run_sample(tmp_path: Path, marker: str, no_skips: str) -> subprocess.CompletedProcess[str]:
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE.format(marker=marker))
    env = dict(os.environ, PICO_TLS_NO_SKIPS=no_skips)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", str(sample)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_skipped_java_test_fails_the_run(tmp_path: Path) -> None:
    result = run_sample(tmp_path, "java", "1")
    assert result.returncode == 1, result.stdout
    assert "1 e2e/java test(s) skipped" in result.stdout
    assert "test_marked: no JDK here" in result.stdout


def test_a_skipped_e2e_test_fails_the_run(tmp_path: Path) -> None:
    assert run_sample(tmp_path, "e2e", "1").returncode == 1


def test_other_skips_and_local_runs_pass(tmp_path: Path) -> None:
    assert run_sample(tmp_path, "slow", "1").returncode == 0
    assert run_sample(tmp_path, "java", "0").returncode == 0
