"""The rule-level wrapper ``spectramind run-stage``, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import RECORD_FIELDS, read_records
from spectramind.repro.snapshot import freeze_config

RUN_ID = "20250102_030405"


def run_stage(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    full_env = {**os.environ, "SPECTRAMIND_RUN_ID": RUN_ID}
    for name in ("SPECTRAMIND_MANIFEST", "SPECTRAMIND_SNAPSHOT", "SPECTRAMIND_SEED"):
        full_env.pop(name, None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "spectramind", "run-stage", *args],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def events(tmp_path: Path, stage: str) -> list[dict]:
    return read_records(tmp_path / "artifacts/runs" / stage / RUN_ID / "events.jsonl")


def test_ok_record_has_every_field_and_true_hashes(tmp_path: Path) -> None:
    snapshot, snapshot_sha = freeze_config({"seed": 3}, RUN_ID, tmp_path / "artifacts/runs")
    (tmp_path / "in.txt").write_text("input bytes\n")
    result = run_stage(
        tmp_path,
        "--stage", "calibrate", "--rule", "calibrate_visit", "--seed", "3", "--threads", "2",
        "--snapshot", str(snapshot.relative_to(tmp_path)),
        "--wildcards", '{"planet_id": "42"}', "--wildcard", "split=train",
        "--input", "in.txt", "--output", "out/a.bin", "out/dir",
        "--", sys.executable, "-c",
        "import os, pathlib, sys; pathlib.Path('out/dir/sub').mkdir(parents=True);"
        "pathlib.Path('out/a.bin').write_bytes(os.urandom(3000000));"
        "pathlib.Path('out/dir/sub/b.txt').write_text(os.environ['OMP_NUM_THREADS']);"
        "print('progress line', file=sys.stderr)",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "progress line" in result.stderr
    [record] = events(tmp_path, "calibrate")
    assert set(RECORD_FIELDS) <= set(record)
    assert record["status"] == "ok" and record["error"] is None
    assert record["run_id"] == RUN_ID and record["rule"] == "calibrate_visit"
    assert record["wildcards"] == {"planet_id": "42", "split": "train"}
    assert record["seed"] == 3 and record["threads"]["threads"] == 2
    assert record["config_sha256"] == snapshot_sha == sha256_file(snapshot)
    assert record["workdir"] == str(tmp_path.resolve())
    assert record["torch_version"] and record["snakemake_version"]
    assert [a["path"] for a in record["artifacts"]] == ["out/a.bin", "out/dir/sub/b.txt"]
    for entry in record["artifacts"] + record["inputs"]:
        path = tmp_path / entry["path"]
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == sha256_file(path)
    assert (tmp_path / "out/dir/sub/b.txt").read_text() == "2"


def test_failure_writes_failed_record_removes_outputs_and_keeps_exit_code(tmp_path: Path) -> None:
    result = run_stage(
        tmp_path,
        "--stage", "train", "--output", "ckpt.pt",
        "--", sys.executable, "-c",
        "import sys; open('ckpt.pt', 'w').write('partial');"
        "print('CUDA out of memory', file=sys.stderr); sys.exit(3)",
    )  # fmt: skip
    assert result.returncode == 3
    assert not (tmp_path / "ckpt.pt").exists()
    [record] = events(tmp_path, "train")
    assert record["status"] == "failed" and record["artifacts"] == []
    assert record["error"]["exit_code"] == 3
    assert "CUDA out of memory" in record["error"]["stderr_tail"]
    assert record["error"]["removed_outputs"] == ["ckpt.pt"]


def test_missing_declared_output_is_a_failure(tmp_path: Path) -> None:
    result = run_stage(tmp_path, "--stage", "predict", "--output", "p.npz", "--", "true")
    assert result.returncode == 1
    [record] = events(tmp_path, "predict")
    assert record["status"] == "failed" and "p.npz" in record["error"]["message"]


def test_unstartable_command_is_recorded(tmp_path: Path) -> None:
    result = run_stage(tmp_path, "--stage", "submit", "--", "no-such-program-xyz")
    assert result.returncode == 127
    assert events(tmp_path, "submit")[0]["status"] == "failed"


def test_stage_contributes_determinism_settings_and_device(tmp_path: Path) -> None:
    code = (
        "from spectramind.repro.determinism import set_deterministic;"
        "from spectramind.repro.manifest import record_device;"
        "set_deterministic(11, use_torch=False); record_device('cpu')"
    )
    result = run_stage(
        tmp_path, "--stage", "train", "--threads", "1", "--", sys.executable, "-c", code
    )
    assert result.returncode == 0, result.stderr
    [record] = events(tmp_path, "train")
    assert record["threads"]["seed"] == 11 and record["threads"]["OMP_NUM_THREADS"] == "1"
    assert record["device"] == {"type": "cpu", "index": None}


def test_log_option_receives_stderr(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('to the log', file=sys.stderr)"]
    result = run_stage(tmp_path, "--stage", "s", "--log", "logs/s.log", "--", *cmd)
    assert result.returncode == 0
    assert "to the log" in (tmp_path / "logs/s.log").read_text()
    assert "to the log" not in result.stderr


def test_manifest_disabled_writes_no_record(tmp_path: Path) -> None:
    result = run_stage(
        tmp_path,
        "--stage", "calibrate", "--output", "o.txt", "--", "sh", "-c", "echo x > o.txt",
        env={"SPECTRAMIND_MANIFEST": "0"},
    )  # fmt: skip
    assert result.returncode == 0
    assert (tmp_path / "o.txt").exists()
    assert not (tmp_path / "artifacts").exists()


@pytest.mark.parametrize("bad", ["--run-id=2025", "--wildcards=[1]", "--snapshot=missing.yaml"])
def test_user_errors_exit_2_before_running(tmp_path: Path, bad: str) -> None:
    result = run_stage(tmp_path, "--stage", "s", bad, "--", "touch", "ran")
    assert result.returncode == 2
    assert not (tmp_path / "ran").exists()
    assert len(result.stderr.strip().splitlines()) == 1
