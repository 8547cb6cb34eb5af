"""Config snapshots and the run id shared by all jobs of one invocation."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spectramind.errors import ConfigError
from spectramind.repro.hashing import sha256_file
from spectramind.repro.runid import begin_run, new_run_id, plan_run, resolve_run_id, start_run
from spectramind.repro.snapshot import canonical_yaml, freeze_config


def test_same_config_gives_same_bytes_whatever_the_key_order() -> None:
    a = {"seed": 1, "train": {"lr": 0.001, "epochs": 2}, "data_dir": "data/x"}
    b = {"data_dir": "data/x", "train": {"epochs": 2, "lr": 0.001}, "seed": 1}
    assert canonical_yaml(a) == canonical_yaml(b)
    assert canonical_yaml(a).splitlines()[0] == "data_dir: data/x"


def test_freeze_is_idempotent_and_refuses_a_different_config(tmp_path: Path) -> None:
    path, sha = freeze_config({"seed": 1}, "20250101_000000", tmp_path)
    assert path == tmp_path / "20250101_000000" / "config.snapshot.yaml"
    assert sha == sha256_file(path) and path.read_text() == "seed: 1\n"
    assert freeze_config({"seed": 1}, "20250101_000000", tmp_path) == (path, sha)
    with pytest.raises(ConfigError, match="different config"):
        freeze_config({"seed": 2}, "20250101_000000", tmp_path)
    assert path.read_text() == "seed: 1\n"


def test_resolve_run_id_creates_once_and_jobs_only_inherit(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    run_id = resolve_run_id(tmp_path, environ=env)
    assert env["SPECTRAMIND_RUN_ID"] == run_id
    assert resolve_run_id(tmp_path, main_process=False, environ=env) == run_id
    with pytest.raises(ConfigError, match="not set in this job"):
        resolve_run_id(tmp_path, main_process=False, environ={})
    with pytest.raises(ConfigError, match="YYYYMMDD_HHMMSS"):
        resolve_run_id(tmp_path, environ={"SPECTRAMIND_RUN_ID": "latest"})


def test_new_run_id_is_utc_time_and_skips_used_ids(tmp_path: Path) -> None:
    now = datetime(2025, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
    assert new_run_id(tmp_path, now) == "20250304_050607"
    (tmp_path / "20250304_050607").mkdir()
    assert new_run_id(tmp_path, now) == "20250304_050608"


def test_job_processes_share_the_main_process_run_id_and_snapshot(tmp_path: Path) -> None:
    """The main process exports the id; a separate job process re-parsing gets the same."""
    script = (
        "import subprocess, sys\n"
        "from spectramind.repro.runid import start_run\n"
        "main = sys.argv[1] == 'main'\n"
        "ctx = start_run({'seed': 5}, root='runs', main_process=main, seed=5)\n"
        "print(ctx.run_id, ctx.snapshot_path, ctx.config_sha256)\n"
        "if main:\n"
        "    for _ in range(2):\n"
        "        subprocess.run([sys.executable, 'job.py', 'job'], check=True)\n"
    )
    (tmp_path / "job.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    out = subprocess.run(
        [sys.executable, "job.py", "main"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    assert len(out) == 3 and len(set(out)) == 1
    run_id, snapshot, sha = out[0].split()
    assert snapshot == f"runs/{run_id}/config.snapshot.yaml"
    assert sha == sha256_file(tmp_path / snapshot)


def test_job_without_snapshot_fails(tmp_path: Path) -> None:
    env = {"SPECTRAMIND_RUN_ID": "20250101_000000"}
    with pytest.raises(ConfigError, match="snapshot"):
        start_run({}, root=tmp_path, main_process=False, environ=env)


def test_plan_run_writes_nothing_and_begin_run_claims_a_free_folder(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    context = plan_run({"seed": 1}, root=tmp_path / "runs", environ=env)
    assert not (tmp_path / "runs").exists()  # a dry run stops here: nothing to clean up
    assert env["SPECTRAMIND_RUN_ID"] == context.run_id and not context.pinned
    (tmp_path / "runs" / context.run_id).mkdir(parents=True)  # another invocation took it
    started = begin_run(context, {"seed": 1}, environ=env)
    assert started.run_id > context.run_id and env["SPECTRAMIND_RUN_ID"] == started.run_id
    assert started.config_sha256 == sha256_file(started.snapshot_path)

    pinned_env = {"SPECTRAMIND_RUN_ID": started.run_id}
    pinned = plan_run({"seed": 1}, root=tmp_path / "runs", environ=pinned_env)
    again = begin_run(pinned, {"seed": 1}, environ=pinned_env)  # e.g. the next `dvc repro` stage
    assert pinned.pinned and (again.run_id, again.snapshot_path) == (
        started.run_id,
        started.snapshot_path,
    )
    with pytest.raises(ConfigError, match="different config"):
        begin_run(pinned, {"seed": 2}, environ=pinned_env)
