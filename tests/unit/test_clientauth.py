"""The order of switching required client authentication on and off."""

import pytest

from pico_tls.reconcile.clientauth import Phase, next_state


@pytest.mark.parametrize(
    ("desired", "effective", "exist", "settled", "rolled", "expect_flag", "expect_phase"),
    [
        # A new platform starts directly in the desired state: nothing runs yet.
        (True, None, False, False, False, True, Phase.ENFORCING),
        (False, None, False, False, False, False, Phase.RELAXING),
        # Turning on: trust first, the flag only once everything rolled out.
        (True, False, True, False, False, False, Phase.PREPARING_TRUST),
        (True, False, True, True, False, False, Phase.PREPARING_TRUST),
        (True, False, True, False, True, False, Phase.PREPARING_TRUST),
        (True, False, True, True, True, True, Phase.ENFORCING),
        (True, True, True, True, False, True, Phase.ENFORCING),
        (True, True, True, True, True, True, Phase.ENFORCED),
        # Turning off: the flag goes first, whatever is rolling.
        (False, True, True, False, False, False, Phase.RELAXING),
        (False, False, True, True, False, False, Phase.RELAXING),
        (False, False, True, True, True, False, Phase.DISABLED),
    ],
)
def test_next_state(desired, effective, exist, settled, rolled, expect_flag, expect_phase):
    state = next_state(
        desired, effective, workloads_exist=exist, material_settled=settled, rolled_out=rolled
    )
    assert (state.effective, state.phase) == (expect_flag, expect_phase)
    assert state.desired is desired


def test_status_shape():
    state = next_state(True, True, workloads_exist=True, material_settled=True, rolled_out=True)
    assert state.as_status() == {"desired": True, "effective": True, "phase": "Enforced"}


@pytest.mark.parametrize(
    ("desired", "shown", "expect_phase"),
    [
        # A roll that leaves the flag alone (renewal, CA rotation) does not reopen the switch.
        (True, "Enforced", Phase.ENFORCED),
        (False, "Disabled", Phase.DISABLED),
        # A switch still rolling out, or a status that was lost, shows the rollout.
        (True, "Enforcing", Phase.ENFORCING),
        (True, None, Phase.ENFORCING),
        (False, "Relaxing", Phase.RELAXING),
        (False, None, Phase.RELAXING),
    ],
)
def test_a_finished_switch_stays_finished_through_other_rolls(desired, shown, expect_phase):
    state = next_state(
        desired, desired, workloads_exist=True, material_settled=False, rolled_out=False,
        shown=shown,
    )  # fmt: skip
    assert (state.effective, state.phase) == (desired, expect_phase)
