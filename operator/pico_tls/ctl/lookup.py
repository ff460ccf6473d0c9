"""Finding the custom resource a person named, with a useful message when it is not there
or is another kind."""

from __future__ import annotations

from typing import Any

from pico_tls.ctl.api import PICO_KINDS
from pico_tls.ctl.common import Context
from pico_tls.ctl.errors import CtlError

ALIASES = {
    "platform": "Platform",
    "platforms": "Platform",
    "pplat": "Platform",
    "executioncontainer": "ExecutionContainer",
    "executioncontainers": "ExecutionContainer",
    "pec": "ExecutionContainer",
    "desktopclient": "DesktopClient",
    "desktopclients": "DesktopClient",
    "pdc": "DesktopClient",
}


def parse_ref(text: str) -> tuple[str | None, str]:
    """`KIND/NAME` (kubectl's kinds, short names too) or a bare NAME."""
    if "/" not in text:
        return None, text
    kind, _, name = text.partition("/")
    if kind.lower().split(".")[0] not in ALIASES:
        known = ", ".join(sorted(ALIASES))
        raise CtlError(f"{kind!r} is not a pico-tls kind (one of: {known})")
    return ALIASES[kind.lower().split(".")[0]], name


def find(ctx: Context, kind: str, name: str) -> dict[str, Any]:
    """The `kind` named `name` in the one namespace; a wrong kind is said as such."""
    namespace = ctx.one_namespace()
    found = ctx.api.get(kind, namespace, name)
    if found is not None:
        return found
    others = [k for k in PICO_KINDS if k != kind and ctx.api.get(k, namespace, name)]
    if others:
        raise CtlError(f"{name} is a{_n(others[0])} {others[0]}, not a{_n(kind)} {kind}")
    raise CtlError(f"{kind} {name} not found in namespace {namespace}")


def find_any(ctx: Context, ref: str) -> dict[str, Any]:
    """A resource of any of the three kinds, from `KIND/NAME` or an unambiguous NAME."""
    kind, name = parse_ref(ref)
    if kind is not None:
        return find(ctx, kind, name)
    namespace = ctx.one_namespace()
    found = [b for k in PICO_KINDS if (b := ctx.api.get(k, namespace, name)) is not None]
    if not found:
        raise CtlError(f"no Platform, ExecutionContainer or DesktopClient {name} in {namespace}")
    if len(found) > 1:
        kinds = " and ".join(f"{b['kind'].lower()}/{name}" for b in found)
        raise CtlError(f"{name} names more than one resource ({kinds}): say which")
    return found[0]


def _n(kind: str) -> str:
    return "n" if kind[0] in "AEIOU" else ""
