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


GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]


def record(tmp_path: Path, run_id: str, stage: str, out: str) -> None:
    """One run-stage record of ``stage`` in run ``run_id`` writing ``out``."""
    snapshot, _ = freeze_config({"seed": 1}, run_id, tmp_path / "artifacts/runs")
    result = cli(
        tmp_path,
        "run-stage", "--stage", stage, "--snapshot", str(snapshot.relative_to(tmp_path)),
        "--output", out, "--", sys.executable, "-c",
        "import os, pathlib, sys; p = pathlib.Path(sys.argv[1]);"
        "p.parent.mkdir(parents=True, exist_ok=True); p.write_bytes(os.urandom(512))", out,
        run_id=run_id,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_prune_keeps_the_last_n_runs_per_branch_and_every_current_record(tmp_path: Path) -> None:
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("/artifacts/\n")
    subprocess.run([*GIT, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "init"], cwd=tmp_path, check=True)
    r1, r2, r3, r4, r5 = (f"20250101_00000{i}" for i in range(1, 6))
    # main: two planets calibrated in two runs (both files current), train rebuilt three times
    record(tmp_path, r1, "calibrate", "artifacts/calib/a.bin")
    record(tmp_path, r1, "train", "artifacts/model.bin")
    record(tmp_path, r2, "calibrate", "artifacts/calib/b.bin")
    record(tmp_path, r2, "train", "artifacts/model.bin")
    record(tmp_path, r3, "train", "artifacts/model.bin")
    # exp: fit rebuilt twice
    subprocess.run([*GIT, "checkout", "-q", "-b", "exp"], cwd=tmp_path, check=True)
    record(tmp_path, r4, "fit", "artifacts/fit.bin")
    record(tmp_path, r5, "fit", "artifacts/fit.bin")
    root = tmp_path / "artifacts/runs"
    listing = cli(tmp_path, "runs", "list").stdout
    assert f"{r3}  ok           main" in listing and f"{r5}  ok           exp" in listing

    dry = cli(tmp_path, "runs", "prune", "--keep", "1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    expected = [
        f"would remove artifacts/runs/{folder}"
        for folder in (f"fit/{r4}", f"train/{r1}", f"train/{r2}", r4)
    ]
    assert dry.stdout.splitlines() == expected  # each once
    assert "would remove" not in dry.stderr
    assert len(stage_runs(root)["train"]) == 3

    result = cli(tmp_path, "runs", "prune", "--keep", "1")
    assert result.returncode == 0, result.stderr
    # a.bin and b.bin are current: their records (and snapshots) stay though the runs are old
    assert stage_runs(root) == {"calibrate": [r1, r2], "fit": [r5], "train": [r3]}
    snapshots = sorted(p.name for p in root.iterdir() if p.name.startswith("2025"))
    assert snapshots == [r1, r2, r3, r5]
    for run_id in (r1, r2, r3, r5):
        assert cli(tmp_path, "runs", "verify", run_id).returncode == 0
    assert prune_runs(root, keep=1, base=tmp_path) == []  # nothing more to remove
    assert cli(tmp_path, "runs", "prune", "--keep", "0").returncode == 2


def test_list_verify_and_compliance_report_a_damaged_line_and_go_on(tmp_path: Path) -> None:
    run_id = "20250101_000001"
    record_run(tmp_path, run_id)
    events = Path("artifacts/runs/train") / run_id / "events.jsonl"
    with (tmp_path / events).open("ab") as handle:
        handle.write(b'{"status": "ok", "run_id": "2025\n')  # a line left by a full disk
    record_run(tmp_path, run_id, stages=("train",))  # later records still count
    damaged = f"{events}:3: damaged record"

    listing = cli(tmp_path, "runs", "list")
    assert listing.returncode == 0 and "train (2 ok)" in listing.stdout
    assert damaged in listing.stderr and "Traceback" not in listing.stderr
    verify = cli(tmp_path, "runs", "verify")
    assert verify.returncode == 0 and damaged in verify.stderr
    gate = cli(tmp_path, "compliance", run_id)
    assert gate.returncode == 1 and "Traceback" not in gate.stderr
    assert "FAIL events" in gate.stdout and damaged in gate.stdout
