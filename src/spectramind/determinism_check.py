"""The determinism job (ADR 0006 layer 5): :func:`determinism_check`.

Runs the workflow three times from scratch, each in a fresh copy of the repository's files
(``git ls-files``: tracked plus untracked-not-ignored, so no outputs are carried over): twice
with the same seed, once with another. Passes when the same seed gives byte-identical key outputs
(SHA-256 per file) and the other seed changes at least one of them, which shows the comparison
can fail at all. The result JSON is what ``spectramind compliance`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spectramind.errors import SpectraMindError
from spectramind.io import atomic_path
from spectramind.repro.hashing import sha256_file

log = logging.getLogger(__name__)

#: Key outputs compared (globs relative to the workflow folder): calibrated data, physics fits,
#: checkpoint, predictions, submission and score.
DEFAULT_OUTPUTS = (
    "artifacts/calib/**/*.npz",
    "artifacts/fit/**/*.npz",
    "artifacts/ckpt/model.pt",
    "artifacts/preds/*.npz",
    "artifacts/submission/submission.csv",
    "artifacts/metrics/score.json",
)
#: Snakemake targets: everything the key outputs need, not the report (its timing figure
#: plots measured wall times).
DEFAULT_TARGETS = (
    "artifacts/submission/submission.csv",
    "artifacts/metrics/score.json",
)
DEFAULT_RESULT = Path("artifacts/determinism/result.json")
SCHEMA_VERSION = 1


class DeterminismCheckError(SpectraMindError):
    """The check could not run: no git checkout, or a workflow run failed."""


@dataclass
class DeterminismResult:
    """Per-output SHA-256 of each run, and the verdict."""

    seed: int
    other_seed: int
    configfiles: list[str]
    targets: list[str]
    git_commit: str | None
    outputs: dict[str, dict[str, str | None]] = field(default_factory=dict)
    durations_s: dict[str, float] = field(default_factory=dict)

    @property
    def same_seed_mismatches(self) -> list[str]:
        return [
            f"{path}: {h['first']} != {h['second']}"
            for path, h in sorted(self.outputs.items())
            if h["first"] != h["second"]
        ]

    @property
    def other_seed_differs(self) -> bool:
        return any(h["first"] != h["other_seed"] for h in self.outputs.values())

    @property
    def passed(self) -> bool:
        return bool(self.outputs) and not self.same_seed_mismatches and self.other_seed_differs

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "passed": self.passed,
            "seed": self.seed,
            "other_seed": self.other_seed,
            "configfiles": self.configfiles,
            "targets": self.targets,
            "git_commit": self.git_commit,
            "same_seed_mismatches": self.same_seed_mismatches,
            "other_seed_differs": self.other_seed_differs,
            "outputs": self.outputs,
            "durations_s": self.durations_s,
        }

    def lines(self) -> list[str]:
        out = []
        for path, h in sorted(self.outputs.items()):
            same = "identical" if h["first"] == h["second"] else "DIFFERENT"
            other = "differs" if h["first"] != h["other_seed"] else "same"
            out.append(f"{path}: same seed {same}; other seed {other}")
        out.append(
            f"determinism: {'PASS' if self.passed else 'FAIL'} "
            f"({len(self.outputs)} outputs, {len(self.same_seed_mismatches)} same-seed "
            f"mismatches, other seed {'differs' if self.other_seed_differs else 'identical'})"
        )
        return out


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DeterminismCheckError(f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip()}")
    return proc.stdout


def head_commit(repo: Path) -> str | None:
    """The checked-out commit, or None (no commits yet)."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=repo, capture_output=True, text=True
    )
    return proc.stdout.strip() or None


def copy_sources(repo: Path, dest: Path) -> None:
    """Copy the repository's source files (tracked + untracked-not-ignored) into ``dest``."""
    names = _git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in sorted(set(filter(None, names.split("\0")))):
        src = repo / name
        if not src.is_file():  # deleted in the worktree, or a submodule
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def hash_outputs(workdir: Path, patterns: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``{relative path: sha256}`` of the files matching ``patterns`` under ``workdir``."""
    found = {}
    for pattern in patterns:
        for path in sorted(workdir.glob(pattern)):
            if path.is_file():
                found[path.relative_to(workdir).as_posix()] = sha256_file(path)
    return found


def run_workflow(
    workdir: Path,
    seed: int,
    configfiles: list[str],
    targets: list[str],
    cores: int,
    log_path: Path,
) -> float:
    """Run ``snakemake`` in ``workdir`` with ``seed``; return the wall time in seconds."""
    snakemake = shutil.which("snakemake")
    if snakemake is None:
        raise DeterminismCheckError("snakemake is not installed")
    cmd = [snakemake, "--cores", str(cores), *targets]
    if configfiles:
        cmd += ["--configfile", *configfiles]
    cmd += ["--config", f"seed={seed}"]
    env = dict(os.environ)
    # Each run gets its own run id; one left exported would pin all three to the same id.
    env.pop("SPECTRAMIND_RUN_ID", None)
    log.info("run %s (seed %d): %s", workdir.name, seed, " ".join(cmd))
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as out:
        proc = subprocess.run(cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise DeterminismCheckError(
            f"workflow run in {workdir} failed (exit {proc.returncode}); log {log_path}:\n"
            + "\n".join(tail)
        )
    return elapsed


def determinism_check(
    repo: Path | str = ".",
    seed: int = 1234,
    other_seed: int | None = None,
    configfiles: list[str] | None = None,
    targets: list[str] | tuple[str, ...] = DEFAULT_TARGETS,
    outputs: list[str] | tuple[str, ...] = DEFAULT_OUTPUTS,
    cores: int = 2,
    workdir: Path | str | None = None,
    keep: bool = False,
) -> DeterminismResult:
    """Run the workflow of ``repo`` twice with ``seed`` and once with ``other_seed``; compare.

    ``configfiles`` (relative to the repo, e.g. ``["config/tiny.yaml"]``) are overlays passed to
    Snakemake; the seed is set with ``--config seed=N``. Runs happen under ``workdir`` (default:
    a temporary folder, removed afterwards unless ``keep``); their logs are ``<run>.log`` there.
    """
    repo = Path(repo).resolve()
    other_seed = seed + 1 if other_seed is None else other_seed
    if other_seed == seed:
        raise DeterminismCheckError("the other seed must differ from the seed")
    configfiles = list(configfiles or [])
    commit = head_commit(repo)
    result = DeterminismResult(seed, other_seed, configfiles, list(targets), commit)
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="spectramind-determinism-"))
    base.mkdir(parents=True, exist_ok=True)
    hashes: dict[str, dict[str, str]] = {}
    try:
        for name, run_seed in (("first", seed), ("second", seed), ("other_seed", other_seed)):
            run_dir = base / name
            if run_dir.exists():
                shutil.rmtree(run_dir)
            copy_sources(repo, run_dir)
            log_path = base / f"{name}.log"
            elapsed = run_workflow(run_dir, run_seed, configfiles, list(targets), cores, log_path)
            result.durations_s[name] = round(elapsed, 1)
            hashes[name] = hash_outputs(run_dir, outputs)
            log.info("run %s: %d outputs hashed", name, len(hashes[name]))
    finally:
        if not keep and not workdir:
            shutil.rmtree(base, ignore_errors=True)
    for path in sorted(set().union(*(h.keys() for h in hashes.values()))):
        result.outputs[path] = {name: hashes[name].get(path) for name in hashes}
    return result


def write_result(result: DeterminismResult, path: Path | str) -> Path:
    """Write the result JSON (what the compliance gate reads)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", "utf-8")
    return path


def configured_seed(repo: Path | str, configfiles: list[str] | None = None) -> int:
    """The ``seed`` the workflow would use: the last overlay that sets it, else config.yaml."""
    seed = 1234  # the schema default
    for name in ["config/config.yaml", *(configfiles or [])]:
        path = Path(repo) / name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise DeterminismCheckError(f"cannot read {path}: {err}") from err
        seed = int(data.get("seed", seed))
    return seed
