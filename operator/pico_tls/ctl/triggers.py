"""`pico-tls renew` and `pico-tls rotate-ca`: set the annotations the operator honours
(picotls.dev/renew, picotls.dev/rotate-ca), then with --wait follow it until done."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any

from pico_tls.builders.names import RENEW, ROTATE_CA, ROTATE_CA_HANDLED
from pico_tls.ctl import progress_view
from pico_tls.ctl.api import PICO_KINDS
from pico_tls.ctl.common import Context, add_command
from pico_tls.ctl.errors import CtlError
from pico_tls.ctl.follow import Target, follow
from pico_tls.ctl.lookup import find, find_any

RENEW_EXAMPLES = """\
  pico-tls renew ec1 -n prod                    # one resource (any of the three kinds)
  pico-tls renew desktopclient/alice --wait     # and follow it until it is rolled out
  pico-tls renew -l team=billing --wait         # every resource with that label
  pico-tls renew --all -n prod                  # every Platform, container and desktop
"""
ROTATE_EXAMPLES = """\
  pico-tls rotate-ca mz -n prod --wait          # TrustBoth -> Reissue -> DropOld, followed
  kubectl pico-tls rotate-ca mz --value 2026-11 # the value GitOps would set
"""


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="follow progress until done")
    parser.add_argument("--timeout", type=float, default=900, help="seconds --wait waits")
    parser.add_argument("--value", help="the annotation value (default: the Unix time now)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    renew = add_command(
        subparsers,
        "renew",
        f"Reissue certificates now (same keys) by setting {RENEW}; --wait follows the roll.",
        RENEW_EXAMPLES,
        run_renew,
    )
    renew.add_argument("names", nargs="*", metavar="NAME", help="NAME or KIND/NAME")
    renew.add_argument("-l", "--selector", help="label selector over the three kinds")
    renew.add_argument("--all", action="store_true", help="every resource of the namespace")
    _wait_options(renew)
    rotate = add_command(
        subparsers,
        "rotate-ca",
        f"Rotate a Platform's operator CA by setting {ROTATE_CA}; --wait follows the phases.",
        ROTATE_EXAMPLES,
        run_rotate,
    )
    rotate.add_argument("platform", help="the Platform")
    _wait_options(rotate)


def _targets(args: argparse.Namespace, ctx: Context) -> list[dict[str, Any]]:
    chosen = sum(bool(x) for x in (args.names, args.selector, args.all))
    if chosen != 1:
        raise CtlError("renew takes NAME..., or -l SELECTOR, or --all (one of them)")
    if args.names:
        return [find_any(ctx, ref) for ref in args.names]
    found = [
        b for k in PICO_KINDS for b in ctx.api.objects(k, ctx.namespace, selector=args.selector)
    ]
    if not found:
        where = f"namespace {ctx.namespace}" if ctx.namespace else "any namespace"
        raise CtlError(
            f"nothing to renew in {where}" + (f" for -l {args.selector}" if args.selector else "")
        )
    return found


def _label(body: Mapping[str, Any]) -> str:
    return f"{str(body['kind']).lower()}/{body['metadata']['name']}"


def run_renew(args: argparse.Namespace, ctx: Context) -> int:
    value = args.value or str(int(time.time()))
    targets = _targets(args, ctx)
    follows = []
    for body in targets:
        kind, meta = str(body["kind"]), body["metadata"]
        ctx.api.annotate(kind, meta["namespace"], meta["name"], RENEW, value)
        print(f"{meta['namespace']}/{_label(body)}: renewal requested ({RENEW}={value})")

        def state(
            kind: str = kind, ns: str = meta["namespace"], name: str = meta["name"]
        ) -> tuple[bool, str]:
            now = ctx.api.get(kind, ns, name)
            return (
                (False, "deleted meanwhile")
                if now is None
                else progress_view.renew_state(now, value)
            )

        follows.append(Target(f"{meta['namespace']}/{_label(body)}", state))
    if args.wait:
        follow(follows, args.timeout)
    return 0


def run_rotate(args: argparse.Namespace, ctx: Context) -> int:
    platform = find(ctx, "Platform", args.platform)
    trust = ((platform.get("spec") or {}).get("tls") or {}).get("trust") or {}
    if trust.get("mode") == "Pinned":
        raise CtlError(
            f"Platform {args.platform} pins certificates (trust.mode Pinned): no CA to rotate"
        )
    if (trust.get("caSecretRef") or {}).get("name"):
        ref = trust["caSecretRef"]["name"]
        raise CtlError(
            f"Platform {args.platform} uses your CA from Secret {ref}: replace tls.crt and tls.key "
            "there and the operator rotates to it (rotate-ca acts on the operator's own CA)"
        )
    namespace = ctx.one_namespace()
    value = args.value or str(int(time.time()))
    old_ca = (platform.get("status") or {}).get("caFingerprint")
    ctx.api.annotate("Platform", namespace, args.platform, ROTATE_CA, value)
    print(f"{namespace}/platform/{args.platform}: CA rotation requested ({ROTATE_CA}={value})")

    def state() -> tuple[bool, str]:
        now = ctx.api.get("Platform", namespace, args.platform)
        ca = ctx.api.get_metadata("Secret", namespace, f"{args.platform}-ca")
        if now is None:
            return False, "deleted meanwhile"
        handled = ((ca or {}).get("metadata", {}).get("annotations") or {}).get(ROTATE_CA_HANDLED)
        return progress_view.rotation_state(now, handled, value, old_ca)

    if args.wait:
        follow([Target(f"{namespace}/platform/{args.platform}", state)], args.timeout)
    return 0
