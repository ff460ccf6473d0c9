"""The safe order for switching required client authentication on and off.

On: every party first gets its keys and trust (rolled where they changed); only once every
workload has finished rolling is `pico.rcp.tls.require_clientauth=true` written and rolled.
Off: the flag goes first. The flag in force is recorded in the Platform's state Secret
(phases.py), so a restarted operator resumes where it stopped; the phase only reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    DISABLED = "Disabled"
    PREPARING_TRUST = "PreparingTrust"
    ENFORCING = "Enforcing"
    ENFORCED = "Enforced"
    RELAXING = "Relaxing"


@dataclass(frozen=True)
class ClientAuthState:
    desired: bool
    effective: bool
    phase: Phase

    def as_status(self) -> dict[str, object]:
        return {"desired": self.desired, "effective": self.effective, "phase": self.phase.value}


def next_state(
    desired: bool,
    effective: bool | None,
    *,
    workloads_exist: bool,
    material_settled: bool,
    rolled_out: bool,
    shown: str | None = None,
) -> ClientAuthState:
    """Decide the flag to write in this pass.

    `effective` is the flag from status (None before the first pass), `material_settled` says
    this pass wrote no keystore or trust change, `rolled_out` that every workload runs its
    current template, `shown` the phase status showed last: a finished switch (Enforced,
    Disabled) stays finished through later rolls that leave the flag alone (a renewal, a CA
    rotation), so the phase and its Events tell only of the flag.
    """
    if effective is None and not workloads_exist:
        effective = desired  # nothing runs yet: start directly in the desired state
    effective = bool(effective)
    if desired and not effective:
        if material_settled and rolled_out:
            return ClientAuthState(True, True, Phase.ENFORCING)
        return ClientAuthState(True, False, Phase.PREPARING_TRUST)
    if not desired and effective:
        return ClientAuthState(False, False, Phase.RELAXING)
    if desired:
        done = rolled_out or shown == Phase.ENFORCED
        return ClientAuthState(True, True, Phase.ENFORCED if done else Phase.ENFORCING)
    done = rolled_out or shown == Phase.DISABLED
    return ClientAuthState(False, False, Phase.DISABLED if done else Phase.RELAXING)
