"""The group's desired objects for this pass, and the two phase machines that pick them.

First the plan with the phases as they stand (the probe); whether every workload runs it
decides the next client-auth and CA rotation phases and the promotion of staged certificates;
only when one of those changes is the plan built again. The phases are recorded in the
Platform's state Secret (phases.py), which the pass writes before anything they shape. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pico_tls.material import Identity
from pico_tls.parties import Member, uses_ca
from pico_tls.plan import GroupPlan, build_group
from pico_tls.reconcile import carotation, keymaterial, phases, sizes
from pico_tls.reconcile.clientauth import ClientAuthState, next_state
from pico_tls.reconcile.group_status import GroupOutcome
from pico_tls.reconcile.identities import group_identities, held_identities, left_out_running
from pico_tls.reconcile.passes import Pass
from pico_tls.reconcile.rollout import rolled_out, template_hash
from pico_tls.reconcile.writes import decide_writes
from pico_tls.spec import PlatformSpec


def plan_group(
    run: Pass, platform: Member, containers: Sequence[Member], desktops: Sequence[Member]
) -> GroupOutcome:
    """Key material, phases, the plan, and the writes it needs (recorded in the Decision)."""
    p: PlatformSpec = platform.spec
    ca = keymaterial.group_ca(run, platform) if p.tls.enabled and uses_ca(p) else None
    run.rotation = keymaterial.rotation(run, platform, ca) if ca is not None else None
    identities: dict[str, Identity] = {}
    if p.tls.enabled:
        issuing = keymaterial.issuing_ca(run, platform, ca, run.rotation) if ca else None
        identities, desktops = group_identities(run, platform, containers, desktops, ca, issuing)
    previous_cas = run.rotation.trusted_previous if run.rotation else ()
    # Members left out (refused write, invalid spec) stay pinned by the Platform.
    held = held_identities(run, containers, desktops) if p.tls.enabled else []

    def build(ids: Mapping[str, Identity], require_client_auth: bool) -> GroupPlan:
        return build_group(
            platform,
            containers,
            desktops,
            ca=ca,
            identities=ids,
            require_client_auth=require_client_auth,
            previous_cas=previous_cas,
            held=held,
        )

    effective = phases.recorded_client_auth(run, platform)
    desired = p.tls.enabled and p.tls.require_client_auth
    current_flag = bool(effective) if effective is not None else desired
    plan = build(identities, current_flag)
    fitting = sizes.fit(run, platform, desktops, plan)  # the 1 MiB limit of a Secret
    if len(fitting) < len(desktops):
        desktops = fitting
        plan = build(identities, current_flag)
    state, promoted = _phases(run, platform, plan, identities, desired, effective)
    if state.effective != current_flag:
        # The flag flips in this pass: recorded before any write, so a pass cut short after
        # writing the workloads cannot read the old flag back and roll them back to it.
        run.decision.status(platform.body, {"clientAuth": state.as_status()})
    if state.effective != current_flag or promoted:
        plan = build(identities | promoted, state.effective)
    # The phases the next pass builds, in the Platform's state Secret (written first).
    handled = phases.rotate_ca_handled(run, platform)
    record = phases.PhaseRecord(run.next_rotation, state.effective, handled)
    phases.write_record(plan.state_secrets, p, record)
    rolled = decide_writes(run, plan)
    return GroupOutcome(platform, containers, desktops, plan, state, rolled)


def _phases(
    run: Pass,
    platform: Member,
    probe: GroupPlan,
    identities: Mapping[str, Identity],
    desired: bool,
    effective: bool | None,
) -> tuple[ClientAuthState, dict[str, Identity]]:
    """Next client-auth state, next CA rotation phase (run.next_rotation) and the staged
    certificates to promote, from whether every workload runs `probe`."""
    workloads = run.snapshot.workloads
    material_settled = all(
        template_hash(workloads.get(name)) == digest
        for name, digest in probe.mounted_hashes.items()
    )
    all_rolled = all(rolled_out(workloads.get(name)) for name in probe.mounted_hashes)
    # The next rotation phase is built by the next pass, once this one runs everywhere,
    # including members left out of the pass whose pods still run (their stores lag behind).
    waiting = left_out_running(run) if run.rotation is not None else []
    settled = material_settled and all_rolled
    run.rotation_waits_for = waiting if settled else []
    run.rotation_holds_until = _reimport_hold(run, platform) if settled else None
    hold = run.rotation_holds_until is not None
    run.next_rotation = carotation.advance(run.rotation, settled and not waiting and not hold)
    state = next_state(
        desired,
        effective,
        workloads_exist=platform.spec.name in workloads,
        material_settled=material_settled,
        rolled_out=all_rolled,
    )
    promoted = keymaterial.promote_staged(
        run, platform, identities, material_settled and all_rolled
    )
    return state, promoted


def _reimport_hold(run: Pass, platform: Member) -> datetime | None:
    """Until when TrustBoth holds so desktop users can import their key again
    (tls.desktopReimportPeriod from the rotation's start), or None."""
    rotation, period = run.rotation, platform.spec.tls.desktop_reimport_period
    if rotation is None or rotation.phase is not carotation.RotationPhase.TRUST_BOTH:
        return None
    if not run.snapshot.desktops or not period or not rotation.since:
        return None
    until = datetime.fromisoformat(rotation.since.replace("Z", "+00:00")) + period
    return until if run.now < until else None
