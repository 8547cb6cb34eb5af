"""Run manifests (ADR 0006 layer 1): one JSON line per stage execution.

Records go to ``<root>/<stage>/<run_id>/events.jsonl``. :func:`append_record` holds a
:class:`filelock.FileLock` on ``events.jsonl.lock`` and writes the whole line with one
``O_APPEND`` write, so concurrent jobs (also on other hosts over a shared filesystem with working
``flock``/``fcntl`` locks) never interleave or lose lines.

A stage process adds what only it knows (its determinism settings, the torch device) through a
*contribution file*: the wrapper sets ``SPECTRAMIND_RECORD`` to a JSON file path;
:func:`contribute` merges keys into it (a no-op when the variable is unset, e.g. outside the
workflow); the wrapper merges the file into the record. :func:`set_deterministic` contributes
``threads`` by itself, so a stage only has to call :func:`record_device` if it uses torch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

from filelock import FileLock

log = logging.getLogger(__name__)

EVENTS_NAME = "events.jsonl"
ENV_RECORD = "SPECTRAMIND_RECORD"
ENV_MANIFEST = "SPECTRAMIND_MANIFEST"
SCHEMA_VERSION = 1
#: Fields every record has (``docs/reproducibility.md`` describes each).
RECORD_FIELDS = (
    "schema_version",
    "run_id",
    "time_utc",
    "stage",
    "rule",
    "wildcards",
    "command",
    "seed",
    "workdir",
    "git_commit",
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


def manifest_enabled(environ: dict[str, str] | None = None) -> bool:
    """False when ``SPECTRAMIND_MANIFEST`` is ``0``/``false``/``no``/``off`` (benchmarking)."""
    value = (environ if environ is not None else os.environ).get(ENV_MANIFEST, "1")
    return value.strip().lower() not in {"0", "false", "no", "off"}


def events_path(root: Path | str, stage: str, run_id: str) -> Path:
    """``<root>/<stage>/<run_id>/events.jsonl``."""
    return Path(root) / stage / run_id / EVENTS_NAME


def append_record(path: Path | str, record: dict[str, Any], timeout_s: float = 120.0) -> None:
    """Append ``record`` as one JSON line to ``path`` under a lock beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    with FileLock(f"{path}.lock", timeout=timeout_s):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):  # short writes are rare but legal
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)


def read_records(path: Path | str) -> list[dict[str, Any]]:
    """All records of one ``events.jsonl`` in file order."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def contribute(**fields: Any) -> bool:
    """Merge ``fields`` into the wrapper's contribution file; False when there is none."""
    target = os.environ.get(ENV_RECORD)
    if not target:
        return False
    path = Path(target)
    current = json.loads(path.read_text()) if path.is_file() and path.stat().st_size else {}
    current.update(json.loads(json.dumps(fields, default=str)))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(current, sort_keys=True))
    os.replace(tmp, path)
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


def environment_fields(workdir: Path | str) -> dict[str, Any]:
    """The record fields that describe the machine and software, all cheap to read."""
    import platform

    commit, dirty = git_state(workdir)
    cluster_job_id = next(
        (os.environ[name] for name in _CLUSTER_JOB_VARIABLES if os.environ.get(name)), None
    )
    return {
        "workdir": str(Path(workdir).resolve()),
        "git_commit": commit,
        "git_dirty": dirty,
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
