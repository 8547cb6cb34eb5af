"""``spectramind runs list|verify|prune`` on runs recorded by the real wrapper."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spectramind.repro.audit import prune_runs, stage_runs
from spectramind.repro.snapshot import freeze_config


def cli(tmp_path: Path, *args: str, run_id: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    if run_id:
        env["SPECTRAMIND_RUN_ID"] = run_id
    return subprocess.run(
        [sys.executable, "-m", "spectramind", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def record_run(tmp_path: Path, run_id: str, stages: tuple[str, ...] = ("calibrate", "train")):
    snapshot, _ = freeze_config({"seed": 1}, run_id, tmp_path / "artifacts/runs")
    for stage in stages:
        out = f"artifacts/{stage}/{stage}.bin"
        code = f"import os, pathlib; pathlib.Path('{out}').write_bytes(os.urandom(2048))"
        result = cli(
            tmp_path,
            "run-stage", "--stage", stage, "--snapshot", str(snapshot.relative_to(tmp_path)),
            "--output", out, "--", sys.executable, "-c",
            f"import pathlib; pathlib.Path('{out}').parent.mkdir(parents=True, exist_ok=True);"
            + code,
            run_id=run_id,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr


def test_verify_passes_clean_and_fails_after_one_byte_changes(tmp_path: Path) -> None:
    record_run(tmp_path, "20250101_000001")
    clean = cli(tmp_path, "runs", "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "20250101_000001: 3 files checked: OK" in clean.stdout

    artifact = tmp_path / "artifacts/train/train.bin"
    data = bytearray(artifact.read_bytes())
    data[100] ^= 0x01
    artifact.write_bytes(bytes(data))
    tampered = cli(tmp_path, "runs", "verify", "20250101_000001")
    assert tampered.returncode == 1
    assert "sha256: artifacts/train/train.bin" in tampered.stdout

    (tmp_path / "artifacts/calibrate/calibrate.bin").unlink()
    missing = cli(tmp_path, "runs", "verify")
    assert (
        missing.returncode == 1 and "missing: artifacts/calibrate/calibrate.bin" in missing.stdout
    )


def test_verify_detects_a_changed_snapshot(tmp_path: Path) -> None:
    record_run(tmp_path, "20250101_000001", stages=("train",))
    snapshot = tmp_path / "artifacts/runs/20250101_000001/config.snapshot.yaml"
    snapshot.chmod(0o644)
    snapshot.write_text("seed: 2\n")
    result = cli(tmp_path, "runs", "verify")
    assert result.returncode == 1 and "snapshot" in result.stdout


def test_verify_unknown_run_is_a_user_error(tmp_path: Path) -> None:
    result = cli(tmp_path, "runs", "verify", "20990101_000000")
    assert result.returncode == 2


def test_list_shows_runs_stages_and_status(tmp_path: Path) -> None:
    record_run(tmp_path, "20250101_000001")
    failed = cli(tmp_path, "run-stage", "--stage", "train", "--", "false", run_id="20250101_000002")
    assert failed.returncode == 1
    lines = cli(tmp_path, "runs", "list").stdout.splitlines()
    assert lines[0].startswith("20250101_000001  ok") and "calibrate (1 ok)" in lines[0]
    assert lines[1].startswith("20250101_000002  failed") and "train (1 failed)" in lines[1]


def test_prune_keeps_the_last_n_runs_per_stage(tmp_path: Path) -> None:
    for second in range(1, 5):
        record_run(tmp_path, f"20250101_00000{second}", stages=("train",))
    record_run(tmp_path, "20250101_000005", stages=("calibrate",))
    root = tmp_path / "artifacts/runs"
    assert prune_runs(root, keep=2, dry_run=True) and len(stage_runs(root)["train"]) == 4

    result = cli(tmp_path, "runs", "prune", "--keep", "2")
    assert result.returncode == 0, result.stderr
    assert stage_runs(root) == {
        "calibrate": ["20250101_000005"],
        "train": ["20250101_000003", "20250101_000004"],
    }
    snapshots = sorted(p.name for p in root.iterdir() if p.name.startswith("2025"))
    assert snapshots == ["20250101_000003", "20250101_000004", "20250101_000005"]
    assert cli(tmp_path, "runs", "prune", "--keep", "0").returncode == 2
