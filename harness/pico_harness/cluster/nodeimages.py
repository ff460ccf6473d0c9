"""Images of the real node's containerd: nothing is pulled, every image is imported from a tar
(``ctr -n k8s.io images import``). Usable for any containerd socket, e.g. a running
``dev-cluster up --real-node`` (``dev-cluster import-image TAR``)."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path


def ctr(socket_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`ctr` against `socket_path`, in the CRI's namespace (k8s.io)."""
    cmd = ["ctr", f"--address={socket_path}", "--namespace=k8s.io", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return proc


def images(socket_path: Path) -> set[str]:
    return set(ctr(socket_path, "images", "ls", "-q").stdout.split())


def import_image(socket_path: Path, tar: Path) -> list[str]:
    """Imports an OCI image layout or docker-archive tar (buildah/podman `push oci-archive:`
    or `docker-archive:`, `docker save`, ociimage.py) into the containerd at `socket_path`;
    returns the names it added (none when all were there already). Pods use them with
    `imagePullPolicy: Never` or `IfNotPresent`."""
    before = images(socket_path)
    out = ctr(socket_path, "images", "import", str(tar), check=False)
    after = images(socket_path)
    if out.returncode != 0 or not (after - before or names_in(tar) & after):
        raise RuntimeError(f"importing {tar} added no image: {out.stderr.strip()}")
    return sorted(after - before)


def names_in(tar: Path) -> set[str]:
    """Image names an archive carries (OCI index annotations or docker RepoTags, with the
    spellings containerd gives them)."""
    with tarfile.open(tar) as archive:
        members = archive.getnames()
        member = archive.extractfile(
            "manifest.json" if "manifest.json" in members else "index.json"
        )
        data = json.load(member) if member else {}
    if isinstance(data, list):  # docker-archive
        tags = [t for entry in data for t in entry.get("RepoTags") or []]
        return (
            set(tags) | {f"docker.io/{t}" for t in tags} | {f"docker.io/library/{t}" for t in tags}
        )
    annotations = [m.get("annotations", {}) for m in data.get("manifests", [])]
    return {a["io.containerd.image.name"] for a in annotations if "io.containerd.image.name" in a}
