"""OCI image archives written by hand (no registry, no builder): an image layout tar with one
layer, the form ``ctr images import`` reads. Used for the real node's pause image; cached by
content under ``${PICO_TLS_CLUSTER_CACHE:-~/.cache/pico-tls}/images/``.

    tar = pause_image(bin_dir)             # Path of <cache>/images/pause-<digest>.tar
    tar.name, PAUSE_IMAGE_REPO             # the image is named by content too
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PAUSE_IMAGE_REPO = "localhost/pico-tls/pause"
PROBE_IMAGE_REPO = "localhost/pico-tls/probe"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
_EPOCH = 0  # fixed timestamps: the same files give the same digests


@dataclass(frozen=True)
class ImageFile:
    """One regular file of a layer."""

    data: bytes
    mode: int = 0o755


@dataclass(frozen=True)
class OciImage:
    path: Path  # the archive
    name: str  # full reference, e.g. localhost/pico-tls/pause:3f1a...
    manifest_digest: str


def images_cache_dir() -> Path:
    root = os.environ.get("PICO_TLS_CLUSTER_CACHE") or str(Path.home() / ".cache" / "pico-tls")
    return Path(root) / "images"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer_tar(files: Mapping[str, ImageFile]) -> bytes:
    """An uncompressed tar of `files` (paths relative to /), with their parent folders."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for path in sorted(files):
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, _EPOCH
            tar.addfile(info)
        for path in sorted(files):
            item = files[path]
            info = tarfile.TarInfo(path.strip("/"))
            info.size, info.mode, info.mtime = len(item.data), item.mode, _EPOCH
            tar.addfile(info, io.BytesIO(item.data))
    return buf.getvalue()


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _image_blobs(
    files: Mapping[str, ImageFile], entrypoint: Sequence[str], user: str
) -> tuple[list[bytes], bytes]:
    """(config and layer blobs, manifest) of a one-layer linux/amd64 image."""
    layer = _layer_tar(files)
    layer_gz = gzip.compress(layer, mtime=_EPOCH)
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": list(entrypoint), "User": user},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(layer_gz),
                    "size": len(layer_gz),
                }
            ],
        }
    )
    return [config, layer_gz], manifest


def _layout_archive(blobs: Sequence[bytes], manifest: bytes, name: str) -> bytes:
    """An OCI image layout tar whose index names `manifest` as image `name`."""
    index = _json(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1],
                    },
                }
            ],
        }
    )
    entries = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
    entries += [("blobs/sha256/" + hashlib.sha256(b).hexdigest(), b) for b in [*blobs, manifest]]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry_name, data in entries:
            info = tarfile.TarInfo(entry_name)
            info.size, info.mtime = len(data), _EPOCH
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_image(
    stem: str,
    repo: str,
    files: Mapping[str, ImageFile],
    *,
    entrypoint: Sequence[str],
    user: str = "65535:65535",
) -> OciImage:
    """The image archive of `files`, named `repo:<first 12 hex of the manifest digest>`, cached
    by content: an existing archive of the same content is reused as it is."""
    blobs, manifest = _image_blobs(files, entrypoint, user)
    digest = _digest(manifest)
    short = digest.split(":")[1][:12]
    name = f"{repo}:{short}"
    path = images_cache_dir() / f"{stem}-{short}.tar"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(_layout_archive(blobs, manifest, name))
        tmp.replace(path)
    return OciImage(path, name, digest)


def pause_image(bin_dir: Path) -> OciImage:
    """The pause image from build.sh's `pause` binary (a static Go program)."""
    binary = (bin_dir / "pause").read_bytes()
    return build_image(
        "pause", PAUSE_IMAGE_REPO, {"pause": ImageFile(binary)}, entrypoint=["/pause"]
    )


def probe_image(bin_dir: Path) -> OciImage:
    """The network probe of the real node's tests (go/probe beside this module): `probe serve
    PORT`, `probe dial HOST:PORT [TIMEOUT]`, `probe resolve NAME`."""
    binary = (bin_dir / "probe").read_bytes()
    return build_image(
        "probe", PROBE_IMAGE_REPO, {"probe": ImageFile(binary)}, entrypoint=["/probe"]
    )
