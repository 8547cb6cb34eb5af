"""Audit and retention of run manifests: list, verify and prune runs under ``artifacts/runs``.

Layout: ``<root>/<stage>/<run_id>/events.jsonl`` per stage and ``<root>/<run_id>/`` for the config
snapshot. Folder names that look like run ids are snapshot folders; every other folder is a stage.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectramind.errors import SpectraMindError
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import EVENTS_NAME, read_records
from spectramind.repro.runid import is_run_id

log = logging.getLogger(__name__)


class RunNotFoundError(SpectraMindError):
    """No manifest records for the requested run."""


def stage_runs(root: Path | str) -> dict[str, list[str]]:
    """``{stage: [run_id, ...]}`` (oldest first) for every stage folder with run folders."""
    found: dict[str, list[str]] = {}
    root = Path(root)
    if not root.is_dir():
        return found
    for stage_dir in sorted(p for p in root.iterdir() if p.is_dir() and not is_run_id(p.name)):
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


def run_records(root: Path | str, run_id: str) -> list[dict[str, Any]]:
    """All records of ``run_id`` across stages (stage order, then file order)."""
    records = []
    for stage, runs in stage_runs(root).items():
        if run_id in runs:
            path = Path(root) / stage / run_id / EVENTS_NAME
            if path.is_file():
                records.extend(read_records(path))
    return records


@dataclass
class RunSummary:
    """One run for ``runs list``: per stage, how many records are ok and failed."""

    run_id: str
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    has_snapshot: bool = False

    @property
    def status(self) -> str:
        failed = sum(counts.get("failed", 0) for counts in self.stages.values())
        return "failed" if failed else "ok"


def list_runs(root: Path | str) -> list[RunSummary]:
    """Every run (oldest first) with its stages and record counts by status."""
    snapshots = set(snapshot_runs(root))
    summaries = []
    for run_id in all_run_ids(root):
        summary = RunSummary(run_id, has_snapshot=run_id in snapshots)
        for record in run_records(root, run_id):
            counts = summary.stages.setdefault(record.get("stage", "?"), defaultdict(int))
            counts[record.get("status", "?")] += 1
        summary.stages = {stage: dict(counts) for stage, counts in summary.stages.items()}
        summaries.append(summary)
    return summaries


@dataclass(frozen=True)
class Problem:
    """One verification finding: ``kind`` is missing, size, sha256 or snapshot."""

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

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_run(root: Path | str, run_id: str | None = None, base: Path | str = ".") -> VerifyReport:
    """Re-hash every artifact recorded by ``ok`` records of a run (default: the latest).

    Relative artifact paths are resolved against ``base`` (the workflow folder). The config
    snapshot of each record is re-hashed too. A path recorded twice is checked against the later
    record.
    """
    run_id = run_id or latest_run_id(root)
    records = run_records(root, run_id)
    if not records:
        raise RunNotFoundError(f"run {run_id} has no records under {root}")
    report = VerifyReport(run_id)
    expected: dict[str, dict[str, Any]] = {}
    snapshots: dict[str, set[str]] = defaultdict(set)
    for record in sorted(records, key=lambda r: r.get("time_utc", "")):
        if record.get("config_snapshot_path"):
            snapshots[record["config_snapshot_path"]].add(record.get("config_sha256"))
        if record.get("status") != "ok":
            continue
        for artifact in record.get("artifacts", []):
            expected[artifact["path"]] = artifact
    for given, artifact in sorted(expected.items()):
        report.checked += 1
        path = Path(base) / given
        if not path.is_file():
            report.problems.append(Problem(given, "missing", "file not found"))
            continue
        size = path.stat().st_size
        if size != artifact["size"]:
            report.problems.append(
                Problem(given, "size", f"{size} bytes, recorded {artifact['size']}")
            )
            continue
        digest = sha256_file(path)
        if digest != artifact["sha256"]:
            report.problems.append(
                Problem(given, "sha256", f"{digest[:16]}..., recorded {artifact['sha256'][:16]}...")
            )
    for given, digests in sorted(snapshots.items()):
        report.checked += 1
        path = Path(base) / given
        if not path.is_file():
            report.problems.append(Problem(given, "snapshot", "config snapshot not found"))
            continue
        digest = sha256_file(path)
        if digests != {digest}:
            report.problems.append(Problem(given, "snapshot", "config snapshot sha256 differs"))
    return report


def prune_runs(root: Path | str, keep: int, dry_run: bool = False) -> list[Path]:
    """Keep the newest ``keep`` runs per stage; remove older run folders and orphan snapshots.

    A snapshot folder is removed when no remaining stage run uses its run id and it is older than
    the newest stage run (so the snapshot of a run still starting is kept). Returns the folders
    removed (or that would be, with ``dry_run``).
    """
    if keep < 1:
        raise SpectraMindError(f"--keep must be at least 1, got {keep}")
    root = Path(root)
    removed: list[Path] = []
    remaining: set[str] = set()
    runs_by_stage = stage_runs(root)
    for stage, runs in runs_by_stage.items():
        remaining.update(runs[-keep:])
        removed.extend(root / stage / run_id for run_id in runs[:-keep])
    newest = max((runs[-1] for runs in runs_by_stage.values()), default="")
    removed.extend(
        root / run_id
        for run_id in snapshot_runs(root)
        if run_id not in remaining and run_id < newest
    )
    for folder in removed:
        log.info("%s %s", "would remove" if dry_run else "removing", folder)
        if not dry_run:
            shutil.rmtree(folder)
    return removed
