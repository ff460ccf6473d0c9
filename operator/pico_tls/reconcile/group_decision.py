"""The second half of `decide`: key material, the two phase machines, the plan they pick, and
the writes it needs.

First the plan with the phases as they stand (the probe); whether every workload runs it
decides the next client-auth and CA rotation phases and the promotion of staged certificates;
only when one of those changes is the plan built again. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pico_tls.material import Identity
from pico_tls.parties import PlatformMember, uses_ca
from pico_tls.plan import GroupPlan, build_plan
from pico_tls.reconcile import carotation, keymaterial
from pico_tls.reconcile.admission import Admitted
from pico_tls.reconcile.carotation import Rotation
from pico_tls.reconcile.clientauth import ClientAuthState, next_state
from pico_tls.reconcile.group_status import GroupOutcome
from pico_tls.reconcile.identities import GroupIdentities, group_identities
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.rollout import rolled_out, template_hash
from pico_tls.reconcile.writes import decide_writes


@dataclass(frozen=True)
class Phases:
    """What the probe decided: the client-auth state this pass writes, the CA rotation phase
    the next pass builds, and the staged certificates that go into use now."""

    client_auth: ClientAuthState
    next_rotation: Rotation | None
    promoted: Mapping[str, Identity]


def decide_group(run: PassContext, group: Admitted) -> GroupOutcome:
    """Key material, phases, the plan, and the writes it needs (recorded in the Decision)."""
    platform, p = group.platform, group.platform.spec
    ca = keymaterial.group_ca(run, platform) if p.tls.enabled and uses_ca(p) else None
    rotation = keymaterial.rotation(run, platform, ca) if ca is not None else None
    identities = GroupIdentities({}, ())
    if p.tls.enabled:
        identities = group_identities(
            run, platform, group.containers, group.desktops, ca, rotation, group.desktop_passwords
        )

    def build(ids: Mapping[str, Identity], require_client_auth: bool) -> GroupPlan:
        return build_plan(
            platform,
            group.containers,
            group.desktops,
            ca=ca,
            identities=ids,
            require_client_auth=require_client_auth,
            previous_cas=rotation.trusted_previous if rotation else (),
        )

    effective = ((platform.body.get("status") or {}).get("clientAuth") or {}).get("effective")
    desired = p.tls.enabled and p.tls.require_client_auth
    current_flag = bool(effective) if effective is not None else desired
    probe = build(identities.by_key, current_flag)
    phases = _phases(run, platform, probe, identities.by_key, rotation, desired, effective)
    flag = phases.client_auth.effective
    if flag != current_flag:
        # The flag flips in this pass: recorded before any write, so a pass cut short after
        # writing the workloads cannot read the old flag back and roll them back to it.
        run.decision.status(platform.body, {"clientAuth": phases.client_auth.as_status()})
    plan = probe
    if flag != current_flag or phases.promoted:
        plan = build(identities.by_key | dict(phases.promoted), flag)
    written = decide_writes(run, plan)
    return GroupOutcome(
        platform,
        group.containers,
        group.desktops,
        plan,
        phases.client_auth,
        written.rolled_out,
        rotation=rotation,
        next_rotation=phases.next_rotation,
        due=identities.due,
        writing=written.owners,
    )


def _phases(
    run: PassContext,
    platform: PlatformMember,
    probe: GroupPlan,
    identities: Mapping[str, Identity],
    rotation: Rotation | None,
    desired: bool,
    effective: bool | None,
) -> Phases:
    """Where each phase machine goes, from whether every workload runs `probe`."""
    workloads = run.snapshot.workloads
    material_settled = all(
        template_hash(workloads.get(name)) == digest
        for name, digest in probe.mounted_hashes.items()
    )
    all_rolled = all(rolled_out(workloads.get(name)) for name in probe.mounted_hashes)
    settled = material_settled and all_rolled
    state = next_state(
        desired,
        effective,
        workloads_exist=platform.spec.name in workloads,
        material_settled=material_settled,
        rolled_out=all_rolled,
    )
    # The next rotation phase is built by the next pass, once this one runs everywhere.
    following = carotation.advance(rotation, settled)
    return Phases(state, following, keymaterial.promote_staged(run, platform, identities, settled))
