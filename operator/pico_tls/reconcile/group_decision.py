"""The second half of `decide`: key material, the two phase machines, the plan they pick, and
the writes it needs.

First the plan with the phases as they stand (the probe); whether every workload runs it
decides the next client-auth and CA rotation phases and the promotion of staged certificates;
only when one of those changes is the plan built again. The phases are recorded in the
Platform's state Secret (phases.py), which the pass writes before anything they shape. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pico_tls.material import Identity
from pico_tls.parties import PlatformMember, uses_ca
from pico_tls.plan import build_plan
from pico_tls.plan_model import GroupPlan
from pico_tls.reconcile import carotation, keymaterial, phases, reimport, sizes
from pico_tls.reconcile.admission import Admitted
from pico_tls.reconcile.carotation import Rotation
from pico_tls.reconcile.clientauth import ClientAuthState, next_state
from pico_tls.reconcile.group_status import GroupOutcome
from pico_tls.reconcile.identities import (
    GroupIdentities,
    group_identities,
    held_identities,
    left_out_running,
)
from pico_tls.reconcile.passes import PassContext
from pico_tls.reconcile.rollout import delivering, rolled_out, template_hash
from pico_tls.reconcile.writes import decide_writes


@dataclass(frozen=True)
class Phases:
    """What the probe decided: the client-auth state this pass writes, the CA rotation phase
    the next pass builds, and the staged certificates that go into use now."""

    client_auth: ClientAuthState
    next_rotation: Rotation | None
    promoted: Mapping[str, Identity]
    waits_for: tuple[str, ...] = ()  # members left out while their pods run
    holds_until: datetime | None = None  # TrustBoth holds for desktop users' re-import


def decide_group(run: PassContext, group: Admitted) -> GroupOutcome:
    """Key material, phases, the plan, and the writes it needs (recorded in the Decision)."""
    platform, p = group.platform, group.platform.spec
    ca = keymaterial.group_ca(run, platform) if p.tls.enabled and uses_ca(p) else None
    rotation = keymaterial.rotation(run, platform, ca) if ca is not None else None
    identities = GroupIdentities({}, ())
    held: list[tuple[str, str, Identity]] = []
    if p.tls.enabled:
        issuing = keymaterial.issuing_ca(run, platform, ca, rotation) if ca else None
        identities = group_identities(
            run,
            platform,
            group.containers,
            group.desktops,
            ca,
            rotation,
            group.desktop_passwords,
            issuing,
        )
        # Members left out (refused write, invalid spec) stay pinned by the Platform.
        held = held_identities(run, group.excluded)
    desktops = group.desktops

    def build(ids: Mapping[str, Identity], require_client_auth: bool) -> GroupPlan:
        return build_plan(
            platform,
            group.containers,
            desktops,
            ca=ca,
            identities=ids,
            require_client_auth=require_client_auth,
            previous_cas=rotation.trusted_previous if rotation else (),
            held=held,
            attached=run.snapshot.workloads,  # the users' workloads of workloadRefs
        )

    effective = phases.recorded_client_auth(run, platform)
    desired = p.tls.enabled and p.tls.require_client_auth
    current_flag = bool(effective) if effective is not None else desired
    probe = build(identities.by_key, current_flag)
    fitting, size_warning = sizes.fit(run, platform, desktops, probe)  # 1 MiB per Secret
    if len(fitting) < len(desktops):
        desktops = tuple(fitting)
        probe = build(identities.by_key, current_flag)
    waiting = tuple(left_out_running(run, group.excluded)) if rotation else ()
    decided = _phases(
        run, platform, probe, identities.by_key, rotation, desired, effective, waiting
    )
    flag = decided.client_auth.effective
    if flag != current_flag:
        # The flag flips in this pass: recorded before any write, so a pass cut short after
        # writing the workloads cannot read the old flag back and roll them back to it.
        run.decision.status(platform.body, {"clientAuth": decided.client_auth.as_status()})
    plan = probe
    if flag != current_flag or decided.promoted:
        plan = build(identities.by_key | dict(decided.promoted), flag)
    # The phases the next pass builds, in the Platform's state Secret (written first).
    handled = phases.rotate_ca_handled(run, platform)
    phases.write_record(
        plan.state_secrets, p, phases.PhaseRecord(decided.next_rotation, flag, handled)
    )
    measured = sizes.measure(plan)  # every Secret and ConfigMap, not only the keystore
    size_warning = size_warning or sizes.near_limit(measured)
    written = decide_writes(run, plan)
    return GroupOutcome(
        platform,
        group.containers,
        desktops,
        plan,
        decided.client_auth,
        written.rolled_out,
        rotation=rotation,
        next_rotation=decided.next_rotation,
        due=identities.due,
        writing=written.owners,
        store_size_warning=size_warning,
        keys_lost=identities.lost,
        rotation_waits_for=decided.waits_for,
        rotation_holds_until=decided.holds_until,
        oversized=sizes.too_big(measured, p.name),
    )


def _phases(
    run: PassContext,
    platform: PlatformMember,
    probe: GroupPlan,
    identities: Mapping[str, Identity],
    rotation: Rotation | None,
    desired: bool,
    effective: bool | None,
    waiting: tuple[str, ...],
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
        workloads_exist=delivering(workloads, platform.spec.name),
        material_settled=material_settled,
        rolled_out=all_rolled,
        shown=((platform.body.get("status") or {}).get("clientAuth") or {}).get("phase"),
    )
    # The next rotation phase is built by the next pass, once this one runs everywhere,
    # including members left out whose pods still run (their stores lag behind), and not
    # before the desktop re-import period of TrustBoth has passed.
    holds_until = reimport.hold(run, platform, rotation) if settled else None
    following = carotation.advance(rotation, settled and not waiting and holds_until is None)
    promoted = keymaterial.promote_staged(run, platform, identities, settled)
    return Phases(state, following, promoted, waiting if settled else (), holds_until)
