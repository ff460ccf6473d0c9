"""Reconcile a platform group in three steps: `snapshot` (read) -> `decide` (pure) -> `apply`.

`group.GroupReconciler` runs them; `decide` and the modules it uses (`group_decision`,
`keymaterial`, `identities`, `writes`, `report`, `group_status`, the phase machines `clientauth`
and `carotation`)
only record into a `decision.Decision`; `apply` is the one step that writes to the API.
"""
