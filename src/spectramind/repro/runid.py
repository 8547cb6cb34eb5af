"""One run id per ``snakemake`` invocation, shared by all of its jobs.

A run id is the UTC start time ``YYYYMMDD_HHMMSS``. The Snakefile calls :func:`plan_run` at parse
time: in the main snakemake process it picks a new id (unless ``SPECTRAMIND_RUN_ID`` is already
set, which pins it) and exports it, with the snapshot path, in ``os.environ``, writing nothing.
Its ``onstart`` handler calls :func:`begin_run`, which claims the run folder, freezes the config
snapshot and repairs the records of earlier, killed runs; so a dry run, ``--lint``, ``--report``
or a failed parse leaves no trace. Every job inherits the variables from the main process:

* local jobs: shell commands are children of the main process;
* SLURM jobs: the executor plugin calls ``sbatch --export=ALL`` from the main process, so the job
  sees the main process's environment, and the job's own re-parse of the Snakefile finds the id
  in ``os.environ`` instead of making a new one;
* other executors: the Snakefile also lists the variables in ``envvars:`` (:data:`JOB_ENVVARS`),
  which snakemake passes to remote jobs explicitly.

A job process (``main_process=False``) never makes an id: without the variable it fails, because a
fresh id there would silently split the run. :func:`start_run` does both steps at once (scripts).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from spectramind.errors import ConfigError
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import ENV_MANIFEST
from spectramind.repro.snapshot import freeze_config, snapshot_path

log = logging.getLogger(__name__)

RUN_ID_FORMAT = "%Y%m%d_%H%M%S"
RUN_ID_PATTERN = re.compile(r"^\d{8}_\d{6}$")
DEFAULT_RUNS_ROOT = "artifacts/runs"

ENV_RUN_ID = "SPECTRAMIND_RUN_ID"
ENV_SNAPSHOT = "SPECTRAMIND_SNAPSHOT"
ENV_RUNS_ROOT = "SPECTRAMIND_RUNS_ROOT"
ENV_SEED = "SPECTRAMIND_SEED"
#: Variables a Snakefile should declare with ``envvars:`` so every executor passes them to jobs.
JOB_ENVVARS = (ENV_RUN_ID, ENV_SNAPSHOT, ENV_RUNS_ROOT, ENV_SEED, ENV_MANIFEST)


def is_run_id(text: str) -> bool:
    """True if ``text`` looks like a run id (``YYYYMMDD_HHMMSS``)."""
    return bool(RUN_ID_PATTERN.match(text))


def new_run_id(root: Path | str = DEFAULT_RUNS_ROOT, now: datetime | None = None) -> str:
    """The UTC time as a run id, moved on by whole seconds past ids already used under ``root``."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    root = Path(root)
    while True:
        run_id = moment.strftime(RUN_ID_FORMAT)
        if not (root / run_id).exists():
            return run_id
        moment += timedelta(seconds=1)


def resolve_run_id(
    root: Path | str = DEFAULT_RUNS_ROOT,
    main_process: bool = True,
    environ: MutableMapping[str, str] | None = None,
) -> str:
    """The run id from ``SPECTRAMIND_RUN_ID``, or (main process only) a new one, exported there."""
    env = os.environ if environ is None else environ
    run_id = env.get(ENV_RUN_ID)
    if run_id:
        if not is_run_id(run_id):
            raise ConfigError(f"{ENV_RUN_ID}={run_id!r} is not of the form YYYYMMDD_HHMMSS")
        return run_id
    if not main_process:
        raise ConfigError(
            f"{ENV_RUN_ID} is not set in this job: the main snakemake process exports it; "
            "check that the executor passes the environment (envvars:) to jobs"
        )
    run_id = new_run_id(root)
    env[ENV_RUN_ID] = run_id
    return run_id


@dataclass(frozen=True)
class RunContext:
    """What a Snakefile needs about the current run.

    ``config_sha256`` is None until the snapshot is written (:func:`begin_run`); ``pinned`` is
    True when the id came from the environment rather than from the clock.
    """

    run_id: str
    snapshot_path: str
    config_sha256: str | None
    root: str
    pinned: bool = False


def plan_run(
    config: dict[str, Any],
    root: Path | str | None = None,
    main_process: bool = True,
    seed: int | None = None,
    environ: MutableMapping[str, str] | None = None,
    manifest: bool | None = None,
) -> RunContext:
    """Resolve the run id and export the job variables, writing nothing; call at parse time.

    In a job process the snapshot written by the main process must exist (it is re-hashed, not
    rewritten), so a job cannot disagree with the frozen config.
    """
    env = os.environ if environ is None else environ
    root = str(root or env.get(ENV_RUNS_ROOT) or DEFAULT_RUNS_ROOT)
    pinned = bool(env.get(ENV_RUN_ID))
    run_id = resolve_run_id(root, main_process=main_process, environ=env)
    sha256 = None
    if main_process:
        path = snapshot_path(run_id, root)
    else:
        path = Path(env.get(ENV_SNAPSHOT) or snapshot_path(run_id, root))
        if not path.is_file():
            raise ConfigError(f"config snapshot {path} of run {run_id} is missing in this job")
        sha256 = sha256_file(path)
    env[ENV_SNAPSHOT] = str(path)
    env[ENV_RUNS_ROOT] = root
    if seed is not None:
        env[ENV_SEED] = str(seed)
    env.setdefault(ENV_SEED, "")  # every JOB_ENVVARS entry must exist for ``envvars:``
    if manifest is not None:  # the workflow's ``manifest`` key; False only to measure its cost
        env[ENV_MANIFEST] = "1" if manifest else "0"
    env.setdefault(ENV_MANIFEST, "1")
    return RunContext(run_id, str(path), sha256, root, pinned)


def claim_run_folder(root: Path | str, run_id: str, pinned: bool) -> str:
    """Create ``<root>/<run_id>/``; a clock id already taken moves on by whole seconds.

    A pinned id (``SPECTRAMIND_RUN_ID`` set on purpose, e.g. one id for a whole ``dvc repro``)
    may reuse its folder.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if pinned:
        (root / run_id).mkdir(exist_ok=True)
        return run_id
    moment = datetime.strptime(run_id, RUN_ID_FORMAT)
    while True:
        try:
            (root / run_id).mkdir()
            return run_id
        except FileExistsError:
            moment += timedelta(seconds=1)
            run_id = moment.strftime(RUN_ID_FORMAT)


def begin_run(
    context: RunContext,
    config: dict[str, Any],
    environ: MutableMapping[str, str] | None = None,
) -> RunContext:
    """Claim the run folder, freeze the snapshot and tidy the records; call in ``onstart``.

    Repairs what killed runs left (a torn last line in any ``events.jsonl``) and builds the
    lineage index if it is missing, before the first job starts. Re-exports the variables when
    the id had to move on (another invocation took it since :func:`plan_run`).
    """
    from spectramind.repro import lineage
    from spectramind.repro import manifest as manifest_module

    env = os.environ if environ is None else environ
    run_id = claim_run_folder(context.root, context.run_id, context.pinned)
    path, sha256 = freeze_config(config, run_id, context.root)
    env[ENV_RUN_ID] = run_id
    env[ENV_SNAPSHOT] = str(path)
    for repaired in manifest_module.recover(context.root):
        log.warning("repaired %s: cut the torn record of a killed job", repaired)
    lineage.ensure_index(context.root)
    log.info("run %s, config snapshot %s (sha256 %s)", run_id, path, sha256[:12])
    return RunContext(run_id, str(path), sha256, context.root, context.pinned)


def start_run(
    config: dict[str, Any],
    root: Path | str | None = None,
    main_process: bool = True,
    seed: int | None = None,
    environ: MutableMapping[str, str] | None = None,
    manifest: bool | None = None,
) -> RunContext:
    """:func:`plan_run` and, in the main process, :func:`begin_run` at once (scripts, tests).

    A Snakefile should call :func:`plan_run` at parse time and :func:`begin_run` in ``onstart``
    instead, so that dry runs leave nothing behind.
    """
    context = plan_run(config, root, main_process, seed, environ, manifest)
    if not main_process:
        return context
    return begin_run(context, config, environ)
