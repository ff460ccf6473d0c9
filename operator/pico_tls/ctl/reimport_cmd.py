"""`pico-tls reimported`: a desktop user says they imported their key again during a CA
rotation (picotls.dev/reimported set to the rotation's target CA), so TrustBoth need not wait
for the whole tls.desktopReimportPeriod."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from pico_tls.builders.names import REIMPORTED
from pico_tls.ctl.common import Context, add_command
from pico_tls.ctl.errors import CtlError
from pico_tls.ctl.lookup import find

EXAMPLES = """\
  pico-tls reimported alice -n prod          # alice imported the key of this rotation
  kubectl pico-tls reimported alice bob      # several desktops at once
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        subparsers,
        "reimported",
        f"Say a desktop's key was imported again during a CA rotation ({REIMPORTED}); "
        "TrustBoth ends once every desktop said so, or after tls.desktopReimportPeriod.",
        EXAMPLES,
        run,
    )
    parser.add_argument("desktops", nargs="+", metavar="DESKTOP", help="DesktopClient names")


def platform_of(desktop: Mapping[str, Any]) -> str:
    return str(((desktop.get("spec") or {}).get("platformRef") or {}).get("name"))


def rotation_target(desktop: Mapping[str, Any], platform: Mapping[str, Any] | None) -> str:
    """The CA fingerprint a desktop acknowledges: its Platform's rotation target."""
    name, platform_name = desktop["metadata"]["name"], platform_of(desktop)
    if platform is None:
        raise CtlError(f"DesktopClient {name}: its Platform {platform_name} was not found")
    rotation = (platform.get("status") or {}).get("caRotation") or {}
    target = rotation.get("targetFingerprint")
    if not target:
        raise CtlError(
            f"Platform {platform_name} has no CA rotation under way: nothing for {name} to "
            "acknowledge (the ReimportKey Event tells desktop users when to import again)"
        )
    return str(target)


def run(args: argparse.Namespace, ctx: Context) -> int:
    namespace = ctx.one_namespace()
    for name in args.desktops:
        desktop = find(ctx, "DesktopClient", name)
        platform = ctx.api.get("Platform", namespace, platform_of(desktop))
        target = rotation_target(desktop, platform)
        ctx.api.annotate("DesktopClient", namespace, name, REIMPORTED, target)
        print(f"{namespace}/desktopclient/{name}: re-import acknowledged for the CA {target}")
    return 0
