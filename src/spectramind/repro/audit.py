"""Audit and retention of run manifests: list, verify and prune runs under ``artifacts/runs``.

Layout: ``<root>/<stage>/<run_id>/events.jsonl`` per stage and ``<root>/<run_id>/`` for the config
snapshot. Folder names that look like run ids are snapshot folders; other folders are stages,
except those starting with a dot (``.lineage``, the producer index of
:mod:`spectramind.repro.lineage`).

Records are read through :func:`spectramind.repro.manifest.read_records`: damaged lines are
reported as ``path:line: damaged record`` and skipped, and each job attempt is one record whose
status is ``ok``, ``failed``, ``interrupted`` (killed) or ``running``.

A run's *lineage* (:func:`lineage_closure`) is its own records plus, transitively, the ``ok``
records of earlier runs that produced the files they consumed: a run resumed after a crash
reuses the outputs of the run that crashed, and is verified against that run's records.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectramind.errors import SpectraMindError
from spectramind.repro import lineage
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import (
    EVENTS_NAME,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    STATUS_RUNNING,
    DamagedLine,
    read_records,
)
from spectramind.repro.runid import is_run_id

log = logging.getLogger(__name__)

#: Branch name used for runs whose records carry none (detached HEAD, no git, older records).
UNKNOWN_BRANCH = "(no branch)"


class RunNotFoundError(SpectraMindError):
    """No manifest records for the requested run."""


def stage_runs(root: Path | str) -> dict[str, list[str]]:
    """``{stage: [run_id, ...]}`` (oldest first) for every stage folder with run folders."""
    found: dict[str, list[str]] = {}
    root = Path(root)
    if not root.is_dir():
        return found
    for stage_dir in sorted(
        p for p in root.iterdir() if p.is_dir() and not is_run_id(p.name) and p.name[0] != "."
    ):
        runs = sorted(p.name for p in stage_dir.iterdir() if p.is_dir() and is_run_id(p.name))
        if runs:
            found[stage_dir.name] = runs
    return found


def snapshot_runs(root: Path | str) -> list[str]:
    """Run ids that have a snapshot folder under ``root``."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and is_run_id(p.name))


def all_run_ids(root: Path | str) -> list[str]:
    """Every run id with at least one stage record folder, oldest first."""
    return sorted({run for runs in stage_runs(root).values() for run in runs})


def latest_run_id(root: Path | str) -> str:
    """The newest run id with stage records; :class:`RunNotFoundError` if there is none."""
    runs = all_run_ids(root)
    if not runs:
        raise RunNotFoundError(f"no runs recorded under {root}")
    return runs[-1]


def run_records(
    root: Path | str, run_id: str, damaged: list[DamagedLine] | None = None
) -> list[dict[str, Any]]:
    """All records of ``run_id`` across stages (stage order, then start order)."""
    records = []
    for stage, runs in stage_runs(root).items():
        if run_id in runs:
            path = Path(root) / stage / run_id / EVENTS_NAME
            if path.is_file():
                records.extend(read_records(path, damaged=damaged))
    return records


def all_records(
    root: Path | str, damaged: list[DamagedLine] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``{run_id: records}`` for every run under ``root`` (oldest run first)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for stage, runs in stage_runs(root).items():
        for run_id in runs:
            path = Path(root) / stage / run_id / EVENTS_NAME
            if path.is_file():
                found[run_id].extend(read_records(path, damaged=damaged))
    return {run_id: found[run_id] for run_id in sorted(found)}


#: How a run's status is derived from its records, most telling first.
_STATUS_ORDER = (STATUS_RUNNING, STATUS_INTERRUPTED, STATUS_FAILED)


@dataclass
class RunSummary:
    """One run for ``runs list``: per stage, how many records have each status."""

    run_id: str
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    has_snapshot: bool = False
    branch: str = UNKNOWN_BRANCH

    @property
    def status(self) -> str:
        """``running``, ``interrupted``, ``failed`` (any such record, in that order) or ``ok``."""
        seen = {status for counts in self.stages.values() for status in counts}
        return next((status for status in _STATUS_ORDER if status in seen), STATUS_OK)


def run_branch(records: list[dict[str, Any]]) -> str:
    """The git branch a run was made on (its first record that names one)."""
    return next((r["git_branch"] for r in records if r.get("git_branch")), UNKNOWN_BRANCH)


def list_runs(root: Path | str, damaged: list[DamagedLine] | None = None) -> list[RunSummary]:
    """Every run (oldest first) with its stages and record counts by status."""
    snapshots = set(snapshot_runs(root))
    summaries = []
    for run_id, records in all_records(root, damaged).items():
        summary = RunSummary(run_id, has_snapshot=run_id in snapshots, branch=run_branch(records))
        stages: dict[str, dict[str, int]] = {}
        for record in records:
            counts = stages.setdefault(record.get("stage", "?"), defaultdict(int))
            counts[record.get("status", "?")] += 1
        summary.stages = {stage: dict(counts) for stage, counts in stages.items()}
        summaries.append(summary)
    return summaries


# --- lineage and verification -----------------------------------------------------------------


@dataclass
class Closure:
    """A run's records and the earlier ``ok`` records that produced what they consumed.

    ``records``: the run's own records first, then the producers found (each once).
    ``lineage_problems``: consumed inputs whose recorded hash differs from their producer's.
    ``raw_inputs``: ``{path: entry}`` of consumed files no recorded job produced (the data).
    """

    run_id: str
    records: list[dict[str, Any]]
    lineage_problems: list[Problem] = field(default_factory=list)
    raw_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def reused_runs(self) -> list[str]:
        return sorted({r["run_id"] for r in self.records if r.get("run_id") != self.run_id})


def _producers(
    runs: dict[str, list[dict[str, Any]]], base: Path | str
) -> dict[str, list[tuple[str, int, dict[str, Any]]]]:
    """``{path key: [(time, record index, artifact), ...]}`` of ok records, oldest first."""
    index: dict[str, list[tuple[str, int, dict[str, Any]]]] = defaultdict(list)
    for records in runs.values():
        for record in records:
            if record.get("status") != STATUS_OK:
                continue
            for artifact in record.get("artifacts") or []:
                key = lineage.path_key(artifact["path"], base)
                index[key].append((record.get("time_utc", ""), id(record), artifact))
    for entries in index.values():
        entries.sort(key=lambda e: e[0])
    return index


def lineage_closure(
    runs: dict[str, list[dict[str, Any]]], run_id: str, base: Path | str = "."
) -> Closure:
    """Walk back from every record of ``run_id`` through the files each consumed to the ``ok``
    record that last produced each before the consumer started (in any run)."""
    by_id = {id(r): r for records in runs.values() for r in records}
    producers = _producers(runs, base)
    own = list(runs.get(run_id, []))
    closure = Closure(run_id, list(own))
    seen = {id(r) for r in own}
    queue = list(own)
    while queue:
        consumer = queue.pop()
        started = consumer.get("time_utc", "")
        for entry in consumer.get("inputs") or []:
            key = lineage.path_key(entry["path"], base)
            earlier = [p for p in producers.get(key, []) if p[0] < started]
            if not earlier:
                closure.raw_inputs.setdefault(key, entry)
                continue
            _, record_id, artifact = earlier[-1]
            producer = by_id[record_id]
            if artifact["sha256"] != entry["sha256"]:
                closure.lineage_problems.append(
                    Problem(
                        entry["path"],
                        "lineage",
                        f"{lineage.describe_record(consumer)} consumed sha256 "
                        f"{entry['sha256'][:16]}..., but {lineage.describe_record(producer)} "
                        f"produced {artifact['sha256'][:16]}...",
                    )
                )
            if record_id not in seen:
                seen.add(record_id)
                closure.records.append(producer)
                queue.append(producer)
    return closure


@dataclass(frozen=True)
class Problem:
    """One verification finding: ``kind`` is missing, size, sha256, input, lineage or snapshot."""

    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_run`."""

    run_id: str
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    reused_runs: list[str] = field(default_factory=list)
    damaged: list[DamagedLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_file(
    report: VerifyReport, given: str, expected: dict[str, Any], base: Path, kind: str
) -> None:
    report.checked += 1
    path = base / given
    if not path.is_file():
        report.problems.append(Problem(given, "missing", "file not found"))
        return
    size = path.stat().st_size
    if size != expected["size"]:
        report.problems.append(
            Problem(given, "size" if kind == "sha256" else kind,
                    f"{size} bytes, recorded {expected['size']}")
        )  # fmt: skip
        return
    digest = sha256_file(path)
    if digest != expected["sha256"]:
        report.problems.append(
            Problem(given, kind, f"{digest[:16]}..., recorded {expected['sha256'][:16]}...")
        )


def verify_run(root: Path | str, run_id: str | None = None, base: Path | str = ".") -> VerifyReport:
    """Re-hash what a run (default: the latest) produced and consumed, along its lineage.

    Checked: every artifact of every ``ok`` record in the run's lineage (its own records and
    the earlier records that produced what it consumed; a path produced twice against the
    later record), every consumed file no job produced (raw data, against the hash recorded
    when it was consumed), that each consumed file had the hash its producer recorded, and each
    record's config snapshot. Relative paths are resolved against ``base`` (the workflow folder).
    """
    base = Path(base)
    damaged: list[DamagedLine] = []
    runs = all_records(root, damaged)
    run_id = run_id or latest_run_id(root)
    if not runs.get(run_id):
        raise RunNotFoundError(f"run {run_id} has no records under {root}")
    closure = lineage_closure(runs, run_id, base)
    report = VerifyReport(run_id, reused_runs=closure.reused_runs, damaged=damaged)
    report.problems.extend(closure.lineage_problems)
    expected: dict[str, tuple[str, dict[str, Any]]] = {}
    snapshots: dict[str, set[str]] = defaultdict(set)
    for record in closure.records:
        if record.get("config_snapshot_path"):
            snapshots[record["config_snapshot_path"]].add(record.get("config_sha256"))
        if record.get("status") != STATUS_OK:
            continue
        for artifact in record.get("artifacts") or []:
            key = lineage.path_key(artifact["path"], base)
            time = record.get("time_utc", "")
            if key not in expected or time >= expected[key][0]:
                expected[key] = (time, artifact)
    for _, artifact in sorted(expected.values(), key=lambda e: e[1]["path"]):
        _check_file(report, artifact["path"], artifact, base, "sha256")
    for key, entry in sorted(closure.raw_inputs.items()):
        if key not in expected:
            _check_file(report, entry["path"], entry, base, "input")
    for given, digests in sorted(snapshots.items()):
        report.checked += 1
        path = base / given
        if not path.is_file():
            report.problems.append(Problem(given, "snapshot", "config snapshot not found"))
            continue
        digest = sha256_file(path)
        if digests != {digest}:
            report.problems.append(Problem(given, "snapshot", "config snapshot sha256 differs"))
    return report


# --- retention --------------------------------------------------------------------------------


def current_records(
    runs: dict[str, list[dict[str, Any]]], base: Path | str = "."
) -> set[tuple[str, str]]:
    """``{(stage, run_id)}`` holding the latest ``ok`` record of a file that still exists."""
    base = Path(base)
    latest: dict[str, tuple[str, str, str]] = {}
    for records in runs.values():
        for record in records:
            if record.get("status") != STATUS_OK:
                continue
            time = record.get("time_utc", "")
            for artifact in record.get("artifacts") or []:
                key = lineage.path_key(artifact["path"], base)
                if key not in latest or time >= latest[key][0]:
                    latest[key] = (time, record.get("stage", "?"), record.get("run_id", "?"))
    return {(stage, run_id) for key, (_, stage, run_id) in latest.items() if (base / key).exists()}


def prune_runs(
    root: Path | str, keep: int, dry_run: bool = False, base: Path | str = "."
) -> list[Path]:
    """Keep the newest ``keep`` runs of each git branch; remove the rest but never the record of
    an artifact that is still current.

    A stage folder ``<stage>/<run_id>/`` of an older run stays when it holds the latest ``ok``
    record of a file that exists under ``base``. A snapshot folder stays while a remaining stage
    folder uses its run id, or when it is newer than every recorded run (a run still starting).
    Index entries of removed records are dropped. Returns the folders removed (or that would be,
    with ``dry_run``).
    """
    if keep < 1:
        raise SpectraMindError(f"--keep must be at least 1, got {keep}")
    root = Path(root)
    runs = all_records(root)
    by_branch: dict[str, list[str]] = defaultdict(list)
    for run_id, records in runs.items():
        by_branch[run_branch(records)].append(run_id)
    kept_runs = {run_id for ids in by_branch.values() for run_id in sorted(ids)[-keep:]}
    protected = current_records(runs, base)
    removed: list[Path] = []
    remaining: set[str] = set()
    runs_by_stage = stage_runs(root)
    for stage, run_ids in runs_by_stage.items():
        for run_id in run_ids:
            if run_id in kept_runs or (stage, run_id) in protected:
                remaining.add(run_id)
            else:
                removed.append(root / stage / run_id)
    newest = max((ids[-1] for ids in runs_by_stage.values()), default="")
    removed.extend(
        root / run_id
        for run_id in snapshot_runs(root)
        if run_id not in remaining and run_id < newest
    )
    for folder in removed:
        log.debug("%s %s", "would remove" if dry_run else "removing", folder)
        if not dry_run:
            shutil.rmtree(folder)
    if removed and not dry_run:
        lineage.drop_stale_index(root)
    return removed
