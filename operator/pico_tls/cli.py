"""The `pico-tls` command line: `keystores` and `render`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = ("pico_tls.classic.command", "pico_tls.render")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pico-tls", description="TLS and client authentication for the pico RCP protocol"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        try:
            importlib.import_module(module).add_parser(subparsers)
        except ModuleNotFoundError as err:
            if err.name is None or not module.startswith(err.name):
                raise
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
