"""What the running Platform pods do with each desktop's certificates: `status.desktopTrust`.

A user who deletes a DesktopClient waits for its entry to read `Revoked`
(`kubectl wait platform/mz --for=jsonpath='{.status.desktopTrust.bob}'=Revoked`). The entry
changes only when the operator has seen the deletion and the Platform's pods run a plan
without the desktop's pins, so a status written before the deletion never reads as done.
The operator's memory of deleted desktops is this map itself. Pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping

TRUSTED = "Trusted"  # a member of the group; every running Platform pod trusts it
PENDING = "Pending"  # a member not yet trusted by every running Platform pod
REVOCATION_PENDING = "RevocationPending"  # left the group; a running pod may still trust it
REVOKED = "Revoked"  # left the group; no running Platform pod trusts it any more


def desktop_trust(
    previous: Mapping[str, str], members: Collection[str], platform_rolled: bool
) -> dict[str, str]:
    """The next map from the previous one, the desktops the plan trusts (`members`) and
    whether the Platform's workload runs that plan (`platform_rolled`)."""
    trust: dict[str, str] = {}
    for name in members:
        trusted = platform_rolled or previous.get(name) == TRUSTED
        trust[name] = TRUSTED if trusted else PENDING
    for name, state in previous.items():
        if name not in trust:
            gone = platform_rolled or state == REVOKED
            trust[name] = REVOKED if gone else REVOCATION_PENDING
    return dict(sorted(trust.items()))


def pending_revocations(trust: Mapping[str, str]) -> list[str]:
    """The desktops a running Platform pod may still trust although they left the group."""
    return [name for name, state in trust.items() if state == REVOCATION_PENDING]
