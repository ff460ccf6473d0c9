"""`pico-tls` commands for people (also `kubectl pico-tls`): status, desktop-key, inspect,
renew, rotate-ca, bundle, completion. API reads and writes go through `api.py` (over
`pico_tls.kube`); the `*_view.py` modules are pure formatting."""
