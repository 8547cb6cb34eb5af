"""One recorded run as jobs and audit facts: the model behind ``spectramind runs show`` and the
RO-Crate export (:mod:`spectramind.crate.export`).

Records are read only through :func:`spectramind.repro.manifest.read_records`. A *job* is one
execution of a rule with its wildcards. Statuses other than ``ok`` and ``failed`` are kept as
recorded: a ``started`` record followed by the outcome of the same job is one job with that
outcome; a ``started`` record with no outcome is a job whose end was never recorded (killed, or
still running); ``interrupted`` (and any other status) is shown as it is.

The *data* of a run are the files its jobs read that no job of the run wrote (a real
``data_dir``), plus the files written by ``simulate`` (the synthetic dataset). Its digest is the
SHA-256 of the lines ``"<sha256>  <path>\\n"`` sorted by path, so two runs on the same bytes at
the same paths have the same data digest whatever their order.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from spectramind.repro.audit import RunNotFoundError, latest_run_id, stage_runs
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import EVENTS_NAME, read_records
from spectramind.repro.snapshot import snapshot_path

#: The stage whose outputs are the run's dataset when it simulated one.
SIMULATE_STAGE = "simulate"
#: The stage whose outputs are model checkpoints.
TRAIN_STAGE = "train"
#: Stages whose outputs are the run's results even when another job reads them (the report).
RESULT_STAGES = ("submit", "score")
STARTED = "started"
#: Statuses that end a job.
OUTCOMES = ("ok", "failed", "interrupted")


@dataclass(frozen=True)
class FileRecord:
    """A file as a record names it: path as recorded (relative to the workflow folder)."""

    path: str
    sha256: str | None
    size: int | None

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> FileRecord:
        size = entry.get("size")
        return cls(str(entry["path"]), entry.get("sha256"), int(size) if size is not None else None)


@dataclass
class Job:
    """One execution of a rule: what the manifest recorded about it."""

    stage: str
    rule: str
    wildcards: dict[str, str]
    command: list[str]
    status: str
    start: datetime | None
    duration_s: float | None
    host: str | None
    inputs: list[FileRecord]
    outputs: list[FileRecord]
    error: dict[str, Any] | None
    record: dict[str, Any]
    events_file: Path

    @property
    def end(self) -> datetime | None:
        if self.start is None or self.duration_s is None:
            return None
        return self.start + timedelta(seconds=float(self.duration_s))

    @property
    def label(self) -> str:
        """``rule`` or ``rule[key=value,...]`` (wildcards sorted by name)."""
        if not self.wildcards:
            return self.rule
        return f"{self.rule}[{','.join(f'{k}={v}' for k, v in sorted(self.wildcards.items()))}]"

    @property
    def error_message(self) -> str | None:
        """One line: the recorded error message and the last stderr line, or the status."""
        if self.status == "ok":
            return None
        if self.status == STARTED:
            return "started, no end recorded (killed, or still running)"
        error = self.error or {}
        message = error.get("message") or f"status {self.status}"
        tail = [line for line in error.get("stderr_tail") or [] if line.strip()]
        return f"{message}: {tail[-1].strip()}" if tail else message


def parse_time(value: Any) -> datetime | None:
    """A record's ISO 8601 ``time_utc`` (``...Z``) as an aware datetime; None if absent/bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """``2026-01-01T12:00:00.123Z`` (UTC, milliseconds), or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _job_key(record: dict[str, Any]) -> str:
    wildcards = record.get("wildcards") or {}
    return json.dumps([record.get("stage"), record.get("rule"), wildcards], sort_keys=True)


def _job(record: dict[str, Any], events_file: Path) -> Job:
    return Job(
        stage=str(record.get("stage") or "?"),
        rule=str(record.get("rule") or record.get("stage") or "?"),
        wildcards={str(k): str(v) for k, v in (record.get("wildcards") or {}).items()},
        command=[str(part) for part in record.get("command") or []],
        status=str(record.get("status") or "?"),
        start=parse_time(record.get("time_utc")),
        duration_s=record.get("duration_s"),
        host=record.get("host"),
        inputs=[FileRecord.from_entry(e) for e in record.get("inputs") or [] if "path" in e],
        outputs=[FileRecord.from_entry(e) for e in record.get("artifacts") or [] if "path" in e],
        error=record.get("error") if isinstance(record.get("error"), dict) else None,
        record=record,
        events_file=events_file,
    )


def jobs_from_records(records: list[tuple[dict[str, Any], Path]]) -> list[Job]:
    """Jobs from ``(record, events file)`` pairs, in start order.

    A ``started`` record is merged into the next outcome record of the same job (same stage,
    rule and wildcards); a second ``started`` before any outcome leaves the first as a job of
    its own with status ``started`` (an attempt that never recorded its end).
    """

    def order(item: tuple[dict[str, Any], Path]) -> tuple[str, int]:
        record = item[0]
        return (str(record.get("time_utc") or ""), record.get("status") != STARTED)

    open_started: dict[str, tuple[dict[str, Any], Path]] = {}
    jobs: list[Job] = []
    for record, source in sorted(records, key=order):
        key = _job_key(record)
        if record.get("status") == STARTED:
            if key in open_started:
                jobs.append(_job(*open_started[key]))
            open_started[key] = (record, source)
            continue
        open_started.pop(key, None)
        jobs.append(_job(record, source))
    jobs.extend(_job(record, source) for record, source in open_started.values())
    return sorted(jobs, key=lambda j: (j.start or datetime.max.replace(tzinfo=UTC), j.label))


def data_digest(files: list[FileRecord]) -> str:
    """SHA-256 of ``"<sha256>  <path>\\n"`` lines sorted by path (see the module docstring)."""
    lines = "".join(f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha256(lines.encode()).hexdigest()


@dataclass
class RunFacts:
    """Everything the audit summary and the crate say about one run."""

    run_id: str
    root: Path
    jobs: list[Job]
    events_files: list[Path]
    snapshot: Path
    snapshot_sha256: str | None
    recorded_config_sha256: set[str] = field(default_factory=set)

    # --- derived facts ------------------------------------------------------------------

    @property
    def records(self) -> list[dict[str, Any]]:
        return [job.record for job in self.jobs]

    def values(self, key: str) -> list[Any]:
        """Distinct non-null values of a record field, in first-seen order."""
        seen: list[Any] = []
        for record in self.records:
            value = record.get(key)
            if value is not None and value not in seen:
                seen.append(value)
        return seen

    @property
    def status_counts(self) -> Counter:
        return Counter(job.status for job in self.jobs)

    @property
    def status(self) -> str:
        """``ok`` when every job is ok, else the worst status present."""
        counts = self.status_counts
        for status in ("failed", "interrupted", STARTED):
            if counts.get(status):
                return status
        return "ok" if set(counts) <= {"ok"} else "incomplete"

    @property
    def start(self) -> datetime | None:
        return min((j.start for j in self.jobs if j.start), default=None)

    @property
    def end(self) -> datetime | None:
        return max((j.end for j in self.jobs if j.end), default=None)

    @property
    def produced(self) -> dict[str, FileRecord]:
        """Files written by ok jobs (a later write of a path wins)."""
        return {f.path: f for job in self.jobs if job.status == "ok" for f in job.outputs}

    @property
    def consumed(self) -> dict[str, FileRecord]:
        return {f.path: f for job in self.jobs for f in job.inputs}

    @property
    def external_inputs(self) -> list[FileRecord]:
        """Files read by jobs that no job of this run wrote."""
        produced = self.produced
        return sorted(
            (f for p, f in self.consumed.items() if p not in produced), key=lambda f: f.path
        )

    @property
    def final_outputs(self) -> list[FileRecord]:
        """Files written by the run that none of its jobs read (submission, score, report),
        the dataset (:attr:`data_files`) excepted."""
        consumed = self.consumed
        data = {f.path for f in self.data_files}
        return sorted(
            (f for p, f in self.produced.items() if p not in consumed and p not in data),
            key=lambda f: f.path,
        )

    @property
    def deliverables(self) -> list[FileRecord]:
        """What the run delivers: :attr:`final_outputs` plus the submit and score outputs."""
        files = {f.path: f for f in self.final_outputs}
        for job in self.jobs:
            if job.stage in RESULT_STAGES and job.status == "ok":
                files.update({f.path: f for f in job.outputs})
        return sorted(files.values(), key=lambda f: f.path)

    @property
    def data_files(self) -> list[FileRecord]:
        """The run's dataset (see the module docstring)."""
        files = {f.path: f for f in self.external_inputs}
        for job in self.jobs:
            if job.stage == SIMULATE_STAGE and job.status == "ok":
                files.update({f.path: f for f in job.outputs})
        return sorted(files.values(), key=lambda f: f.path)

    @property
    def data_simulated(self) -> bool:
        return any(j.stage == SIMULATE_STAGE and j.status == "ok" for j in self.jobs)

    @property
    def checkpoints(self) -> list[FileRecord]:
        return [
            f for j in self.jobs if j.stage == TRAIN_STAGE and j.status == "ok" for f in j.outputs
        ]

    @property
    def stages(self) -> dict[str, list[Job]]:
        """Jobs by stage, stages in order of their first job."""
        out: dict[str, list[Job]] = defaultdict(list)
        for job in self.jobs:
            out[job.stage].append(job)
        return dict(out)

    @property
    def software(self) -> dict[str, list[str]]:
        """Versions recorded by the jobs: python, spectramind, snakemake, torch, CUDA."""
        keys = {
            "python": "python_version",
            "spectramind": "spectramind_version",
            "snakemake": "snakemake_version",
            "torch": "torch_version",
            "cuda": "cuda_version",
        }
        return {name: [str(v) for v in self.values(key)] for name, key in keys.items()}


def load_run(root: Path | str, run_id: str | None = None) -> RunFacts:
    """Read every record of ``run_id`` (default: the latest run) under the runs ``root``."""
    root = Path(root)
    run_id = run_id or latest_run_id(root)
    pairs: list[tuple[dict[str, Any], Path]] = []
    events_files = []
    for stage, runs in stage_runs(root).items():
        path = root / stage / run_id / EVENTS_NAME
        if run_id in runs and path.is_file():
            events_files.append(path)
            pairs.extend((record, path) for record in read_records(path))
    if not pairs:
        raise RunNotFoundError(f"run {run_id} has no records under {root}")
    snapshot = snapshot_path(run_id, root)
    facts = RunFacts(
        run_id=run_id,
        root=root,
        jobs=jobs_from_records(pairs),
        events_files=events_files,
        snapshot=snapshot,
        snapshot_sha256=sha256_file(snapshot) if snapshot.is_file() else None,
    )
    facts.recorded_config_sha256 = {str(v) for v in facts.values("config_sha256")}
    return facts


# --- the human-readable summary (`spectramind runs show`) -----------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _size(n_bytes: int) -> str:
    value = float(n_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _short(digest: str | None) -> str:
    return f"{digest[:16]}..." if digest else "none recorded"


def summary_lines(facts: RunFacts) -> list[str]:
    """The audit summary: what ran, config, commit, data, checkpoint, timings, failures."""
    counts = facts.status_counts
    wall = (facts.end - facts.start).total_seconds() if facts.start and facts.end else None
    busy = sum(float(j.duration_s or 0) for j in facts.jobs)
    out = [
        f"run {facts.run_id}: {facts.status.upper()}, {len(facts.jobs)} jobs "
        f"({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}) "
        f"in {len(facts.stages)} stages",
        f"  time      {iso(facts.start) or '?'} -> {iso(facts.end) or '?'} "
        f"({_duration(wall)} wall, {_duration(busy)} summed over jobs)",
    ]
    commits = facts.values("git_commit")
    dirty = facts.values("git_dirty")
    state = "tracked files modified" if True in dirty else "clean" if dirty else "unknown"
    out.append(f"  commit    {', '.join(commits) or 'none recorded'} ({state})")
    out.append(
        f"  host      {', '.join(map(str, facts.values('host'))) or '?'}; seed "
        f"{', '.join(map(str, facts.values('seed'))) or 'none'}"
    )
    recorded = sorted(facts.recorded_config_sha256)
    if facts.snapshot_sha256 is None:
        verdict = "MISSING"
    elif recorded == [facts.snapshot_sha256]:
        verdict = f"matches all {len(facts.jobs)} records"
    else:
        verdict = f"DIFFERS from the recorded {', '.join(_short(r) for r in recorded)}"
    out.append(f"  config    {facts.snapshot} sha256 {_short(facts.snapshot_sha256)} ({verdict})")
    software = facts.software
    out.append(
        "  software  "
        + ", ".join(f"{name} {'/'.join(v) if v else 'none'}" for name, v in software.items())
    )
    data = facts.data_files
    origin = "written by simulate in this run" if facts.data_simulated else "read, not written"
    out.append(
        f"  data      {len(data)} files, {_size(sum(f.size or 0 for f in data))} ({origin}); "
        f"digest {_short(data_digest(data))}"
    )
    for checkpoint in facts.checkpoints:
        out.append(f"  checkpoint {checkpoint.path} sha256 {_short(checkpoint.sha256)}")
    for result in facts.deliverables:
        out.append(f"  output    {result.path} sha256 {_short(result.sha256)}")
    out.append("  stages:")
    for stage, jobs in facts.stages.items():
        statuses = Counter(j.status for j in jobs)
        seconds = [float(j.duration_s) for j in jobs if j.duration_s is not None]
        timing = f"{_duration(sum(seconds))}" + (
            f" (longest {_duration(max(seconds))})" if len(seconds) > 1 else ""
        )
        out.append(
            f"    {stage:<10} {len(jobs):>4} job{'s' if len(jobs) != 1 else ' '}  "
            f"{', '.join(f'{n} {s}' for s, n in sorted(statuses.items())):<14} {timing}"
        )
    problems = [j for j in facts.jobs if j.status != "ok"]
    out.append(f"  not ok:   {len(problems) or 'none'}")
    for job in problems:
        out.append(f"    {job.status:<11} {job.label}: {job.error_message}")
    return out


def summary_dict(facts: RunFacts) -> dict[str, Any]:
    """The same facts as :func:`summary_lines`, for ``runs show --json``."""

    def files(items: list[FileRecord]) -> list[dict[str, Any]]:
        return [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in items]

    data = facts.data_files
    return {
        "run_id": facts.run_id,
        "status": facts.status,
        "jobs": len(facts.jobs),
        "status_counts": dict(facts.status_counts),
        "start": iso(facts.start),
        "end": iso(facts.end),
        "git_commit": facts.values("git_commit"),
        "git_dirty": facts.values("git_dirty"),
        "hosts": facts.values("host"),
        "seeds": facts.values("seed"),
        "config_snapshot": str(facts.snapshot),
        "config_sha256": facts.snapshot_sha256,
        "recorded_config_sha256": sorted(facts.recorded_config_sha256),
        "software": facts.software,
        "data": {
            "files": len(data),
            "bytes": sum(f.size or 0 for f in data),
            "simulated": facts.data_simulated,
            "digest": data_digest(data),
        },
        "checkpoints": files(facts.checkpoints),
        "outputs": files(facts.deliverables),
        "stages": {
            stage: {
                "jobs": len(jobs),
                "status_counts": dict(Counter(j.status for j in jobs)),
                "duration_s": round(sum(float(j.duration_s or 0) for j in jobs), 6),
            }
            for stage, jobs in facts.stages.items()
        },
        "not_ok": [
            {"job": j.label, "status": j.status, "error": j.error_message}
            for j in facts.jobs
            if j.status != "ok"
        ],
    }
