"""How each test image is built and checked; its cache key is the hash of what goes into it.

Order matters (parents first): ``debian`` (debootstrap minbase), ``jre`` and ``python`` on it,
``operator`` from the project's Dockerfile on ``python``, ``standin`` on ``jre``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pico_harness import REPO_ROOT
from pico_harness.images import debian, oci_run
from pico_harness.images.build_tools import run
from pico_harness.images.standin_local import ENTRYPOINT, SOURCES, compile_standin

HERE = Path(__file__).resolve().parent
REPO = REPO_ROOT
SUITE = "bookworm"
UID = "10001"


@dataclass(frozen=True)
class Recipe:
    name: str
    version: str  # bump to rebuild when the recipe's code changes
    parents: tuple[str, ...]
    inputs: Callable[[], Iterable[Path]]
    build: Callable[[str, dict[str, str], Path], None]  # (ref, parent refs, work dir)
    verify: Callable[[str], None] = field(default=lambda ref: None)

    def key(self, parent_keys: dict[str, str]) -> str:
        digest = hashlib.sha256(f"{self.name}\0{self.version}\0".encode())
        for name in self.parents:
            digest.update(f"parent {name} {parent_keys[name]}\0".encode())
        for path in sorted(set(self.inputs())):
            label = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            digest.update(str(label).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()[:16]


def _bud(ref: str, containerfile: Path, context: Path, **build_args: str) -> None:
    args = [f"--build-arg={k}={v}" for k, v in build_args.items()]
    run(
        "buildah", "bud", "--quiet", "--network=host", "--pull=never", "--layers=false",
        "--format=docker", *args, "-t", ref, "-f", str(containerfile), str(context),
    )  # fmt: skip


# --------------------------------------------------------------------------- debian


def _build_debian(ref: str, parents: dict[str, str], work: Path) -> None:
    rootfs = work / "rootfs"
    run("debootstrap", "--variant=minbase", SUITE, str(rootfs), debian.mirror(SUITE))
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / leftover).glob("*"):
            if item.is_file() and item.name != "lock":
                item.unlink()
    archive = work / "rootfs.tar"
    run("tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), ".")
    container = run("buildah", "from", "--quiet", "scratch", capture=True).strip()
    try:
        run("buildah", "add", "--quiet", container, str(archive), "/")
        path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        run("buildah", "config", "--env", path, "--env", "LANG=C.UTF-8", "--cmd", "/bin/sh",
            container)  # fmt: skip
        run("buildah", "commit", "--quiet", "--format=docker", container, ref)
    finally:
        run("buildah", "rm", container)


DEBIAN = Recipe("debian", "1", (), lambda: [HERE / "debian.py"], _build_debian)

# --------------------------------------------------------------------------- jre, python


def _containerfile_recipe(name: str, arg: str) -> Recipe:
    folder = HERE / name

    def build(ref: str, parents: dict[str, str], work: Path) -> None:
        _bud(ref, folder / "Containerfile", folder, **{arg: parents["debian"]})

    return Recipe(name, "1", ("debian",), lambda: [folder / "Containerfile"], build)


def _verify_jre(ref: str) -> None:
    result = oci_run.run_read_only(ref, ["java", "-version"])
    result.expect(0, 'openjdk version "17')


JRE = _containerfile_recipe("jre", "BASE")
JRE = Recipe(JRE.name, JRE.version, JRE.parents, JRE.inputs, JRE.build, _verify_jre)


def machine_ca_bundle() -> Path:
    """The CA bundle this machine's pip trusts (PIP_CERT, else Debian's bundle): the Python base
    carries it, so pip in the Dockerfile reaches the package index as pip on the machine does."""
    for candidate in (os.environ.get("PIP_CERT"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise RuntimeError("no CA bundle: install ca-certificates or set PIP_CERT")


def _build_python(ref: str, parents: dict[str, str], work: Path) -> None:
    shutil.copy2(HERE / "python" / "Containerfile", work / "Containerfile")
    shutil.copy2(machine_ca_bundle(), work / "ca-certificates.crt")
    _bud(ref, work / "Containerfile", work, BASE=parents["debian"])


PYTHON = Recipe(
    "python",
    "1",
    ("debian",),
    lambda: [HERE / "python" / "Containerfile", machine_ca_bundle()],
    _build_python,
)

# --------------------------------------------------------------------------- operator

OPERATOR_FILES = ("Dockerfile", ".dockerignore", "requirements.lock", "pyproject.toml", "README.md")


def _operator_inputs() -> list[Path]:
    sources = [
        p
        for p in (REPO / "operator").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p)
    ]
    return [REPO / f for f in OPERATOR_FILES] + sources


def _build_operator(ref: str, parents: dict[str, str], work: Path) -> None:
    _bud(ref, REPO / "Dockerfile", REPO, PYTHON_IMAGE=parents["python"])


def _verify_operator(ref: str) -> None:
    script = (
        "id -u; id -g; kopf --version; "
        "python -c 'import pico_tls, pico_tls.cli; print(\"import-ok\", pico_tls.__name__)'; "
        "if touch /tmp/probe 2>/dev/null; then echo root-writable; else echo root-read-only; fi"
    )
    result = oci_run.run_read_only(ref, ["/bin/sh", "-c", script])
    result.expect(0, f"{UID}\n{UID}\n", "kopf, version", "import-ok pico_tls", "root-read-only")


OPERATOR = Recipe("operator", "1", ("python",), _operator_inputs, _build_operator, _verify_operator)

# --------------------------------------------------------------------------- standin


def _build_standin(ref: str, parents: dict[str, str], work: Path) -> None:
    compile_standin(work / "classes")
    shutil.copy2(ENTRYPOINT, work / "entrypoint.sh")
    _bud(ref, HERE / "standin" / "Containerfile", work, BASE=parents["jre"])


def _verify_standin(ref: str) -> None:
    # no settings: the stand-in must start in the image (non-root, read-only) and refuse loudly
    result = oci_run.run_read_only(ref, [], env={"PICO_ROLE": "desktop"})
    result.expect(2, "FATAL property pico.rcp.platform.host is not set")
    result = oci_run.run_read_only(ref, ["/bin/sh", "-c", "id -u"], override_entrypoint=True)
    result.expect(0, UID)


STANDIN = Recipe(
    "standin",
    "1",
    ("jre",),
    lambda: [*SOURCES, ENTRYPOINT, HERE / "standin" / "Containerfile", HERE / "standin_local.py"],
    _build_standin,
    _verify_standin,
)

ALL = (DEBIAN, JRE, PYTHON, OPERATOR, STANDIN)


def with_parents(names: Iterable[str]) -> set[str]:
    by_name = {r.name: r for r in ALL}
    wanted: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in by_name:
            raise KeyError(f"unknown image {name!r}; known: {', '.join(by_name)}")
        if name not in wanted:
            wanted.add(name)
            todo.extend(by_name[name].parents)
    return wanted
