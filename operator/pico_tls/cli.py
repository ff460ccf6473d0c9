"""The `pico-tls` command line (also `kubectl pico-tls`, installed as `kubectl-pico_tls`):
`keystores` and `render`, and the commands of `pico_tls.ctl` for people who run the platform
and use its desktops (status, desktop-key, inspect, renew, rotate-ca, bundle, completion)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = ("pico_tls.classic.command", "pico_tls.render", "pico_tls.ctl.commands")


def build_parser(prog: str = "pico-tls") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="TLS and client authentication for the pico RCP protocol",
        epilog="`%(prog)s COMMAND --help` shows a command's options and examples.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        try:
            importlib.import_module(module).add_parser(subparsers)
        except ModuleNotFoundError as err:
            if err.name is None or not module.startswith(err.name):
                raise
    parser.set_defaults(parser=parser)  # for `completion`, which lists the commands
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "pico-tls") -> int:
    args = build_parser(prog).parse_args(argv)
    code: int = args.run(args)
    return code


def kubectl_main() -> int:
    """`kubectl pico-tls ...` (kubectl runs the `kubectl-pico_tls` executable)."""
    return main(prog="kubectl pico-tls")


if __name__ == "__main__":
    sys.exit(main())
