"""``spectramind bundle``: an offline folder that predicts on Kaggle what was trained here.

The folder (docs/kaggle.md), uploaded as a Kaggle dataset:

- ``wheels/``: the project wheel and every runtime dependency at its ``requirements.lock`` pin
  (the closure of the project's declared dependencies; no test, lint or SBOM tooling);
- ``model/``: the checkpoint, its training record and config snapshot
  (:mod:`spectramind.repro.shipped`);
- ``sbom/``: CycloneDX and SPDX documents of the environment the wheelhouse installs;
- ``run.sh``: ``run.sh [INPUT_DIR] [WORKING_DIR]`` verifies every file against ``BUNDLE.json``,
  installs offline (``pip install --no-index --find-links wheels``) into a fresh venv and runs
  the predict-only workflow, writing ``WORKING_DIR/submission.csv``;
- ``spectramind-submit.ipynb``: the Kaggle notebook (nbformat 4) that calls ``run.sh``;
- ``BUNDLE.json``: project version, git commit and dirty flag, lock and checkpoint hashes,
  creation time and the size and SHA-256 of every other file.

Same inputs, same bytes: the project wheel is built from a copy of the source files with
``SOURCE_DATE_EPOCH``; the creation time is that epoch (default: the HEAD commit's time); files
get that mtime and fixed permissions; JSON is written with sorted keys; dependency wheels come
from a cache keyed by file name, so a second build copies the very files the first one used.
The SHA-256 of ``BUNDLE.json`` therefore identifies the whole folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spectramind.assets import resource_path
from spectramind.errors import SpectraMindError
from spectramind.repro.hashing import sha256_file
from spectramind.repro.shipped import CHECKPOINT, export_model

log = logging.getLogger(__name__)

BUNDLE_JSON = "BUNDLE.json"
RUN_SH = "run.sh"
NOTEBOOK = "spectramind-submit.ipynb"
WHEELS = "wheels"
MODEL = "model"
SBOM = "sbom"
FORMAT_VERSION = 1
DEFAULT_INPUT = "/kaggle/input/ariel-data-challenge-2025"
DEFAULT_WORKING = "/kaggle/working"
#: Default wheel cache (dependency wheels, downloaded or built once per file name).
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "spectramind"


class BundleError(SpectraMindError):
    """The bundle cannot be built as asked (the message says what is missing)."""


@dataclass(frozen=True)
class Pin:
    """A runtime dependency at its lock pin."""

    name: str  # PEP 503 normalised
    version: str

    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


# --- the source tree and its commit ------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise BundleError(f"{repo}: git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def git_provenance(repo: Path) -> tuple[str, bool, int]:
    """(HEAD commit, dirty, HEAD commit time) of the checkout; dirty counts untracked source
    files too, since they go into the wheel."""
    commit = _git(repo, "rev-parse", "HEAD").strip()
    dirty = bool(_git(repo, "status", "--porcelain").strip())
    epoch = int(_git(repo, "log", "-1", "--format=%ct").strip())
    return commit, dirty, epoch


def source_files(repo: Path) -> list[str]:
    """Tracked and untracked, not ignored, files of the checkout (what a clean clone plus the
    working changes has), sorted."""
    out = _git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted({p for p in out.split("\0") if p and os.path.lexists(repo / p)})


def copy_source(repo: Path, dest: Path) -> None:
    """Copy :func:`source_files` into ``dest``, symbolic links as links."""
    for name in source_files(repo):
        src, dst = repo / name, dest / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copyfile(src, dst)


def build_project_wheel(repo: Path, out_dir: Path, epoch: int) -> Path:
    """Build the project wheel (package data included) from a copy of the source files, with
    ``SOURCE_DATE_EPOCH=epoch`` so the same sources give the same bytes. Offline: the build
    uses the running environment's setuptools (``--no-build-isolation --no-index``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spectramind-src-") as tmp:
        copy_source(repo, Path(tmp))
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
        with tempfile.TemporaryDirectory(prefix="spectramind-wheel-") as wheel_dir:
            cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
            cmd += ["--no-build-isolation", "--no-index", "-w", wheel_dir, tmp]
            _run(cmd, env=env, what="building the project wheel")
            (wheel,) = Path(wheel_dir).glob("spectramind-*.whl")
            return Path(shutil.copy(wheel, out_dir / wheel.name))


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    log.info("%s: %s", what, " ".join(cmd))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BundleError(f"{what} failed (exit {proc.returncode}):\n{tail}")


# --- the runtime dependencies ------------------------------------------------------------------


def runtime_pins(lock: Path, project: str = "spectramind") -> list[Pin]:
    """The transitive runtime requirements of ``project`` (its declared dependencies, their
    extras followed, markers evaluated for this interpreter), each at its ``lock`` pin.

    Raises :class:`BundleError` for a dependency the lock does not pin or that is not
    installed here (the closure is read from the installed distributions' metadata).
    """
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from spectramind.supply.inventory import read_lock

    pins = read_lock(lock)
    seen: dict[str, Pin] = {}
    todo: list[tuple[str, frozenset[str]]] = [(project, frozenset())]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        try:
            requires = md.distribution(name).requires or []
        except md.PackageNotFoundError:
            raise BundleError(f"{name}: a runtime dependency that is not installed here") from None
        for text in requires:
            req = Requirement(text)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(e) for e in envs):
                continue
            key = canonicalize_name(req.name)
            if key != canonicalize_name(project):
                entry = pins.get(key)
                if entry is None or not entry.pin:
                    raise BundleError(f"{lock}: expected a == pin for runtime dependency {key}")
                seen[key] = Pin(key, entry.pin)
            todo.append((key, frozenset(req.extras)))
    return sorted(seen.values(), key=lambda p: p.name)


def _wheel_key(path: Path) -> tuple[str, str] | None:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        name, version, _, _ = parse_wheel_filename(path.name)
    except InvalidWheelFilename:
        return None
    return str(name), str(version)


def _matches(pin: Pin, path: Path) -> bool:
    from packaging.version import Version

    key = _wheel_key(path)
    if key is None or key[0] != pin.name:
        return False
    found = Version(key[1])
    return Version(found.public) == Version(pin.version) or str(found) == pin.version


def _best_wheel(pin: Pin, cache: Path) -> Path | None:
    """The cached wheel of ``pin`` this interpreter prefers (its tag order), or None."""
    from packaging.tags import sys_tags
    from packaging.utils import parse_wheel_filename

    candidates = [p for p in sorted(cache.glob("*.whl")) if _matches(pin, p)]
    rank = {tag: i for i, tag in enumerate(sys_tags())}
    best: tuple[int, Path] | None = None
    for path in candidates:
        tags = parse_wheel_filename(path.name)[3]
        score = min((rank[t] for t in tags if t in rank), default=None)
        if score is not None and (best is None or score < best[0]):
            best = (score, path)
    return best[1] if best else None


def fetch_wheels(pins: Iterable[Pin], cache: Path, pip_args: Iterable[str] = ()) -> list[Path]:
    """A wheel for every pin, from ``cache`` or fetched into it: ``pip download`` of binary
    wheels through pip's configured indexes (``pip_args``, e.g. ``--no-index --find-links DIR``,
    to stay offline), else ``pip wheel`` from the sdist (``SOURCE_DATE_EPOCH=0``)."""
    cache.mkdir(parents=True, exist_ok=True)
    pins = list(pins)
    missing = [p for p in pins if _best_wheel(p, cache) is None]
    if missing:
        log.info("fetching %d of %d wheels into %s", len(missing), len(pins), cache)
        base = [sys.executable, "-m", "pip"]
        cmd = [*base, "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(cache)]
        try:
            _run([*cmd, *pip_args, *(p.requirement() for p in missing)], "pip download")
        except BundleError as err:
            log.info("pip download of all missing wheels failed, one by one now: %s", err)
            for pin in missing:
                try:
                    _run([*cmd, *pip_args, pin.requirement()], f"pip download {pin.requirement()}")
                except BundleError:
                    env = {**os.environ, "SOURCE_DATE_EPOCH": "0"}
                    wheel = [*base, "wheel", "-q", "--no-deps", "-w", str(cache), *pip_args]
                    _run([*wheel, pin.requirement()], f"pip wheel {pin.requirement()}", env)
    wheels = []
    for pin in pins:
        path = _best_wheel(pin, cache)
        if path is None:
            raise BundleError(f"{pin.requirement()}: no wheel for this interpreter in {cache}")
        wheels.append(path)
    return wheels


# --- SBOMs of the environment the wheelhouse installs -------------------------------------------


def install_wheelhouse(wheels: Path, venv: Path, project: str = "spectramind") -> Path:
    """A fresh venv with ``project`` installed from ``wheels`` only; returns its python."""
    _run([sys.executable, "-m", "venv", str(venv)], "creating a venv")
    python = venv / "bin" / "python"
    cmd = [str(python), "-m", "pip", "install", "-q", "--no-index", "--no-cache-dir"]
    _run([*cmd, "--find-links", str(wheels), project], "offline install from the wheelhouse")
    return python


def write_sboms(wheels: Path, out: Path, pyproject: Path, cache: Path) -> None:
    """CycloneDX + SPDX of the wheelhouse's environment (installed into a scratch venv, which
    also proves the wheelhouse complete). Cached by the wheel hashes: the same wheels give the
    same documents, so a rebuild copies them."""
    from spectramind.supply.sboms import generate_sboms

    digest = hashlib.sha256()
    for path in sorted(wheels.glob("*.whl")):
        digest.update(f"{path.name} {sha256_file(path)}\n".encode())
    digest.update(sha256_file(pyproject).encode())
    cached = cache / "sbom" / digest.hexdigest()
    if not (cached / "done").is_file():
        with tempfile.TemporaryDirectory(prefix="spectramind-sbom-") as tmp:
            python = install_wheelhouse(wheels, Path(tmp) / "venv")
            staging = Path(tmp) / "sbom"
            generate_sboms(staging, python=python, pyproject=pyproject)
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(cached, ignore_errors=True)
            shutil.copytree(staging, cached)
            (cached / "done").write_text("")
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(cached.glob("*.json")):
        shutil.copyfile(path, out / path.name)


# --- runner, notebook, BUNDLE.json -------------------------------------------------------------


def notebook(version: str) -> str:
    """The Kaggle notebook (nbformat 4.5, fixed cell ids, so the same bytes every build)."""
    import nbformat

    template = resource_path("bundle", "notebook_cells.txt").read_text()
    chunks = [c.strip("\n") for c in template.split("# %%")[1:]]
    cells = []
    for i, chunk in enumerate(chunks):
        kind, _, body = chunk.partition("\n")
        body = body.replace("{version}", version)
        if kind.strip() == "[markdown]":
            lines = [line[2:] if line.startswith("# ") else line[1:] for line in body.split("\n")]
            text = "\n".join(lines)
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(body)
        cell["id"] = f"spectramind-{i}"
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def file_entries(root: Path) -> list[dict[str, Any]]:
    """``{path, size, sha256}`` of every file under ``root`` but BUNDLE.json, sorted by path."""
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != BUNDLE_JSON:
            entries.append({"path": rel, "size": path.stat().st_size, "sha256": sha256_file(path)})
    return entries


def _normalise(root: Path, epoch: int) -> None:
    """Fixed permissions and mtimes, so copies and archives of the folder are reproducible."""
    for path in sorted(root.rglob("*"), reverse=True):
        mode = 0o755 if path.is_dir() or path.name == RUN_SH else 0o644
        path.chmod(mode)
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    root.chmod(0o755)
    os.utime(root, (epoch, epoch))


def build_bundle(
    out: Path | str,
    ckpt: Path | str = "artifacts/ckpt/model.pt",
    repo: Path | str = ".",
    cache: Path | str | None = None,
    pip_args: Iterable[str] = (),
    runs_root: Path | str | None = None,
    epoch: int | None = None,
) -> dict[str, Any]:
    """Write the bundle folder ``out`` (must not exist); return its BUNDLE.json content.

    Built in a temporary folder beside ``out`` and renamed into place: a failure leaves nothing.
    ``epoch``: the creation time and every file's mtime (default ``SOURCE_DATE_EPOCH``, else the
    HEAD commit's time).
    """
    from spectramind import __version__

    out, repo = Path(out), Path(repo).resolve()
    cache = Path(cache) if cache is not None else DEFAULT_CACHE
    if out.exists():
        raise BundleError(f"{out}: expected a new folder for the bundle, found one there")
    lock = repo / "requirements.lock"
    commit, dirty, commit_time = git_provenance(repo)
    if epoch is None:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", commit_time))
    if dirty:
        log.warning("%s has uncommitted changes: BUNDLE.json records git_dirty true", repo)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        shipped_ckpt = export_model(ckpt, staging / MODEL, runs_root)
        record = json.loads((staging / MODEL / "training-record.json").read_text())
        pins = runtime_pins(lock)
        wheels = staging / WHEELS
        project_wheel = build_project_wheel(repo, wheels, epoch)
        for path in fetch_wheels(pins, cache / "wheels", pip_args):
            shutil.copyfile(path, wheels / path.name)
        write_sboms(wheels, staging / SBOM, repo / "pyproject.toml", cache)
        runner = resource_path("bundle", RUN_SH).read_text()
        (staging / RUN_SH).write_text(runner.replace("@VERSION@", __version__))
        (staging / NOTEBOOK).write_text(notebook(__version__))
        info = {
            "format": FORMAT_VERSION,
            "project": "spectramind",
            "version": __version__,
            "git_commit": commit,
            "git_dirty": dirty,
            "created_utc": datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lock_sha256": sha256_file(lock),
            "checkpoint_sha256": sha256_file(shipped_ckpt),
            "checkpoint": f"{MODEL}/{CHECKPOINT}",
            "training_run_id": record.get("run_id"),
            "training_git_commit": record.get("git_commit"),
            "project_wheel": f"{WHEELS}/{project_wheel.name}",
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "runtime_requirements": [p.requirement() for p in pins],
            "defaults": {"input_dir": DEFAULT_INPUT, "working_dir": DEFAULT_WORKING},
            "files": file_entries(staging),
        }
        (staging / BUNDLE_JSON).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        _normalise(staging, epoch)
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return info


def bundle_digest(out: Path | str) -> str:
    """SHA-256 of the bundle's BUNDLE.json: it lists every other file's hash, so it names the
    whole folder."""
    return sha256_file(Path(out) / BUNDLE_JSON)
