"""The development harness of pico-tls-operator: a local control plane and real node
(`cluster`), the test images and the Java stand-in (`images`), JDK tools (`java`), the operator
launcher, in-memory API, traffic and leak checks (`support`), and one subprocess lifecycle
(`proc`). Installed editable from the repository (`pip install -e harness/`): it reads the
repository's crds/, manifests/, examples/ and operator/ in place."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
