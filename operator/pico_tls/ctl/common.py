"""What every cluster command shares: the connection options, the session, the error line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pico_tls import kube
from pico_tls.ctl.api import Api
from pico_tls.ctl.errors import CtlError, explain

Run = Callable[[argparse.Namespace, "Context"], int]


@dataclass(frozen=True)
class Context:
    api: Api
    namespace: str | None  # None: all namespaces (-A)

    def one_namespace(self) -> str:
        if self.namespace is None:
            raise CtlError("this command works in one namespace: use -n NAMESPACE, not -A")
        return self.namespace


def connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("cluster")
    group.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    group.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace (where it applies)"
    )
    group.add_argument("--context", help="kubeconfig context (default: the current one)")
    group.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    return parent


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    examples: str,
    run: Run,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection_options()],
    )
    parser.set_defaults(run=lambda args: run_command(run, args))
    return parser


def run_command(run: Run, args: argparse.Namespace) -> int:
    """Connect, run, and turn expected failures into one line on stderr (exit 2)."""
    try:
        _check_kubeconfig(args.kubeconfig)
        session = kube.user_session(args.kubeconfig, args.context)
        namespace = None if args.all_namespaces else (args.namespace or session.namespace)
        return run(args, Context(Api(session), namespace))
    except (CtlError, kube.KubeError, kube.KubeConfigError, kube.KubeUnreachable) as exc:
        print(f"{prog()}: {explain(exc)}", file=sys.stderr)
        return exc.code if isinstance(exc, CtlError) else 2
    except KeyboardInterrupt:
        print(f"{prog()}: interrupted", file=sys.stderr)
        return 130


def _check_kubeconfig(given: str | None) -> None:
    """Say plainly when there is no kubeconfig at all (the client's words are cryptic)."""
    if given:
        if not os.path.isfile(given):
            raise CtlError(f"no cluster to talk to: the kubeconfig {given} does not exist")
        return
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    default = os.path.expanduser("~/.kube/config")
    if not any(os.path.isfile(p) for p in listed or [default]):
        where = f"KUBECONFIG={os.environ['KUBECONFIG']}" if listed else default
        raise CtlError(
            f"no cluster to talk to: no kubeconfig ({where} does not exist); "
            "pass --kubeconfig FILE or set KUBECONFIG"
        )


def prog() -> str:
    name = sys.argv[0].rsplit("/", 1)[-1] if sys.argv else "pico-tls"
    return "kubectl pico-tls" if name == "kubectl-pico_tls" else "pico-tls"
