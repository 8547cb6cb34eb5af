"""The rule-level wrapper: run one stage command and append its manifest record.

:func:`run_stage` runs the command as a child process (stderr streamed through, its last lines
kept for the error), then hashes inputs and outputs and appends exactly one record to
``<root>/<stage>/<run_id>/events.jsonl``: ``ok``, or ``failed`` with the exit code and the last
stderr lines, in which case the declared outputs are removed. The child's exit code is returned.
With ``SPECTRAMIND_MANIFEST=0`` the command runs with no hashing and no record.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from spectramind.errors import ConfigError, SpectraMindError
from spectramind.repro import manifest
from spectramind.repro.hashing import file_entries, sha256_file
from spectramind.repro.runid import (
    DEFAULT_RUNS_ROOT,
    ENV_RUN_ID,
    ENV_RUNS_ROOT,
    ENV_SEED,
    ENV_SNAPSHOT,
    is_run_id,
)

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 20
_THREAD_VARIABLES = ("SPECTRAMIND_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "OPENBLAS_NUM_THREADS")  # fmt: skip


class ManifestError(SpectraMindError):
    """The manifest record could not be written or its inputs are inconsistent."""


@dataclass
class StageRun:
    """One execution of a stage command inside a workflow rule.

    ``run_id``, ``snapshot``, ``seed`` and ``root`` default to the variables the Snakefile exports
    (``SPECTRAMIND_RUN_ID``, ``SPECTRAMIND_SNAPSHOT``, ``SPECTRAMIND_SEED``,
    ``SPECTRAMIND_RUNS_ROOT``) when left as None.
    """

    stage: str
    command: list[str]
    rule: str | None = None
    wildcards: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    run_id: str | None = None
    snapshot: str | None = None
    seed: int | None = None
    threads: int | None = None
    root: str | None = None
    log_path: str | None = None

    def resolved(self) -> StageRun:
        """A copy with the environment defaults filled in and checked."""
        env = os.environ
        run_id = self.run_id or env.get(ENV_RUN_ID)
        if not run_id or not is_run_id(run_id):
            raise ConfigError(
                f"run id {run_id!r} is missing or not YYYYMMDD_HHMMSS "
                f"(pass --run-id or set {ENV_RUN_ID})"
            )
        if not self.stage or "/" in self.stage or is_run_id(self.stage):
            raise ConfigError(f"stage name {self.stage!r} is not a plain name")
        if not self.command:
            raise ConfigError("no command to run (put it after --)")
        seed = self.seed if self.seed is not None else env.get(ENV_SEED)
        return StageRun(
            stage=self.stage,
            command=list(self.command),
            rule=self.rule or self.stage,
            wildcards=dict(self.wildcards),
            inputs=list(self.inputs),
            outputs=list(self.outputs),
            run_id=run_id,
            snapshot=self.snapshot or env.get(ENV_SNAPSHOT) or None,
            seed=int(seed) if seed not in (None, "") else None,
            threads=self.threads,
            root=self.root or env.get(ENV_RUNS_ROOT) or DEFAULT_RUNS_ROOT,
            log_path=self.log_path,
        )


def utc_now() -> str:
    """ISO 8601 UTC time with milliseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def remove_outputs(outputs: list[str]) -> list[str]:
    """Delete declared outputs (files or folders) after a failure; return what was removed."""
    removed = []
    for given in outputs:
        path = Path(given)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(given)
    return removed


def child_environment(run: StageRun, record_file: str | None) -> dict[str, str]:
    """The stage's environment: thread pins, seed, run id and the contribution file."""
    env = dict(os.environ)
    if run.threads is not None:
        for name in _THREAD_VARIABLES:
            env[name] = str(run.threads)
    if run.seed is not None:
        env[ENV_SEED] = str(run.seed)
    if run.run_id:
        env[ENV_RUN_ID] = run.run_id
    if record_file:
        env[manifest.ENV_RECORD] = record_file
    else:
        env.pop(manifest.ENV_RECORD, None)
    return env


def execute(
    command: list[str], env: dict[str, str], stderr_sink: IO[bytes]
) -> tuple[int, list[str]]:
    """Run ``command``; copy its stderr to ``stderr_sink``; return (exit code, last lines).

    SIGTERM/SIGINT received meanwhile (snakemake cancelling the job) are forwarded to the child,
    so the wrapper still writes its ``failed`` record. A command that cannot start gives 127.
    """
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    try:
        child = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    except OSError as err:
        message = f"cannot start {command[0]!r}: {err.strerror or err}"
        stderr_sink.write((message + "\n").encode())
        return 127, [message]

    def forward(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[signum] = signal.signal(signum, forward)
        except ValueError:  # not the main thread
            pass
    try:
        assert child.stderr is not None
        for line in child.stderr:
            stderr_sink.write(line)
            stderr_sink.flush()
            tail.append(line.decode(errors="replace").rstrip("\n"))
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code, list(tail)


def run_stage(run: StageRun) -> int:
    """Run the stage command and write its manifest record; return the command's exit code."""
    if not manifest.manifest_enabled():
        return _run_without_manifest(run)
    run = run.resolved()
    assert run.run_id is not None and run.root is not None
    snapshot_sha = None
    if run.snapshot:
        if not Path(run.snapshot).is_file():
            raise ConfigError(f"config snapshot {run.snapshot} does not exist")
        snapshot_sha = sha256_file(run.snapshot)
    else:
        log.warning("no config snapshot given: config_sha256 will be null")
    workdir = os.getcwd()
    inputs = [entry.to_dict() for entry in file_entries(run.inputs)]

    fd, record_file = tempfile.mkstemp(prefix="spectramind-record.", suffix=".json")
    os.close(fd)
    started_at, started = utc_now(), time.monotonic()
    try:
        with _stderr_sink(run.log_path) as sink:
            code, tail = execute(run.command, child_environment(run, record_file), sink)
        duration = time.monotonic() - started
        contributed = _read_contribution(record_file)
    finally:
        os.unlink(record_file)

    error = None
    if code == 0:
        missing = [path for path in run.outputs if not Path(path).exists()]
        if missing:
            code = 1
            error = {"exit_code": 0, "message": f"declared outputs missing: {missing}"}
    else:
        reason = f"exit code {code}" if code > 0 else f"killed by signal {-code}"
        error = {"exit_code": code, "message": f"command failed ({reason})"}
    if error is not None:
        error["stderr_tail"] = tail
        error["removed_outputs"] = remove_outputs(run.outputs)
        artifacts: list[dict[str, Any]] = []
    else:
        artifacts = [entry.to_dict() for entry in file_entries(run.outputs)]

    record: dict[str, Any] = {
        "schema_version": manifest.SCHEMA_VERSION,
        "run_id": run.run_id,
        "time_utc": started_at,
        "stage": run.stage,
        "rule": run.rule,
        "wildcards": run.wildcards,
        "command": run.command,
        "seed": run.seed,
        "config_snapshot_path": run.snapshot,
        "config_sha256": snapshot_sha,
        "inputs": inputs,
        "artifacts": artifacts,
        "duration_s": round(duration, 6),
        "status": "ok" if error is None else "failed",
        "error": error,
        "threads": _default_threads(run),
        "device": None,
        **manifest.environment_fields(workdir),
    }
    for key in ("threads", "device", "cuda_version", "torch_version"):
        if contributed.get(key) is not None:
            record[key] = contributed[key]
    if "extra" in contributed:
        record["extra"] = contributed["extra"]
    path = manifest.events_path(run.root, run.stage, run.run_id)
    try:
        manifest.append_record(path, record)
    except Exception as err:  # a job without its record must not pass as reproducible
        raise ManifestError(f"cannot append the run record to {path}: {err}") from err
    level = logging.INFO if error is None else logging.WARNING
    log.log(
        level, "%s %s: %s in %.2f s -> %s", run.stage, run.rule, record["status"], duration, path
    )
    return code


def _run_without_manifest(run: StageRun) -> int:
    with _stderr_sink(run.log_path, passthrough=True) as sink:
        env = child_environment(run, None)
        if sink is None:
            try:
                code = subprocess.call(run.command, env=env)
            except OSError as err:
                log.error("cannot start %r: %s", run.command[0], err)
                code = 127
        else:
            code, _ = execute(run.command, env, sink)
    if code != 0:
        remove_outputs(run.outputs)
    return code


@contextlib.contextmanager
def _stderr_sink(log_path: str | None, passthrough: bool = False) -> Iterator[IO[bytes] | None]:
    """The stream the child's stderr is copied to: the log file, else our own stderr.

    ``passthrough`` yields None instead of our stderr: the child then inherits it directly.
    """
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as handle:
            yield handle
    else:
        yield None if passthrough else sys.stderr.buffer


def _read_contribution(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
        return json.loads(text) if text.strip() else {}
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable stage contribution %s: %s", path, err)
        return {}


def _default_threads(run: StageRun) -> dict[str, Any]:
    """Thread settings as the wrapper set them, used when the stage reported none."""
    env = child_environment(run, None)
    settings: dict[str, Any] = {"threads": run.threads, "source": "wrapper"}
    settings.update({name: env.get(name) for name in _THREAD_VARIABLES})
    return settings
