"""The rule-level wrapper: run one stage command and append its manifest records.

:func:`run_stage` is three plain steps, usable without the subprocess (issue 15 runs stages
in-process):

1. :func:`begin`: hash the inputs (or reuse a recorded hash, :mod:`spectramind.repro.hashcache`)
   and append a ``started`` line to
   ``<root>/<stage>/<run_id>/events.jsonl``, so a job killed from here on shows as
   ``interrupted``; then :func:`refused_inputs` checks every input against the record of the job
   that produced it (:mod:`spectramind.repro.lineage`).
2. run the command: a ``spectramind`` stage in this process where that is as safe as a child
   (:mod:`spectramind.repro.inprocess`), anything else as a child process; stderr streamed to
   the log, its last lines kept;
3. :func:`finish`: hash the outputs and append the final line, ``ok``, or ``failed`` with the exit
   code and the last stderr lines (the declared outputs are then removed), and index the
   artifacts of an ``ok`` record for later consumers.

A refused input fails the job before its command runs (exit 2), naming the file and both
hashes. The child's exit code is returned. With ``SPECTRAMIND_MANIFEST=0`` the command runs with
no hashing, no check and no record.
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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from spectramind.errors import ConfigError, SpectraMindError
from spectramind.repro import hashcache, inprocess, lineage, manifest
from spectramind.repro.hashing import sha256_file
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
#: Lines of a failed job's stderr repeated on the wrapper's own stderr (Snakemake's console).
FAILURE_TAIL_LINES = 10
#: Exit code of a job refused before its command ran (an input differs from its record).
REFUSED_EXIT_CODE = 2
#: How the stage command ran (the record's ``runner``): in the wrapper's own process, or as its
#: child (:mod:`spectramind.repro.inprocess` says when and why).
RUNNER_IN_PROCESS = "in-process"
RUNNER_SUBPROCESS = "subprocess"
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


def remove_stale_temporaries(outputs: list[str]) -> list[str]:
    """Delete ``.<name>.*`` files beside each declared output; return what was removed.

    :func:`spectramind.io.atomic_path` writes there and renames; a writer killed before the
    rename leaves its temporary file behind.
    """
    removed = []
    for given in outputs:
        path = Path(given)
        if not path.parent.is_dir():
            continue
        for stale in path.parent.glob(f".{glob_escape(path.name)}.*"):
            if stale.is_file() and not stale.is_symlink():
                stale.unlink(missing_ok=True)
                removed.append(str(stale))
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


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
    command: list[str],
    env: dict[str, str],
    stderr_sink: IO[bytes],
    pass_fds: tuple[int, ...] = (),
) -> tuple[int, list[str]]:
    """Run ``command``; copy its stderr to ``stderr_sink``; return (exit code, last lines).

    SIGTERM/SIGINT received meanwhile (snakemake cancelling the job) are forwarded to the child,
    so the wrapper still writes its ``failed`` record. A command that cannot start gives 127.
    """
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    try:
        child = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, pass_fds=pass_fds)
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


@dataclass
class Attempt:
    """One job attempt between its ``started`` line and its final record."""

    run: StageRun
    attempt: str
    events: Path
    started_at: str
    base_record: dict[str, Any]
    inputs: list[dict[str, Any]]
    overhead_s: dict[str, float] = field(default_factory=dict)


def begin(
    run: StageRun, inputs: list[dict[str, Any]] | None = None, runner: str = RUNNER_SUBPROCESS
) -> Attempt:
    """Hash the inputs and append the attempt's ``started`` line; raise ManifestError if it
    cannot be written (the command must not run unrecorded).

    ``inputs``: the ``{path, size, sha256}`` entries when the caller has them already; default:
    hash ``run.inputs`` now, reusing a recorded hash where the file's fingerprint proves it
    unchanged (:mod:`spectramind.repro.hashcache`). ``runner``: how the command will run
    (``in-process`` or ``subprocess``), recorded.
    """
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
    startup_s = process_age_s()  # before the wrapper's own work: not manifest overhead
    t0 = time.perf_counter()
    environment = manifest.environment_fields(workdir)
    environment_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    if inputs is None:
        inputs = hashcache.file_entries(run.inputs, run.root)
    hash_inputs_s = time.perf_counter() - t0
    base = {
        "schema_version": manifest.SCHEMA_VERSION,
        "run_id": run.run_id,
        "attempt": uuid.uuid4().hex,
        "time_utc": utc_now(),
        "stage": run.stage,
        "rule": run.rule,
        "wildcards": run.wildcards,
        "command": run.command,
        "seed": run.seed,
        "config_snapshot_path": run.snapshot,
        "config_sha256": snapshot_sha,
        "inputs": inputs,
        "threads": _default_threads(run),
        "runner": runner,
        "device": None,
        **environment,
    }
    attempt = Attempt(
        run=run,
        attempt=base["attempt"],
        events=manifest.events_path(run.root, run.stage, run.run_id),
        started_at=base["time_utc"],
        base_record=base,
        inputs=inputs,
        overhead_s={
            "startup": startup_s,
            "environment": environment_s,
            "hash_inputs": hash_inputs_s,
        },
    )
    started = {
        **base,
        "status": manifest.STATUS_STARTED,
        "artifacts": [],
        "duration_s": None,
        "error": None,
        "pid": os.getpid(),
        "pid_start": manifest.process_start_ticks(os.getpid()),
    }
    t0 = time.perf_counter()
    offset = _append(attempt.events, started)
    attempt.overhead_s["append"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hashcache.index_entries(run.root, attempt.events, offset, inputs)
    attempt.overhead_s["index_hashes"] = time.perf_counter() - t0
    return attempt


def process_age_s() -> float:
    """Seconds since this process started (interpreter start, imports, argument parsing and a
    CPU-pin restart, if any), from ``/proc`` at clock-tick resolution; 0.0 where unknown."""
    try:
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
    except (OSError, ValueError):
        return 0.0
    ticks = manifest.process_start_ticks(os.getpid())
    if ticks is None:
        return 0.0
    return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))


def refused_inputs(attempt: Attempt) -> list[lineage.Mismatch]:
    """Inputs whose hash differs from the record of the job that produced them."""
    t0 = time.perf_counter()
    assert attempt.run.root is not None
    mismatches = lineage.check_inputs(attempt.run.root, attempt.inputs)
    attempt.overhead_s["check_inputs"] = time.perf_counter() - t0
    return mismatches


def finish(
    attempt: Attempt,
    code: int,
    tail: list[str],
    duration_s: float,
    contributed: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Hash the outputs and append the final record; return (exit code, record).

    ``error`` given: the job failed before its command ran (``code`` is its exit code).
    """
    run = attempt.run
    contributed = contributed or {}
    if error is None and code == 0:
        missing = [path for path in run.outputs if not Path(path).exists()]
        if missing:
            code = 1
            error = {"exit_code": 0, "message": f"declared outputs missing: {missing}"}
    elif error is None:
        reason = f"exit code {code}" if code > 0 else f"killed by signal {-code}"
        error = {"exit_code": code, "message": f"command failed ({reason})"}
    t0 = time.perf_counter()
    if error is not None:
        error.setdefault("stderr_tail", tail)
        error["removed_outputs"] = remove_outputs(run.outputs)
        artifacts: list[dict[str, Any]] = []
    else:
        # Never reused (just written); fingerprinted where settled, so consumers can reuse them.
        artifacts = hashcache.file_entries(run.outputs, None)
    attempt.overhead_s["hash_outputs"] = time.perf_counter() - t0
    record: dict[str, Any] = {
        **attempt.base_record,
        "artifacts": artifacts,
        "duration_s": round(duration_s, 6),
        "status": manifest.STATUS_OK if error is None else manifest.STATUS_FAILED,
        "error": error,
    }
    for key in ("threads", "device", "cuda_version", "torch_version"):
        if contributed.get(key) is not None:
            record[key] = contributed[key]
    if "extra" in contributed:
        record["extra"] = contributed["extra"]
    t0 = time.perf_counter()
    record["overhead_s"] = {k: round(v, 6) for k, v in attempt.overhead_s.items()}
    try:
        offset = _append(attempt.events, record)
    except ManifestError:
        if error is None:  # an output without its record must not pass as reproducible
            remove_outputs(run.outputs)
        raise
    assert run.root is not None
    lineage.index_record(run.root, attempt.events, offset, record)
    hashcache.index_entries(run.root, attempt.events, offset, artifacts)
    log.debug("recorded in %.3f s", time.perf_counter() - t0)
    level = logging.INFO if error is None else logging.WARNING
    log.log(
        level,
        "%s %s: %s in %.2f s -> %s",
        run.stage,
        run.rule,
        record["status"],
        duration_s,
        attempt.events,
    )
    return code, record


def choose_runner(
    run: StageRun, entry: Callable[[list[str]], int] | None
) -> tuple[str, list[str] | None]:
    """(runner, CLI arguments): in-process when ``entry`` (the CLI's) is given, the command is
    this installation's ``spectramind``, ``SPECTRAMIND_IN_PROCESS`` allows it and this process
    started with the CPU pin in effect; else a child process."""
    if entry is None or not inprocess.in_process_enabled():
        return RUNNER_SUBPROCESS, None
    arguments = inprocess.own_cli_arguments(run.command)
    if arguments is None or not inprocess.started_pinned():
        return RUNNER_SUBPROCESS, None
    return RUNNER_IN_PROCESS, arguments


def run_stage(run: StageRun, entry: Callable[[list[str]], int] | None = None) -> int:
    """Run the stage command and write its manifest records; return the command's exit code.

    ``entry``: the CLI's in-process entry point (:func:`spectramind.commands.invoke`); with it,
    a ``spectramind ...`` command runs in this process (:func:`choose_runner`).
    """
    if not manifest.manifest_enabled():
        return _run_without_manifest(run)
    runner, arguments = choose_runner(run, entry)
    attempt = begin(run, runner=runner)
    run = attempt.run
    remove_stale_temporaries(run.outputs)
    mismatches = refused_inputs(attempt)
    if mismatches:
        message = str(lineage.TamperedInputError(mismatches))
        error = {
            "exit_code": REFUSED_EXIT_CODE,
            "message": message,
            "input_mismatches": [m.to_dict() for m in mismatches],
            "stderr_tail": [],
        }
        code, _ = finish(attempt, REFUSED_EXIT_CODE, [], 0.0, error=error)
        sys.stderr.write(f"error: {run.stage} {_where(run)}: {message}\n")
        return code
    started = time.monotonic()
    with tempfile.TemporaryFile(prefix="spectramind-record.") as channel:
        # An unlinked file, reached by the stage as /dev/fd/N: nothing to leak if we are killed.
        record_file = f"/dev/fd/{channel.fileno()}"
        env = child_environment(run, record_file)
        if arguments is not None and entry is not None:
            code, tail = inprocess.execute_in_process(
                entry, arguments, env, run.log_path, STDERR_TAIL_LINES
            )
        else:
            with _stderr_sink(run.log_path) as sink:
                code, tail = execute(run.command, env, sink, pass_fds=(channel.fileno(),))
        duration = time.monotonic() - started
        contributed = _read_contribution(channel)
    code, record = finish(attempt, code, tail, duration, contributed)
    if code != 0 and run.log_path:
        _echo_failure(run, record, tail)
    return code


def _where(run: StageRun) -> str:
    wildcards = " ".join(f"{k}={v}" for k, v in sorted(run.wildcards.items()))
    return f"{run.rule}{' ' + wildcards if wildcards else ''}"


def _echo_failure(run: StageRun, record: dict[str, Any], tail: list[str]) -> None:
    """Repeat the end of a failed job's log on our stderr, which Snakemake shows on its console
    beside the job's error (the log itself holds the whole stderr)."""
    lines = [line for line in tail if line.strip()][-FAILURE_TAIL_LINES:]
    message = (record.get("error") or {}).get("message", "failed")
    sys.stderr.write(
        f"error: {run.stage} {_where(run)}: {message}; last lines of {run.log_path}:\n"
    )
    sys.stderr.write("".join(f"    {line}\n" for line in lines) or "    (empty)\n")
    sys.stderr.flush()


def _append(path: Path, record: dict[str, Any]) -> int:
    try:
        return manifest.append_record(path, record)
    except Exception as err:  # a job without its record must not pass as reproducible
        raise ManifestError(f"cannot append the run record to {path}: {err}") from err


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


def _read_contribution(channel: IO[bytes]) -> dict[str, Any]:
    try:
        channel.seek(0)
        text = channel.read()
        contributed = json.loads(text) if text.strip() else {}
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable stage contribution: %s", err)
        return {}
    return contributed if isinstance(contributed, dict) else {}


def _default_threads(run: StageRun) -> dict[str, Any]:
    """Thread settings as the wrapper set them, used when the stage reported none."""
    env = child_environment(run, None)
    settings: dict[str, Any] = {"threads": run.threads, "source": "wrapper"}
    settings.update({name: env.get(name) for name in _THREAD_VARIABLES})
    return settings
