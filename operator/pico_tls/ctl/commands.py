"""The people's commands, registered on the `pico-tls` parser (see pico_tls.cli)."""

from __future__ import annotations

import argparse

from pico_tls.ctl import (
    bundle_cmd,
    completion,
    desktop_cmd,
    inspect_cmd,
    reimport_cmd,
    status_cmd,
    triggers,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for module in (
        status_cmd,
        desktop_cmd,
        inspect_cmd,
        triggers,
        reimport_cmd,
        bundle_cmd,
        completion,
    ):
        module.register(subparsers)
