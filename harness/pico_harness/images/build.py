"""Build the test images on this machine, with no registry, cached by content.

    from pico_harness.images.build import build_all
    tars = build_all()          # {"debian": Path, "jre": Path, "python": Path, "operator": Path,
                                #  "standin": Path}: docker-archive tars for `ctr images import`
    refs = image_refs()         # {"standin": "localhost/pico-tls/standin:<key>", ...}

or ``harness/pico_harness/images/build.sh`` (prints ``name=path`` lines). Each image is built
with buildah (Debian package, see install-deps.sh) from a recipe in this folder; its cache key
hashes the recipe and its inputs (and the parent's key), and the tar is kept as
``${PICO_TLS_CLUSTER_CACHE:-~/.cache/pico-tls}/images/<name>-<key>.tar``. A cached tar is reused
as is; a parent missing from buildah's storage is loaded from its tar. See README.md.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pico_harness.images import debian, recipes
from pico_harness.images.build_tools import in_storage, log, run
from pico_harness.images.recipes import Recipe

REPO_PREFIX = "localhost/pico-tls"


def cache_dir() -> Path:
    root = os.environ.get("PICO_TLS_CLUSTER_CACHE") or str(Path.home() / ".cache" / "pico-tls")
    return Path(root) / "images"


@dataclass(frozen=True)
class Image:
    name: str
    key: str  # content key (hex, 16 characters)
    ref: str  # localhost/pico-tls/<name>:<key>
    tar: Path
    built: bool  # False: taken from the cache
    seconds: float


def ensure_loaded(image: Image) -> None:
    """Put a cached image into buildah's storage (needed when it is a parent)."""
    if not in_storage(image.ref):
        log(f"loading {image.ref} from {image.tar}")
        run("buildah", "pull", "--quiet", f"docker-archive:{image.tar}")


def _export(ref: str, tar: Path) -> None:
    partial = tar.with_suffix(".tar.partial")
    partial.unlink(missing_ok=True)
    run("buildah", "push", "--quiet", ref, f"docker-archive:{partial}:{ref}")
    partial.rename(tar)


@contextmanager
def _lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_one(recipe: Recipe, parents: dict[str, Image], out: Path) -> Image:
    key = recipe.key({name: parents[name].key for name in recipe.parents})
    ref = f"{REPO_PREFIX}/{recipe.name}:{key}"
    tar = out / f"{recipe.name}-{key}.tar"
    if tar.is_file():
        return Image(recipe.name, key, ref, tar, built=False, seconds=0.0)
    for name in recipe.parents:
        ensure_loaded(parents[name])
    started = time.monotonic()
    log(f"building {ref}")
    with tempfile.TemporaryDirectory(prefix=f"pico-image-{recipe.name}-") as work:
        recipe.build(ref, {n: parents[n].ref for n in recipe.parents}, Path(work))
    recipe.verify(ref)
    _export(ref, tar)
    seconds = time.monotonic() - started
    meta = {"ref": ref, "seconds": round(seconds, 1), "bytes": tar.stat().st_size}
    tar.with_suffix(".json").write_text(json.dumps(meta) + "\n")
    log(f"built {ref} in {seconds:.0f}s ({tar.stat().st_size / 1e6:.0f} MB)")
    return Image(recipe.name, key, ref, tar, built=True, seconds=seconds)


KEEP = 2  # older tars kept per image (other branches may still want them)


def _prune(image: Image, out: Path) -> None:
    """Drop all but the newest KEEP older tars of ``image.name``, and their images in storage."""
    older = [t for t in out.glob(f"{image.name}-*.tar") if t != image.tar]
    older.sort(key=lambda t: t.stat().st_mtime, reverse=True)
    for tar in older[KEEP:]:
        key = tar.stem.rsplit("-", 1)[-1]
        subprocess.run(["buildah", "rmi", f"{REPO_PREFIX}/{image.name}:{key}"],
                       capture_output=True, check=False)  # fmt: skip
        tar.unlink(missing_ok=True)
        tar.with_suffix(".json").unlink(missing_ok=True)


def build_images(names: list[str] | None = None) -> dict[str, Image]:
    """Build (or take from the cache) the named images and their parents, in order."""
    wanted = recipes.with_parents(names or [r.name for r in recipes.ALL])
    out = cache_dir()
    images: dict[str, Image] = {}
    with _lock(out):
        for recipe in recipes.ALL:
            if recipe.name in wanted:
                images[recipe.name] = _build_one(recipe, images, out)
                if images[recipe.name].built:
                    _prune(images[recipe.name], out)
    return images


def build_all() -> dict[str, Path]:
    """Every image's docker-archive tar (importable with ``ctr -n k8s.io images import``)."""
    return {name: image.tar for name, image in build_images().items()}


def image_refs() -> dict[str, str]:
    """Every image's reference as named inside its tar (builds what is missing)."""
    return {name: image.ref for name, image in build_images().items()}


def main(argv: list[str]) -> int:
    """``[--refs] [name...]``: print ``name=tar`` (or ``name=ref`` with --refs) per image."""
    started = time.monotonic()
    refs = "--refs" in argv
    images = build_images([a for a in argv if a != "--refs"] or None)
    for image in images.values():
        print(f"{image.name}={image.ref if refs else image.tar}")
    for image in images.values():
        how = f"built in {image.seconds:.0f}s" if image.built else "cached"
        log(f"{image.ref} {how}, {image.tar.stat().st_size / 1e6:.0f} MB")
    log(f"total {time.monotonic() - started:.1f}s (mirror {debian.mirror()})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
