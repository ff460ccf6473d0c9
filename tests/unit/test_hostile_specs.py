"""The hostile-input corpus (pico_harness.support.hostile) against the spec parsers, and the rules
for password Secrets, which no schema sees. The same corpus runs against the apiserver in
tests/e2e/test_hostile_inputs.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest

from pico_harness.support.hostile import ACCEPTED, HOSTILE, Hostile
from pico_tls import validation
from pico_tls.spec import SpecError, parse_container, parse_desktop, parse_platform

PARSERS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "Platform": parse_platform,
    "ExecutionContainer": parse_container,
    "DesktopClient": parse_desktop,
}
SPEC_CASES = [case for case in HOSTILE if case.spec is not None]


def test_corpus_size() -> None:
    assert len(HOSTILE) >= 60
    assert len({case.id for case in HOSTILE}) == len(HOSTILE)
    assert len(SPEC_CASES) >= 60


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.id for c in SPEC_CASES])
def test_parser_refuses(case: Hostile) -> None:
    assert case.spec is not None
    with pytest.raises(SpecError) as refused:
        PARSERS[case.kind](case.body)
    assert case.spec in str(refused.value)


@pytest.mark.parametrize(("case_id", "body"), ACCEPTED, ids=[i for i, _ in ACCEPTED])
def test_parser_accepts_the_edges(case_id: str, body: dict[str, Any]) -> None:
    PARSERS[body["kind"]](body)


GOOD_PASSWORDS = [
    "secret",
    "a" * 128,
    "with space inside",
    "p@ss:w=rd#!\\",
    "trailing-newline-stripped\n",
    b"bytes-are-fine",
]
BAD_PASSWORDS = {
    "too-short": "12345",
    "empty": "",
    "too-long": "a" * 129,
    "newline-inside": "pass\nword",
    "nul-inside": "pass\x00word",
    "tab-inside": "pass\tword",
    "esc": "pass\x1bword",
    "del": "pass\x7fword",
    "non-ascii": "passw\u00f6rd",
    "non-ascii-bytes": "passw\u00f6rd".encode(),
    "latin1-bytes": b"passw\xf6rd",
    "rlo": "pass\u202eword",
}


@pytest.mark.parametrize("password", GOOD_PASSWORDS)
def test_passwords_java_takes(password: str | bytes) -> None:
    got = validation.check_password(password, "Secret pw key keystore.password")
    assert got == (password.decode() if isinstance(password, bytes) else password).strip()


@pytest.mark.parametrize("password", BAD_PASSWORDS.values(), ids=list(BAD_PASSWORDS))
def test_passwords_java_refuses_or_mangles(password: str | bytes) -> None:
    with pytest.raises(SpecError, match="printable ASCII") as refused:
        validation.check_password(password, "Secret pw key keystore.password")
    message = str(refused.value)
    assert message.startswith("Secret pw key keystore.password: ")
    clear = password.decode(errors="replace") if isinstance(password, bytes) else password
    if len(clear) >= 3:
        assert clear not in message  # the message never repeats the password


def test_duration_limits_are_the_documented_ones() -> None:
    hour = timedelta(hours=1)
    validation.check_durations(hour, hour / 2, "spec.tls.")
    with pytest.raises(SpecError, match="at most half"):
        validation.check_durations(hour, hour / 2 + timedelta(seconds=1), "spec.tls.")
    with pytest.raises(SpecError, match="between 1h and 87600h"):
        validation.check_durations(hour - timedelta(seconds=1), None, "spec.")
    validation.check_durations(timedelta(hours=87600), None, "spec.")
