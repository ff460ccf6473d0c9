"""What the custom resource that owns a keystore Secret expects of it (read through the
operator's own spec parsers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pico_tls.ctl.common import Context
from pico_tls.ctl.inspect_view import Expected
from pico_tls.spec import SpecError, parse_container, parse_desktop, parse_platform
from pico_tls.spec_model import KeystoreMode


def _owner(secret: Mapping[str, Any]) -> tuple[str, str] | None:
    for ref in secret["metadata"].get("ownerReferences") or []:
        if ref.get("kind") in ("Platform", "ExecutionContainer", "DesktopClient"):
            return str(ref["kind"]), str(ref["name"])
    return None


def expected_of(ctx: Context, secret: Mapping[str, Any]) -> Expected | str:
    """Expected, or why there is nothing to compare with."""
    owner = _owner(secret)
    if owner is None:
        return "the Secret has no pico-tls owner"
    kind, name = owner
    namespace = str(secret["metadata"]["namespace"])
    body = ctx.api.get(kind, namespace, name)
    if body is None:
        return f"its owner {kind} {name} no longer exists"
    status = body.get("status") or {}
    fingerprints = (status.get("certificateFingerprint"), status.get("caFingerprint"))
    try:
        if kind == "DesktopClient":
            d = parse_desktop(body)
            return Expected(f"desktopclient/{name}", d.store.format, d.store.profile,
                            d.key_algorithm, d.alias, *fingerprints)  # fmt: skip
        platform_name = name
        if kind == "ExecutionContainer":
            platform_name = str(body["spec"]["platformRef"]["name"])
        platform_body = ctx.api.get("Platform", namespace, platform_name)
        if platform_body is None:
            return f"its Platform {platform_name} does not exist"
        p = parse_platform(platform_body)
        alias = p.tls.alias
        if kind == "ExecutionContainer" and p.tls.keystore_mode is not KeystoreMode.SHARED:
            alias = parse_container(body, p).alias or name
    except SpecError as err:
        return f"the spec of {kind} {name} is invalid ({err})"
    return Expected(f"{kind.lower()}/{name}", p.tls.store.format, p.tls.store.profile,
                    p.tls.key_algorithm, alias, *fingerprints)  # fmt: skip
