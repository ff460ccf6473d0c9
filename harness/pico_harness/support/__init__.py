"""Test support shared by tests/, bench/ and scripts/demo.py (never by the shipped package):

- `world`: an in-memory API for `decide` (snapshots in, decisions applied), no cluster.
- `operator_process`: the operator as a process, started with manifests/operator.yaml's arguments.
- `install`: CRDs and RBAC into a cluster.
- `stores`: a keystore Secret written out as files a JVM can load.
- `resources`: custom resource bodies and cluster look-ups the end-to-end tests share.
- `folders`: a folder as data (`snapshot`), to prove a run left it untouched.
- `entrypoints`: a shell stand-in for the public MediationZone entrypoint (Java tests).
"""
