"""`pico-tls reimported`: which CA a desktop acknowledges, and what it says when there is none."""

import pytest

from pico_tls.ctl.errors import CtlError
from pico_tls.ctl.reimport_cmd import rotation_target

DESKTOP = {"metadata": {"name": "alice"}, "spec": {"platformRef": {"name": "mz"}}}


def test_the_target_is_the_platforms_rotation_target() -> None:
    platform = {"status": {"caRotation": {"phase": "TrustBoth", "targetFingerprint": "AB:CD"}}}
    assert rotation_target(DESKTOP, platform) == "AB:CD"


@pytest.mark.parametrize(
    ("platform", "said"),
    [
        ({"status": {}}, "Platform mz has no CA rotation under way: nothing for alice"),
        ({}, "no CA rotation under way"),
        (None, "its Platform mz was not found"),
    ],
)
def test_nothing_to_acknowledge_is_said_plainly(platform, said) -> None:
    with pytest.raises(CtlError, match=said):
        rotation_target(DESKTOP, platform)
