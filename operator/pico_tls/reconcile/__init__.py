"""Reconcile a platform group in three steps: `snapshot` (read) -> `decide` (pure) -> `apply`.

`group.GroupReconciler` runs them. `decide` runs, top to bottom, `admission` (parse, refuse,
leave out), `group_decision` (`keymaterial`, `identities`, the phase machines `clientauth` and
`carotation`, `writes`) and `group_status` (with `report`); they only record into the pass's
`decision.Decision` and hand each other frozen results; `apply` is the one step that writes
to the API.
"""
