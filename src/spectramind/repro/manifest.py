"""Run manifests (ADR 0006 layer 1): one JSON line per stage execution.

Records go to ``<root>/<stage>/<run_id>/events.jsonl``. :func:`append_record` holds a
:class:`filelock.FileLock` on ``events.jsonl.lock`` and writes the whole line with one
``O_APPEND`` write, so concurrent jobs (also on other hosts over a shared filesystem with working
``flock``/``fcntl`` locks) never interleave or lose lines.

A line is written whole or not at all. A write that fails (``ENOSPC``, ``EIO``) is cut back to
where the line started; a writer killed inside ``write()`` (``SIGKILL``) leaves a line without its
newline, which is not a record: the next append to that file, and :func:`recover` (run when a
workflow starts), cut it off. Readers (:func:`read_records`) skip and report anything that is not
a whole JSON object line as ``path:line: damaged record`` and go on with the rest.

Each job writes two lines sharing an ``attempt`` id: ``started`` before its command runs and the
final ``ok``/``failed`` line after. :func:`read_records` folds the pair into the final record; a
``started`` line with no final line is reported as ``interrupted`` (or ``running`` while its
process is still alive on this host).

A stage process adds what only it knows (its determinism settings, the torch device) through a
*contribution file*: the wrapper sets ``SPECTRAMIND_RECORD`` to a JSON file path;
:func:`contribute` merges keys into it (a no-op when the variable is unset, e.g. outside the
workflow); the wrapper merges the file into the record. :func:`set_deterministic` contributes
``threads`` by itself, so a stage only has to call :func:`record_device` if it uses torch.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import socket
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from spectramind.errors import SpectraMindError

log = logging.getLogger(__name__)

EVENTS_NAME = "events.jsonl"
ENV_RECORD = "SPECTRAMIND_RECORD"
ENV_MANIFEST = "SPECTRAMIND_MANIFEST"
#: A bundle's ``BUNDLE.json`` (set by its run.sh and notebook): where there is no git, records
#: take the commit and dirty flag from it (``spectramind bundle``, docs/kaggle.md).
ENV_BUNDLE = "SPECTRAMIND_BUNDLE"
SCHEMA_VERSION = 1
#: Record statuses. ``started`` is written before the command runs; ``ok``/``failed`` after it.
#: ``interrupted`` and ``running`` are never written: readers derive them from a ``started`` line
#: that has no final line (see :func:`fold_attempts`).
STATUS_STARTED = "started"
STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_INTERRUPTED = "interrupted"
STATUS_RUNNING = "running"
#: Fields every record has (``docs/reproducibility.md`` describes each).
RECORD_FIELDS = (
    "schema_version",
    "run_id",
    "attempt",
    "time_utc",
    "stage",
    "rule",
    "wildcards",
    "command",
    "seed",
    "workdir",
    "git_commit",
    "git_branch",
    "git_dirty",
    "config_snapshot_path",
    "config_sha256",
    "inputs",
    "artifacts",
    "duration_s",
    "status",
    "error",
    "host",
    "threads",
    "device",
    "cuda_version",
    "torch_version",
    "snakemake_version",
    "spectramind_version",
    "python_version",
    "cluster_job_id",
    "cuda_visible_devices",
)
_CLUSTER_JOB_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "JOB_ID")
_TAIL_BLOCK = 1 << 16


def manifest_enabled(environ: dict[str, str] | None = None) -> bool:
    """False when ``SPECTRAMIND_MANIFEST`` is ``0``/``false``/``no``/``off`` (benchmarking)."""
    value = (environ if environ is not None else os.environ).get(ENV_MANIFEST, "1")
    return value.strip().lower() not in {"0", "false", "no", "off"}


def events_path(root: Path | str, stage: str, run_id: str) -> Path:
    """``<root>/<stage>/<run_id>/events.jsonl``."""
    return Path(root) / stage / run_id / EVENTS_NAME


def _locked(path: Path, timeout_s: float) -> FileLock:
    return FileLock(f"{path}.lock", timeout=timeout_s)


def _cut_torn_tail(fd: int, path: Path) -> int:
    """Drop a last line without its newline (a writer killed inside ``write()``); return the size.

    Call with the lock held: no append is in progress, so such a tail can only be left by a
    writer that died.
    """
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        block = os.pread(fd, end - start, start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end != size:
        os.ftruncate(fd, end)
        log.warning(
            "%s: removed %d bytes of a record whose append was interrupted", path, size - end
        )
    return end


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    while written < len(data):  # short writes are rare but legal
        written += os.write(fd, data[written:])


def append_record(path: Path | str, record: dict[str, Any], timeout_s: float = 120.0) -> int:
    """Append ``record`` as one JSON line to ``path`` under a lock beside it; whole or not at all.

    Returns the byte offset where the line starts (for :mod:`spectramind.repro.lineage`). On
    any error while writing, the file is cut back to that offset and the error is raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    with _locked(path, timeout_s):
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = _cut_torn_tail(fd, path)
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)
    return start


def recover(root: Path | str, timeout_s: float = 120.0) -> list[Path]:
    """Cut the torn last line of every ``events.jsonl`` under ``root``; return the files repaired.

    Cheap (one read of the last byte per file); run where a workflow starts, so a record torn
    by a killed writer is gone before anyone reads or appends.
    """
    repaired = []
    root = Path(root)
    if not root.is_dir():
        return repaired
    for path in sorted(root.glob(f"*/*/{EVENTS_NAME}")):
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                handle.seek(max(0, size - 1))
                if size == 0 or handle.read(1) == b"\n":
                    continue
            with _locked(path, timeout_s):
                fd = os.open(path, os.O_RDWR)
                try:
                    if _cut_torn_tail(fd, path) != size:
                        repaired.append(path)
                finally:
                    os.close(fd)
        except OSError as err:
            log.warning("%s: cannot repair: %s", path, err)
    return repaired


@dataclass(frozen=True)
class DamagedLine:
    """A line of an events file that is not a whole JSON object (torn, truncated or edited)."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: damaged record"


def _lines(path: Path | str, damaged: list[DamagedLine] | None) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            record = None
            if raw.endswith(b"\n"):  # no newline: a torn or unfinished append, not a record
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
            if isinstance(record, dict):
                yield record
                continue
            problem = DamagedLine(str(path), number)
            log.warning("%s", problem)
            if damaged is not None:
                damaged.append(problem)


def read_records(
    path: Path | str, *, raw: bool = False, damaged: list[DamagedLine] | None = None
) -> list[dict[str, Any]]:
    """The good records of one ``events.jsonl``, one per job attempt, in start order.

    Damaged lines are skipped, logged as ``path:line: damaged record`` and added to ``damaged``
    when given. ``raw=True`` returns the lines as written (``started`` lines included) instead
    of folding each attempt into one record (:func:`fold_attempts`).
    """
    lines = list(_lines(path, damaged))
    return lines if raw else fold_attempts(lines)


def fold_attempts(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per attempt: the final line in place of its ``started`` line.

    A ``started`` line without a final line becomes a copy of it with status ``running`` (its
    process is alive on this host) or ``interrupted`` (killed: the job left no result), with no
    artifacts. Lines without an ``attempt`` (older records) pass through unchanged.
    """
    out: list[dict[str, Any]] = []
    open_attempts: dict[str, int] = {}
    for line in lines:
        attempt = line.get("attempt")
        if line.get("status") == STATUS_STARTED and attempt:
            open_attempts[attempt] = len(out)
            out.append(line)
        elif attempt and attempt in open_attempts:
            out[open_attempts.pop(attempt)] = line
        else:
            out.append(line)
    for index in open_attempts.values():
        started = out[index]
        status = STATUS_RUNNING if process_alive(started) else STATUS_INTERRUPTED
        out[index] = {
            **started,
            "status": status,
            "artifacts": [],
            "error": None
            if status == STATUS_RUNNING
            else {"exit_code": None, "message": "the job was killed: no final record"},
        }
    return out


def _process_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) from ``/proc/<pid>/stat``, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return (fields[0], int(fields[19])) if len(fields) > 19 else None


def process_start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (``/proc/<pid>/stat``), or None."""
    stat = _process_stat(pid)
    return None if stat is None else stat[1]


def process_alive(record: dict[str, Any]) -> bool:
    """True when the record's ``pid`` still runs on this host, as the same process.

    A zombie (state Z, or X while it is torn down) is dead: a job killed with its workflow stays
    a zombie until something reaps it, forever in a container whose PID 1 does not reap
    orphans, and must read as interrupted, not running.
    """
    pid, ticks = record.get("pid"), record.get("pid_start")
    if not pid or ticks is None or record.get("host") != socket.gethostname():
        return False
    stat = _process_stat(int(pid))
    return stat is not None and stat[1] == ticks and stat[0] not in ("Z", "X")


def contribute(**fields: Any) -> bool:
    """Merge ``fields`` into the wrapper's contribution file; False when there is none.

    The file is rewritten in place (it may be an unlinked file reached through ``/dev/fd``);
    the wrapper reads it only after the stage has exited.
    """
    target = os.environ.get(ENV_RECORD)
    if not target:
        return False
    with open(target, "a+b") as handle:  # creates it if missing; after truncate() appends at 0
        handle.seek(0)
        text = handle.read()
        current = json.loads(text) if text.strip() else {}
        current.update(json.loads(json.dumps(fields, default=str)))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(current, sort_keys=True).encode())
    return True


def record_device(device: Any) -> dict[str, Any]:
    """Describe a torch device (``"cpu"``, ``"cuda:0"``, ``torch.device``) and contribute it."""
    import torch

    device = torch.device(device)
    info: dict[str, Any] = {"type": device.type, "index": device.index}
    if device.type == "cuda" and torch.cuda.is_available():
        index = device.index if device.index is not None else torch.cuda.current_device()
        info.update(
            index=index,
            name=torch.cuda.get_device_name(index),
            capability=".".join(map(str, torch.cuda.get_device_capability(index))),
        )
    contribute(device=info, cuda_version=torch.version.cuda, torch_version=torch.__version__)
    return info


def package_version(name: str) -> str | None:
    """Installed version of a distribution from its metadata (no import), or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def torch_cuda_version() -> str | None:
    """CUDA version torch was built for, read from ``torch/version.py`` without importing torch."""
    import sys

    if "torch" in sys.modules:
        return sys.modules["torch"].version.cuda
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return None
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return None
    match = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
    return match.group(1) if match else None


def git_state(workdir: Path | str) -> tuple[str | None, bool | None]:
    """(HEAD commit, tracked files changed) of the repository at ``workdir``; Nones if none."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, bool(status.strip())


def git_branch(workdir: Path | str) -> str | None:
    """The checked-out branch at ``workdir``; None when detached or not a repository."""
    try:
        proc = subprocess.run(
            ["git", "symbolic-ref", "--short", "-q", "HEAD"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None


def bundle_provenance(environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """``{path, sha256, git_commit, git_dirty}`` of the bundle named by ``SPECTRAMIND_BUNDLE``,
    or None when unset. A set but unreadable file raises (a run must not claim no provenance
    when it was told where its provenance is)."""
    import hashlib

    path = (environ if environ is not None else os.environ).get(ENV_BUNDLE)
    if not path:
        return None
    try:
        body = Path(path).read_bytes()
        info = json.loads(body)
        commit, dirty = info["git_commit"], info["git_dirty"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SpectraMindError(
            f"{ENV_BUNDLE}={path}: expected a BUNDLE.json, found {err!r}"
        ) from None
    return {
        "path": str(Path(path).resolve()),
        "sha256": hashlib.sha256(body).hexdigest(),
        "git_commit": commit,
        "git_dirty": dirty,
    }


def environment_fields(workdir: Path | str) -> dict[str, Any]:
    """The record fields that describe the machine and software, all cheap to read. Outside a
    git repository the commit comes from a bundle's ``BUNDLE.json`` (:func:`bundle_provenance`)."""
    import platform

    commit, dirty = git_state(workdir)
    branch = git_branch(workdir) if commit else None
    bundle = bundle_provenance()
    if commit is None and bundle is not None:
        commit, dirty = bundle["git_commit"], bundle["git_dirty"]
    cluster_job_id = next(
        (os.environ[name] for name in _CLUSTER_JOB_VARIABLES if os.environ.get(name)), None
    )
    return {
        "workdir": str(Path(workdir).resolve()),
        "git_commit": commit,
        "git_dirty": dirty,
        "git_branch": branch,
        # {path, sha256, git_commit, git_dirty} of BUNDLE.json in a bundle's run, else None.
        "bundle": bundle,
        "host": socket.gethostname(),
        "cuda_version": torch_cuda_version(),
        "torch_version": package_version("torch"),
        "snakemake_version": package_version("snakemake"),
        "spectramind_version": package_version("spectramind"),
        "python_version": platform.python_version(),
        "cluster_job_id": cluster_job_id,
        # GPUs the scheduler gave the job (SLURM sets it for --gpus); None when not set.
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
