"""One reconcile pass over one platform group: what it read, when, and what it decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pico_tls.reconcile.carotation import Rotation
from pico_tls.reconcile.decision import Decision
from pico_tls.reconcile.exclusions import Exclusion
from pico_tls.reconcile.existing import DecodeCache, uncached
from pico_tls.reconcile.snapshot import Snapshot


@dataclass
class Pass:
    snapshot: Snapshot
    now: datetime
    decision: Decision = field(default_factory=Decision)
    decoded: DecodeCache = uncached  # memo of decoded Secrets (pure: same Secret, same value)
    # When certificates fall due (the requeue time comes from the earliest).
    renewals: list[datetime] = field(default_factory=list)
    # CA rotation in force for this pass, and the one the next pass will use.
    rotation: Rotation | None = None
    next_rotation: Rotation | None = None
    # Members left out of this pass (refused writes, unusable specs) and members retried
    # after a refused write, whose record stays in the Platform's status until they converge.
    excluded: dict[tuple[str, str], Exclusion] = field(default_factory=dict)
    retried: dict[tuple[str, str], Exclusion] = field(default_factory=dict)
    # The Platform's keystore Secret is near the API's size limit (sizes.py): why.
    store_size_warning: str | None = None
    # Members left out while their pods run, whom the CA rotation waits for.
    rotation_waits_for: list[str] = field(default_factory=list)
    # TrustBoth holds until then for desktop users to import their key again.
    rotation_holds_until: datetime | None = None

    @property
    def namespace(self) -> str:
        return self.snapshot.namespace
