"""`pico-tls status [NAME]`: the Platforms and their members, Ready or why not."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from pico_tls.clock import system_clock
from pico_tls.ctl import status_view
from pico_tls.ctl.common import Context, add_command
from pico_tls.ctl.lookup import find

EXAMPLES = """\
  pico-tls status                      # the Platforms of the current namespace
  pico-tls status -A                   # every namespace
  pico-tls status mz -n prod           # one Platform and its members
  pico-tls status -A -o json | jq '.[] | select(.ready | not)'
  pico-tls status -A || alert          # exit 1 when something is not Ready (cron, CI)
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        subparsers,
        "status",
        "Platforms with their members: Ready, client-auth phase, trust, CA rotation, "
        "certificate expiry, trusted desktops, excluded members, the latest problem. "
        "Exit 1 when something is not Ready.",
        EXAMPLES,
        run,
    )
    parser.add_argument("name", nargs="?", help="one Platform (default: all)")
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")


def run(args: argparse.Namespace, ctx: Context) -> int:
    api = ctx.api
    if args.name:
        platforms = [find(ctx, "Platform", args.name)]
    else:
        platforms = api.objects("Platform", ctx.namespace)
    members: list[dict[str, Any]] = []
    for kind in ("ExecutionContainer", "DesktopClient"):
        members += api.objects(kind, ctx.namespace)
    if args.name:
        members = [
            m
            for m in members
            if ((m.get("spec") or {}).get("platformRef") or {}).get("name") == args.name
        ]
    found = status_view.groups(platforms, members, system_clock())
    if args.output == "json":
        print(json.dumps(status_view.as_data(found), indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump(status_view.as_data(found), sort_keys=False), end="")
    else:
        print(status_view.table(found))
    return 0 if all(g.ready for g in found) else 1
