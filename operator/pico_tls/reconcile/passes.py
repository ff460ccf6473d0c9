"""What every step of one decision reads (the snapshot, the pass's clock, the decode memo) and
the Decision they record their actions into, in order. Frozen: a value one step hands to
another is returned by it (`admission.Admitted`, `identities.GroupIdentities`,
`group_status.GroupOutcome`), never left here for another step to find."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pico_tls.keystore.parallel import Encoder, encode_serial
from pico_tls.reconcile.decision import Decision
from pico_tls.reconcile.keysupply import GENERATE, KeySupply
from pico_tls.reconcile.readback import DecodeCache, uncached
from pico_tls.reconcile.snapshot import Snapshot


@dataclass(frozen=True)
class PassContext:
    snapshot: Snapshot
    now: datetime
    decoded: DecodeCache = uncached  # memo of decoded Secrets (pure: same Secret, same value)
    keys: KeySupply = GENERATE  # new private keys made ahead (keysupply.prepare)
    encoder: Encoder = encode_serial  # keystores, a batch at a time (keystore.parallel)
    # Write-only for the steps of `decide`: each appends its own actions; none reads them.
    decision: Decision = field(default_factory=Decision)

    @property
    def namespace(self) -> str:
        return self.snapshot.namespace
