"""The determinism job (ADR 0006 layer 5): :func:`determinism_check`.

Runs the workflow three times from scratch, each in a fresh copy of the repository's files
(``git ls-files``: tracked plus untracked-not-ignored, so no outputs are carried over): twice
with the same seed, once with another. Passes when the same seed gives byte-identical key outputs
(SHA-256 per file) and the other seed changes at least one of them, which shows the comparison
can fail at all. The result JSON is what ``spectramind compliance`` reads.

Cross-CPU mode (``cross_cpu="lower"``) adds a fourth run with the same seed under an emulated
CPU (:data:`spectramind.repro.cpu.PROFILES`: other numpy/torch/OpenBLAS/MKL/oneDNN/libm kernel
choices and another thread count) and compares every key output with the first run's bytes.
An output that differs fails the check, unless a tolerance was declared for it (``tolerances``,
glob -> largest relative difference): it is then compared numerically and reported as such,
with the difference measured. The kernels each stage really used (from the run manifests) are
reported for both runs, and a stage whose kernels escaped the pin fails the check.
"""

from __future__ import annotations

import fnmatch
import hashlib
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

from spectramind.errors import SpectraMindError
from spectramind.repro.cpu import PROFILES, pin_problems
from spectramind.repro.hashing import sha256_file

log = logging.getLogger(__name__)

#: Key outputs compared (globs relative to the workflow folder; one ending in ``/`` is a folder,
#: compared as one hash over its files, like dvc.lock does): every file dvc.lock hashes, i.e.
#: the simulated dataset and its truth, calibrated data, physics fits, checkpoint, predictions,
#: submission, score and the two science figures.
DEFAULT_OUTPUTS = (
    "data/synthetic/",
    "data/synthetic.truth.csv",
    "artifacts/calib/**/*.npz",
    "artifacts/fit/**/*.npz",
    "artifacts/ckpt/model.pt",
    "artifacts/preds/*.npz",
    "artifacts/submission/submission.csv",
    "artifacts/metrics/score.json",
    "artifacts/report/spectra.png",
    "artifacts/report/light_curves.png",
)
#: Snakemake targets: everything the key outputs need (the report rule also draws timings.png,
#: which plots measured wall times and is not compared).
DEFAULT_TARGETS = (
    "artifacts/submission/submission.csv",
    "artifacts/metrics/score.json",
    "artifacts/report/spectra.png",
    "artifacts/report/light_curves.png",
)
DEFAULT_RESULT = Path("artifacts/determinism/result.json")
SCHEMA_VERSION = 2


class DeterminismCheckError(SpectraMindError):
    """The check could not run: no git checkout, or a workflow run failed."""


@dataclass
class CrossCpuResult:
    """The same-seed run under an emulated CPU against the first run.

    ``outputs``: path -> ``{"native": sha, "emulated": sha}``; ``differences``: path -> the
    measured difference of each output whose bytes differ; ``tolerances``: declared exceptions
    (glob -> largest relative difference accepted); ``kernels``: run -> stage -> the kernels its
    jobs reported.
    """

    profile: str
    env: dict[str, str]
    threads: int
    tolerances: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, dict[str, str | None]] = field(default_factory=dict)
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    kernels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def status(self, path: str) -> str:
        """identical, within tolerance (a declared exception), or different."""
        h = self.outputs[path]
        if h["native"] is not None and h["native"] == h["emulated"]:
            return "identical"
        limit = tolerance_for(path, self.tolerances)
        diff = self.differences.get(path, {})
        if limit is not None and diff.get("max_rel") is not None and diff["max_rel"] <= limit:
            return "within tolerance"
        return "different"

    @property
    def mismatches(self) -> list[str]:
        return [
            f"{path}: {self.outputs[path]['native']} != {self.outputs[path]['emulated']}"
            + (f" ({describe(self.differences[path])})" if path in self.differences else "")
            for path in sorted(self.outputs)
            if self.status(path) == "different"
        ]

    @property
    def pin_problems(self) -> list[str]:
        return [
            f"{run} run, stage {stage}: {problem}"
            for run, stages in sorted(self.kernels.items())
            for stage, found in sorted(stages.items())
            for kernels in (found if isinstance(found, list) else [found])
            for problem in pin_problems(kernels)
        ]

    @property
    def passed(self) -> bool:
        return bool(self.outputs) and not self.mismatches and not self.pin_problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "profile": self.profile,
            "env": self.env,
            "threads": self.threads,
            "tolerances": self.tolerances,
            "outputs": {
                path: {**h, "status": self.status(path)} for path, h in sorted(self.outputs.items())
            },
            "differences": self.differences,
            "mismatches": self.mismatches,
            "pin_problems": self.pin_problems,
            "kernels": self.kernels,
        }

    def lines(self) -> list[str]:
        env = " ".join(f"{k}={v}" for k, v in sorted(self.env.items())) or "(none)"
        width = max([len("output"), *map(len, self.outputs)])
        out = [
            f"cross-CPU: profile {self.profile!r} ({env}; threads {self.threads}) against the "
            "first run (this machine, config threads)",
            f"{'output':<{width}}  {'native sha256':<16}  {self.profile + ' sha256':<16}  status",
        ]
        for path, h in sorted(self.outputs.items()):
            status = self.status(path)
            if status != "identical" and path in self.differences:
                status += f" ({describe(self.differences[path])})"
            out.append(
                f"{path:<{width}}  {(h['native'] or '-')[:16]:<16}  "
                f"{(h['emulated'] or '-')[:16]:<16}  {status}"
            )
        for run, stages in sorted(self.kernels.items()):
            for stage, kernels in sorted(stages.items()):
                out.append(f"kernels {run} {stage}: {describe_kernels(kernels)}")
        out += [f"kernel pin: {problem}" for problem in self.pin_problems]
        statuses = [self.status(p) for p in self.outputs]
        tolerated = ", ".join(f"{g} (rel {t:g})" for g, t in sorted(self.tolerances.items()))
        out.append(
            f"cross-CPU: {'PASS' if self.passed else 'FAIL'} ({statuses.count('identical')} "
            f"identical, {statuses.count('within tolerance')} within tolerance, "
            f"{statuses.count('different')} different; declared tolerances: "
            f"{tolerated or 'none, every output must be byte-identical'})"
        )
        return out


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
    cross_cpu: CrossCpuResult | None = None

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
        same_seed = bool(self.outputs) and not self.same_seed_mismatches
        cross_cpu = self.cross_cpu is None or self.cross_cpu.passed
        return same_seed and self.other_seed_differs and cross_cpu

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
            "cross_cpu": self.cross_cpu.to_dict() if self.cross_cpu else None,
        }

    def lines(self) -> list[str]:
        out = []
        for path, h in sorted(self.outputs.items()):
            same = "identical" if h["first"] == h["second"] else "DIFFERENT"
            other = "differs" if h["first"] != h["other_seed"] else "same"
            out.append(f"{path}: same seed {same}; other seed {other}")
        if self.cross_cpu is not None:
            out += self.cross_cpu.lines()
        cross = (
            "cross-CPU not checked"
            if self.cross_cpu is None
            else f"cross-CPU {'identical' if self.cross_cpu.passed else 'FAILED'}"
            f" under profile {self.cross_cpu.profile!r}"
        )
        out.append(
            f"determinism: {'PASS' if self.passed else 'FAIL'} "
            f"({len(self.outputs)} outputs, {len(self.same_seed_mismatches)} same-seed "
            f"mismatches, other seed {'differs' if self.other_seed_differs else 'identical'}, "
            f"{cross})"
        )
        return out


def tolerance_for(path: str, tolerances: dict[str, float]) -> float | None:
    """The declared relative tolerance of ``path`` (first matching glob), or None."""
    for pattern, limit in tolerances.items():
        if fnmatch.fnmatch(path, pattern):
            return limit
    return None


def describe(diff: dict[str, Any]) -> str:
    if diff.get("max_rel") is None:
        return diff.get("detail", "bytes differ")
    return (
        f"max abs {diff['max_abs']:.3g}, max rel {diff['max_rel']:.3g} in "
        f"{diff['where']}; {diff.get('detail', '')}".rstrip("; ")
    )


def describe_kernels(kernels: dict[str, Any]) -> str:
    names = (
        ("aten_cpu_capability", "aten"),
        ("mkl_cbwr_branch", "mkl"),
        ("openblas_core_numpy", "openblas(numpy)"),
        ("openblas_core_scipy", "openblas(scipy)"),
        ("numpy_dispatch", "numpy dispatch"),
        ("arrow_simd_level", "arrow simd"),
        ("libm_fma_masked", "libm FMA masked"),
        ("torch_threads", "torch threads"),
    )
    parts = [f"{label} {kernels[key]}" for key, label in names if kernels.get(key) is not None]
    if not kernels.get("pin", True):
        parts.insert(0, "PIN OFF")
    return ", ".join(parts) or "(none reported)"


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
    """``{relative path: sha256}`` of the files matching ``patterns`` under ``workdir``.

    A pattern ending in ``/`` names a folder: one entry, the SHA-256 of its sorted
    ``relative path, file sha256`` lines (absent when the folder is missing or empty).
    """
    found = {}
    for pattern in patterns:
        if pattern.endswith("/"):
            folder = workdir / pattern
            files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
            if files:
                lines = "".join(
                    f"{p.relative_to(folder).as_posix()}  {sha256_file(p)}\n" for p in files
                )
                found[pattern] = hashlib.sha256(lines.encode()).hexdigest()
            continue
        for path in sorted(workdir.glob(pattern)):
            if path.is_file():
                found[path.relative_to(workdir).as_posix()] = sha256_file(path)
    return found


def _numeric_difference(a: Any, b: Any, where: str) -> dict[str, Any] | None:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind not in "fiub" or b.dtype.kind not in "fiub":
        return None
    a, b = a.astype(np.float64), b.astype(np.float64)
    if not np.array_equal(a, b, equal_nan=True):
        delta = np.abs(a - b)
        scale = np.maximum(np.abs(a), np.abs(b))
        rel = np.where(scale > 0, delta / np.where(scale > 0, scale, 1.0), 0.0)
        finite = np.isfinite(delta)
        if not finite.all():
            return {"max_abs": float("inf"), "max_rel": float("inf"), "where": where}
        return {"max_abs": float(delta.max()), "max_rel": float(rel.max()), "where": where}
    return {"max_abs": 0.0, "max_rel": 0.0, "where": where}


def measure_difference(first: Path, second: Path) -> dict[str, Any]:
    """How two versions of an output differ: the largest absolute and relative difference of
    their numbers (npz arrays, checkpoint tensors, CSV and JSON values), else only that the
    bytes differ. ``max_rel`` is None when the files cannot be compared as numbers."""
    unreadable = {"max_abs": None, "max_rel": None, "where": "", "detail": "bytes differ"}
    try:
        pairs: list[tuple[str, Any, Any]] = []
        if first.suffix == ".npz":
            import numpy as np

            with np.load(first, allow_pickle=False) as a, np.load(second, allow_pickle=False) as b:
                if sorted(a.files) != sorted(b.files):
                    return {**unreadable, "detail": "different arrays"}
                pairs = [(name, a[name], b[name]) for name in sorted(a.files)]
        elif first.suffix == ".pt":
            import torch

            a = torch.load(first, map_location="cpu", weights_only=True)["state_dict"]
            b = torch.load(second, map_location="cpu", weights_only=True)["state_dict"]
            pairs = [(k, a[k].double().numpy(), b[k].double().numpy()) for k in sorted(a)]
        elif first.suffix == ".csv":
            import numpy as np

            a = np.genfromtxt(first, delimiter=",", skip_header=1)
            b = np.genfromtxt(second, delimiter=",", skip_header=1)
            pairs = [(first.name, a, b)]
        elif first.suffix == ".json":
            a = _json_numbers(json.loads(first.read_text(encoding="utf-8")))
            b = _json_numbers(json.loads(second.read_text(encoding="utf-8")))
            pairs = [(first.name, a, b)]
        else:
            return unreadable
        worst: dict[str, Any] | None = None
        for where, x, y in pairs:
            diff = _numeric_difference(x, y, where)
            if diff is None:
                return {**unreadable, "detail": f"{where}: shapes or types differ"}
            if worst is None or diff["max_rel"] > worst["max_rel"]:
                worst = diff
        if worst is None or worst["max_rel"] == 0.0:
            return {**unreadable, "detail": "numbers equal, other bytes differ (metadata)"}
        return worst
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        return {**unreadable, "detail": f"bytes differ (not comparable: {err})"}


def _json_numbers(value: Any) -> list[float]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for key in sorted(value) for x in _json_numbers(value[key])]
    return [x for item in value for x in _json_numbers(item)]


def stage_kernels(workdir: Path) -> dict[str, Any]:
    """``{stage: kernels}`` from the run manifests under ``workdir`` (the kernels each stage's
    jobs reported, :func:`spectramind.repro.cpu.effective_kernels`; a list when they differ)."""
    seen: dict[str, list[Any]] = {}
    for events in sorted((workdir / "artifacts/runs").glob("*/*/events.jsonl")):
        for line in events.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            kernels = (record.get("extra") or {}).get("cpu_kernels")
            if kernels is not None and kernels not in seen.setdefault(record["stage"], []):
                seen[record["stage"]].append(kernels)
    return {stage: found[0] if len(found) == 1 else found for stage, found in seen.items()}


def run_workflow(
    workdir: Path,
    seed: int,
    configfiles: list[str],
    targets: list[str],
    cores: int,
    log_path: Path,
    env_overrides: dict[str, str] | None = None,
    threads: int | None = None,
) -> float:
    """Run ``snakemake`` in ``workdir`` with ``seed``; return the wall time in seconds.

    ``env_overrides`` are set in the workflow's environment (a CPU profile); ``threads``
    overrides the config's per-job thread count.
    """
    snakemake = shutil.which("snakemake")
    if snakemake is None:
        raise DeterminismCheckError("snakemake is not installed")
    cmd = [snakemake, "--cores", str(cores), *targets]
    if configfiles:
        cmd += ["--configfile", *configfiles]
    cmd += ["--config", f"seed={seed}"]
    if threads is not None:
        cmd += [f"threads={threads}"]
    env = {**os.environ, **(env_overrides or {})}
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
    cross_cpu: str | None = None,
    tolerances: dict[str, float] | None = None,
) -> DeterminismResult:
    """Run the workflow of ``repo`` twice with ``seed`` and once with ``other_seed``; compare.

    ``configfiles`` (relative to the repo, e.g. ``["config/tiny.yaml"]``) are overlays passed to
    Snakemake; the seed is set with ``--config seed=N``. Runs happen under ``workdir`` (default:
    a temporary folder, removed afterwards unless ``keep``); their logs are ``<run>.log`` there.
    ``cross_cpu``: a profile of :data:`spectramind.repro.cpu.PROFILES` for a fourth run with
    ``seed``, compared with the first; ``tolerances`` (glob -> relative difference) are the
    declared exceptions it may differ by.
    """
    if cross_cpu is not None and cross_cpu not in PROFILES:
        raise DeterminismCheckError(
            f"unknown CPU profile {cross_cpu!r}; known: {', '.join(sorted(PROFILES))}"
        )
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
    runs: list[tuple[str, int, dict[str, str], int | None]] = [
        ("first", seed, {}, None),
        ("second", seed, {}, None),
        ("other_seed", other_seed, {}, None),
    ]
    if cross_cpu is not None:
        profile = PROFILES[cross_cpu]
        result.cross_cpu = CrossCpuResult(
            cross_cpu, dict(profile["env"]), profile["threads"], dict(tolerances or {})
        )
        runs.append(("cross_cpu", seed, profile["env"], profile["threads"]))
    try:
        for name, run_seed, env, threads in runs:
            run_dir = base / name
            if run_dir.exists():
                shutil.rmtree(run_dir)
            copy_sources(repo, run_dir)
            log_path = base / f"{name}.log"
            elapsed = run_workflow(
                run_dir, run_seed, configfiles, list(targets), cores, log_path, env, threads
            )
            result.durations_s[name] = round(elapsed, 1)
            hashes[name] = hash_outputs(run_dir, outputs)
            log.info("run %s: %d outputs hashed", name, len(hashes[name]))
        if result.cross_cpu is not None:
            _compare_cross_cpu(result.cross_cpu, base, hashes["first"], hashes["cross_cpu"])
    finally:
        if not keep and not workdir:
            shutil.rmtree(base, ignore_errors=True)
    same_seed_runs = [name for name in hashes if name != "cross_cpu"]
    for path in sorted(set().union(*(hashes[name].keys() for name in same_seed_runs))):
        result.outputs[path] = {name: hashes[name].get(path) for name in same_seed_runs}
    return result


def _compare_cross_cpu(
    cross: CrossCpuResult, base: Path, native: dict[str, str], emulated: dict[str, str]
) -> None:
    """Fill ``cross`` from the first and the cross-CPU run folders under ``base``."""
    for path in sorted(set(native) | set(emulated)):
        cross.outputs[path] = {"native": native.get(path), "emulated": emulated.get(path)}
        if native.get(path) and emulated.get(path) and native[path] != emulated[path]:
            if path.endswith("/"):
                cross.differences[path] = {"max_abs": None, "max_rel": None, "where": "",
                                           "detail": "files in the folder differ"}  # fmt: skip
            else:
                cross.differences[path] = measure_difference(
                    base / "first" / path, base / "cross_cpu" / path
                )
    cross.kernels = {
        "native": stage_kernels(base / "first"),
        cross.profile: stage_kernels(base / "cross_cpu"),
    }


def write_result(result: DeterminismResult, path: Path | str) -> Path:
    """Write the result JSON (what the compliance gate reads)."""
    from spectramind.io import atomic_path  # numpy: kept out of `spectramind --help`

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", "utf-8")
    return path


def configured_seed(repo: Path | str, configfiles: list[str] | None = None) -> int:
    """The ``seed`` the workflow would use: the last overlay that sets it, else config.yaml."""
    import yaml  # kept out of `spectramind --help`

    seed = 1234  # the schema default
    for name in ["config/config.yaml", *(configfiles or [])]:
        path = Path(repo) / name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise DeterminismCheckError(f"cannot read {path}: {err}") from err
        seed = int(data.get("seed", seed))
    return seed
