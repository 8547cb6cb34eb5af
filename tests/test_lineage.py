"""Tamper evidence along the lineage, with the real wrapper (``spectramind run-stage``).

A job consumes what an earlier recorded job produced: a changed byte in between makes the
consumer refuse before its command runs, naming the file and both hashes; ``runs verify`` checks
a run's inputs and the earlier runs it reused; a killed job shows as interrupted and leaves no
temporary file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spectramind.repro import lineage
from spectramind.repro.audit import list_runs, run_records, verify_run
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import read_records
from spectramind.repro.snapshot import freeze_config

R1, R2 = "20250301_000001", "20250301_000002"
WRITE = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_bytes(bytes(range(256)) * 40)"
COPY = (
    "import pathlib, sys; pathlib.Path(sys.argv[2]).write_bytes("
    "pathlib.Path(sys.argv[1]).read_bytes()[::-1]); pathlib.Path('ran').touch()"
)


def env_for(run_id: str, tmpdir: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    env["SPECTRAMIND_RUN_ID"] = run_id
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def stage(workdir: Path, run_id: str, name: str, *args: str, **kw) -> subprocess.CompletedProcess:
    snapshot, _ = freeze_config({"seed": 1}, run_id, workdir / "artifacts/runs")
    return subprocess.run(
        [sys.executable, "-m", "spectramind", "run-stage", "--stage", name,
         "--snapshot", str(snapshot.relative_to(workdir)), *args],
        cwd=workdir, env=env_for(run_id, kw.get("tmpdir")), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def make(workdir: Path, run_id: str = R1) -> subprocess.CompletedProcess:
    """Job 1: raw/in.txt -> out/a.bin."""
    (workdir / "raw").mkdir(exist_ok=True)
    if not (workdir / "raw/in.txt").exists():
        (workdir / "raw/in.txt").write_text("raw data\n")
    (workdir / "out").mkdir(exist_ok=True)
    return stage(
        workdir, run_id, "make", "--input", "raw/in.txt", "--output", "out/a.bin",
        "--", sys.executable, "-c", WRITE, "out/a.bin",
    )  # fmt: skip


def use(workdir: Path, run_id: str = R2, log: str | None = None) -> subprocess.CompletedProcess:
    """Job 2: out/a.bin -> out/b.bin (touches ``ran`` when its command runs)."""
    extra = ("--log", log) if log else ()
    return stage(
        workdir, run_id, "use", *extra, "--input", "out/a.bin", "--output", "out/b.bin",
        "--", sys.executable, "-c", COPY, "out/a.bin", "out/b.bin",
    )  # fmt: skip


def flip(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_changed_input_is_refused_naming_the_file_and_both_hashes(tmp_path: Path) -> None:
    assert make(tmp_path).returncode == 0
    recorded = sha256_file(tmp_path / "out/a.bin")
    flip(tmp_path / "out/a.bin")
    changed = sha256_file(tmp_path / "out/a.bin")

    refused = use(tmp_path)
    assert refused.returncode == 2
    assert not (tmp_path / "ran").exists()  # the command never ran
    message = refused.stderr
    assert "out/a.bin" in message and recorded in message and changed in message
    assert f"make run {R1}" in message
    [record] = read_records(tmp_path / f"artifacts/runs/use/{R2}/events.jsonl")
    assert record["status"] == "failed" and record["artifacts"] == []
    [mismatch] = record["error"]["input_mismatches"]
    assert (mismatch["expected_sha256"], mismatch["found_sha256"]) == (recorded, changed)

    flip(tmp_path / "out/a.bin")  # the recorded bytes again: accepted
    assert use(tmp_path).returncode == 0 and (tmp_path / "ran").exists()


def test_the_index_is_only_a_cache_of_the_records(tmp_path: Path) -> None:
    assert make(tmp_path).returncode == 0
    index = tmp_path / "artifacts/runs" / lineage.INDEX_DIR
    old_entries = {p: p.read_bytes() for p in index.rglob("*.json")}
    # A later run rebuilds out/a.bin with other bytes; its index entry is then lost.
    (tmp_path / "raw/in.txt").write_text("other raw data\n")
    other = tmp_path / "other.py"
    other.write_text("import pathlib, sys; pathlib.Path(sys.argv[1]).write_bytes(b'other' * 99)")
    result = stage(
        tmp_path, "20250301_000005", "make", "--input", "raw/in.txt", "--output", "out/a.bin",
        "--", sys.executable, str(other), "out/a.bin",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for path, data in old_entries.items():
        path.write_bytes(data)  # the index points at the older record again
    assert use(tmp_path).returncode == 0  # the latest record agrees with the file: accepted

    # Index deleted: rebuilt from the records, and a changed byte is refused again.
    for path in index.rglob("*"):
        if path.is_file():
            path.unlink()
    lineage.ensure_index(tmp_path / "artifacts/runs", base=tmp_path)
    flip(tmp_path / "out/a.bin", 3)
    assert use(tmp_path, run_id="20250301_000006").returncode == 2


def test_verify_a_file_that_travelled_against_its_record(tmp_path: Path) -> None:
    assert make(tmp_path).returncode == 0
    [record] = read_records(tmp_path / f"artifacts/runs/make/{R1}/events.jsonl")
    shipped = tmp_path / "bundle/model.bin"
    shipped.parent.mkdir()
    shipped.write_bytes((tmp_path / "out/a.bin").read_bytes())
    assert lineage.verify_against_record(shipped, record, recorded_path="out/a.bin") is None
    flip(shipped)
    mismatch = lineage.verify_against_record(shipped, record, recorded_path="out/a.bin")
    assert mismatch is not None and mismatch.found_sha256 == sha256_file(shipped)
    assert mismatch.expected_sha256 == record["artifacts"][0]["sha256"]
    assert str(shipped) in str(mismatch) and mismatch.expected_sha256 in str(mismatch)


def test_runs_verify_checks_inputs_and_the_runs_it_reused(tmp_path: Path) -> None:
    assert make(tmp_path, R1).returncode == 0
    assert use(tmp_path, R2).returncode == 0
    root = tmp_path / "artifacts/runs"
    report = verify_run(root, R2, base=tmp_path)
    assert report.ok, report.problems
    assert report.reused_runs == [R1]
    assert report.checked == 5  # b.bin, a.bin (R1's record), raw/in.txt, two snapshots

    flip(tmp_path / "out/a.bin")  # an output of the earlier run that R2 reused
    report = verify_run(root, R2, base=tmp_path)
    assert [(p.kind, p.path) for p in report.problems] == [("sha256", "out/a.bin")]
    flip(tmp_path / "out/a.bin")

    (tmp_path / "raw/in.txt").write_text("edited raw data\n")  # a consumed raw input
    cli = subprocess.run(
        [sys.executable, "-m", "spectramind", "runs", "verify"],
        cwd=tmp_path, env=env_for(R2), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 1
    assert "input: raw/in.txt" in cli.stdout and f"with outputs of runs {R1}" in cli.stdout


def test_a_killed_job_is_interrupted_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    snapshot, _ = freeze_config({"seed": 1}, R1, tmp_path / "artifacts/runs")
    job = subprocess.Popen(
        [sys.executable, "-m", "spectramind", "run-stage", "--stage", "calibrate",
         "--snapshot", str(snapshot.relative_to(tmp_path)), "--output", "out/c.bin", "--",
         sys.executable, "-c",
         "import time; from spectramind.repro.manifest import contribute;"
         "contribute(extra={'x': 1}); time.sleep(120)"],
        cwd=tmp_path, env=env_for(R1, private_tmp), start_new_session=True,
    )  # fmt: skip
    events = tmp_path / f"artifacts/runs/calibrate/{R1}/events.jsonl"
    deadline = time.monotonic() + 60
    while not (events.is_file() and events.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the command is running
    [running] = run_records(tmp_path / "artifacts/runs", R1)
    assert running["status"] == "running"
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)

    [record] = run_records(tmp_path / "artifacts/runs", R1)
    assert record["status"] == "interrupted" and record["artifacts"] == []
    [summary] = list_runs(tmp_path / "artifacts/runs")
    assert summary.status == "interrupted"
    assert list(private_tmp.iterdir()) == []


def test_a_failed_job_repeats_the_end_of_its_log_on_stderr(tmp_path: Path) -> None:
    result = stage(
        tmp_path, R1, "fit", "--log", "logs/fit.log", "--output", "out/f.bin", "--",
        sys.executable, "-c",
        "import sys; [print(f'line {i}', file=sys.stderr) for i in range(30)];"
        "sys.exit('planet 7: no transit found')",
    )  # fmt: skip
    assert result.returncode == 1
    assert "last lines of logs/fit.log" in result.stderr
    assert "planet 7: no transit found" in result.stderr and "line 29" in result.stderr
    assert "line 5\n" not in result.stderr  # the end, not the whole log
    assert "line 5\n" in (tmp_path / "logs/fit.log").read_text()


@pytest.mark.parametrize("name", ["visit_0.npz", "a[1].bin"])
def test_temporaries_of_a_killed_writer_are_removed_before_the_job(
    tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".{name}.k3j2h1.npz"
    stale.write_bytes(b"half")
    keep = out / ".other.npz.x1"
    keep.write_bytes(b"not ours")
    result = stage(
        tmp_path, R1, "calibrate", "--output", f"out/{name}", "--",
        sys.executable, "-c", WRITE, f"out/{name}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and keep.exists()
