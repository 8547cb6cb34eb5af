"""Fault injection on the real workflow (issue 12): crashes, a full disk, hostile paths, tampering.

Every case runs real ``snakemake`` on the tiny data (tests/conftest.py ``tiny_dataset``, copied
as a user's ``data_dir``) and checks what the user would see:

- ``hostile``: a ``data_dir`` whose path has a space, both quotes, ``;`` and ``$( )``, killed with
  SIGKILL (the whole process group) while calibrate jobs run, then recovered the documented way
  (``snakemake --unlock``, then the same command; the profile has ``rerun-incomplete``). The
  resumed workspace is then cloned to flip a byte in a calibrated file and in the checkpoint.
- a tmpfs mounted as ``artifacts/`` that fills up mid-run (root only; CI runs as root), then the
  resume once space is back;
- preflight: a missing ``data_dir``, a bad calibration step name, ``--cores 0``: refused in one
  line before any job, also in dry runs;
- dry runs, ``--lint``, ``--report`` and a failed parse leave no run folder behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from workflow_helpers import copy_workflow, environment, mounted_tmpfs, snakemake, spectramind

from spectramind import compliance, plan
from spectramind.repro.audit import all_run_ids, list_runs, run_records
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import read_records

OVERLAY = ("--configfile", "tests/workflow_tiny.yaml")
# A space, both quotes, ';' and '$( )': a shell that sees it unquoted splits it, breaks on the
# quote, or runs `touch PWNED` in the workflow folder.
HOSTILE_NAME = "my data 'q\" ;$(touch PWNED)"
MARKER = "PWNED"
CHECKPOINT = "artifacts/ckpt/model.pt"
SUBMISSION = "artifacts/submission/submission.csv"


def data_config(workdir: Path, data_dir: Path) -> tuple[str, ...]:
    """``--configfile`` with ``data_dir`` (YAML-quoted, as a user would write it); put targets
    before these (``--configfile`` takes several values)."""
    (workdir / "data_dir.yaml").write_text(yaml.safe_dump({"data_dir": str(data_dir)}))
    return (*OVERLAY, "--configfile", "data_dir.yaml")


def markers(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob(MARKER)]


def flip_byte(path: Path) -> tuple[str, str]:
    """Flip one bit in the middle of ``path``; return (sha256 before, after)."""
    before = sha256_file(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return before, sha256_file(path)


def events_lines(workdir: Path) -> list[tuple[Path, bytes]]:
    """Every line of every events file, a last line without its newline included."""
    found = []
    for path in sorted((workdir / "artifacts/runs").glob("*/*/events.jsonl")):
        lines = path.read_bytes().split(b"\n")
        found += [(path, line) for line in lines[:-1]]
        if lines[-1]:
            found.append((path, lines[-1]))  # torn: never parses as a whole line
    return found


def wait_for_calibrate_midway(workdir: Path, proc: subprocess.Popen, timeout: float) -> None:
    """Until a calibrate job runs that started after another one finished (so snakemake has
    registered that one as complete and a resume can reuse its output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the workflow ended before it could be killed"
        for path in (workdir / "artifacts/runs/calibrate").glob("*/events.jsonl"):
            lines = read_records(path, raw=True)
            finished = {r["attempt"] for r in lines if r["status"] != "started"}
            first_ok = next((i for i, r in enumerate(lines) if r["status"] == "ok"), None)
            if first_ok is not None and any(
                r["status"] == "started" and r["attempt"] not in finished for r in lines[first_ok:]
            ):
                return
        time.sleep(0.1)
    raise AssertionError("no calibrate job started after another finished")


@dataclass
class Resumed:
    """A hostile-path workspace killed mid-calibration, then recovered and finished."""

    workdir: Path
    data: Path
    config: tuple[str, ...]
    tmpdir: Path
    killed_run: str
    resumed_run: str
    locked: subprocess.CompletedProcess
    resumed: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Resumed:
    base = tmp_path_factory.mktemp("hostile")
    data = base / HOSTILE_NAME / "adc 2025"
    shutil.copytree(tiny_dataset, data)
    workdir = copy_workflow(base / "repo", git=True)
    config = data_config(workdir, data)
    tmpdir = base / "tmp"
    tmpdir.mkdir()
    env = {**environment(), "TMPDIR": str(tmpdir)}
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *config]
    proc = subprocess.Popen(
        command, cwd=workdir, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_calibrate_midway(workdir, proc, timeout=900)
    finally:
        with contextlib.suppress(ProcessLookupError):  # snakemake and every job: a crash
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    [killed_run] = all_run_ids(workdir / "artifacts/runs")

    def again(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=1800
        )

    locked = again()
    unlock = again("--unlock")
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    resumed = again()
    assert resumed.returncode == 0, resumed.stderr[-5000:]
    [resumed_run] = set(all_run_ids(workdir / "artifacts/runs")) - {killed_run}
    return Resumed(workdir, data, config, tmpdir, killed_run, resumed_run, locked, resumed)


def clone(run: Resumed, dest: Path) -> Path:
    shutil.copytree(run.workdir, dest, symlinks=True)
    return dest


def test_a_hostile_data_dir_path_works_and_never_runs_as_code(hostile: Resumed) -> None:
    workdir = hostile.workdir
    assert (workdir / SUBMISSION).is_file()
    assert not markers(workdir, hostile.data.parents[1], Path.cwd())
    records = run_records(workdir / "artifacts/runs", hostile.resumed_run)
    calibrate = [r for r in records if r["stage"] == "calibrate"]
    assert calibrate and all(r["status"] == "ok" for r in records)
    # the path reached the stage as one intact argument
    command = calibrate[0]["command"]
    assert command[command.index("--data-dir") + 1] == str(hostile.data)
    assert any(e["path"].startswith(str(hostile.data)) for e in calibrate[0]["inputs"])


def test_a_killed_run_is_interrupted_and_its_resume_passes_compliance(hostile: Resumed) -> None:
    workdir, root = hostile.workdir, hostile.workdir / "artifacts/runs"
    # recovery is the documented one: the lock a SIGKILL leaves names --unlock
    assert hostile.locked.returncode != 0 and "--unlock" in hostile.locked.stderr
    summaries = {s.run_id: s for s in list_runs(root)}
    assert summaries[hostile.killed_run].status == "interrupted"
    assert summaries[hostile.resumed_run].status == "ok"
    killed = run_records(root, hostile.killed_run)
    assert {r["status"] for r in killed} >= {"ok", "interrupted"}
    # every line of every events file is a whole JSON record
    for path, line in events_lines(workdir):
        assert isinstance(json.loads(line), dict), path
    # the resume reused the killed run's finished calibrations and verifies against them
    events = compliance.check_events(root, hostile.resumed_run, workdir)
    assert events.passed, events.problems
    assert f"reused from {hostile.killed_run}" in events.summary
    assert compliance.check_snapshot(root, hostile.resumed_run).passed
    artifacts = compliance.check_artifacts(root, hostile.resumed_run, workdir)
    assert artifacts.passed, artifacts.problems
    assert not compliance.check_events(root, hostile.killed_run, workdir).passed
    # no temporary record file, nor an atomic-write leftover, was left behind
    assert [p.name for p in hostile.tmpdir.iterdir() if "spectramind" in p.name] == []
    assert not [p for p in (workdir / "artifacts").rglob(".*.npz*")]


def test_a_flipped_byte_in_a_calibrated_file_is_refused_and_reported(
    hostile: Resumed, tmp_path: Path
) -> None:
    workdir = clone(hostile, tmp_path / "ws")
    target = sorted((workdir / "artifacts/calib/train").rglob("visit_0.npz"))[0]
    recorded, changed = flip_byte(target)
    relative = str(target.relative_to(workdir))
    planet = target.parent.name
    rerun = snakemake(workdir, plan.fit_path("train", planet), *hostile.config)
    assert rerun.returncode != 0
    assert f"refusing to use {relative}: sha256 {changed}" in rerun.stderr
    assert f"recorded sha256 {recorded}" in rerun.stderr
    verify = spectramind(workdir, "runs", "verify", hostile.resumed_run)
    assert verify.returncode == 1 and f"sha256: {relative}" in verify.stdout


def test_a_flipped_byte_in_the_checkpoint_is_refused_by_predict(
    hostile: Resumed, tmp_path: Path
) -> None:
    workdir = clone(hostile, tmp_path / "ws")
    submission = sha256_file(workdir / SUBMISSION)
    recorded, changed = flip_byte(workdir / CHECKPOINT)
    rerun = snakemake(workdir, SUBMISSION, *hostile.config)
    assert rerun.returncode != 0
    assert f"refusing to use {CHECKPOINT}: sha256 {changed}" in rerun.stderr
    assert f"train run {hostile.resumed_run}" in rerun.stderr
    assert not (workdir / SUBMISSION).exists() or sha256_file(workdir / SUBMISSION) == submission
    fits = sorted(str(p.relative_to(workdir)) for p in (workdir / "artifacts/fit/test").iterdir())
    direct = spectramind(
        workdir, "predict", "--ckpt", CHECKPOINT, "--features", *fits,
        "--star-info", str(hostile.data / "test_star_info.csv"), "--out", "direct.npz",
    )  # fmt: skip
    assert direct.returncode == 2 and not (workdir / "direct.npz").exists()
    assert changed in direct.stderr and recorded in direct.stderr
    verify = spectramind(workdir, "runs", "verify")
    assert verify.returncode == 1 and f"sha256: {CHECKPOINT}" in verify.stdout


def test_dry_run_lint_report_and_failed_parse_leave_no_run_folder(
    hostile: Resumed, tmp_path: Path
) -> None:
    workdir = clone(hostile, tmp_path / "ws")
    root = workdir / "artifacts/runs"
    before = sorted(p.name for p in root.iterdir())
    for args in (
        (*hostile.config, "-n", "--forcerun", "train"),
        ("--lint",),
        (*hostile.config, "--report", "artifacts/report.html"),
        (*hostile.config, "--config", "unknwon_key=1"),
    ):
        snakemake(workdir, *args)
        assert sorted(p.name for p in root.iterdir()) == before, args
    assert (workdir / "artifacts/report.html").is_file()


# --- preflight: one line before any job ----------------------------------------------------------


def test_a_missing_data_dir_is_refused_in_one_line_like_validate(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path / "repo")
    missing = tmp_path / "no such folder"
    config = data_config(workdir, missing)
    validate = spectramind(workdir, "validate", "--data-dir", str(missing))
    assert validate.returncode == 2
    message = validate.stderr.strip().split("spectramind: ", 1)[1]
    assert message == f"{missing}: expected a data directory, found none"
    for args in (("-n",), ()):
        result = snakemake(workdir, *config, *args, timeout=300)
        assert result.returncode == 2, result.stderr[-2000:]
        assert f"error: {message}" in result.stderr.splitlines()
        assert "Traceback" not in result.stderr and "Exception" not in result.stderr
    assert not (workdir / "artifacts").exists() and not (workdir / "logs").exists()


def test_an_unknown_calibration_step_is_refused_by_the_dry_run(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path / "repo")
    (workdir / "bad.yaml").write_text("calibrate:\n  steps:\n    linearty: {skip: true}\n")
    result = snakemake(workdir, *OVERLAY, "--configfile", "bad.yaml", "-n", timeout=300)
    assert result.returncode == 2
    assert "unknown step 'linearty'" in result.stderr and "Traceback" not in result.stderr
    (workdir / "bad.yaml").write_text("calibrate:\n  steps:\n    linearity: {degre: 3}\n")
    result = snakemake(workdir, *OVERLAY, "--configfile", "bad.yaml", "-n", timeout=300)
    assert result.returncode == 2 and "degre" in result.stderr
    assert not (workdir / "artifacts").exists() and not (workdir / "data").exists()


def test_cores_0_is_refused_instead_of_waiting_forever(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path / "repo")
    result = snakemake(workdir, *OVERLAY, cores=0, timeout=300)
    assert result.returncode == 2
    assert "error: --cores 0: expected at least 1 core" in result.stderr
    assert not (workdir / "artifacts").exists()


# --- a full disk mid-run ------------------------------------------------------------------------


@pytest.fixture
def tmpfs_artifacts(tmp_path: Path):
    """``artifacts/`` of a fresh workflow copy on a 4 MiB tmpfs (root only; CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    workdir = copy_workflow(tmp_path / "repo")
    artifacts = workdir / "artifacts"
    artifacts.mkdir()
    with mounted_tmpfs(artifacts, "4m"):
        yield workdir


def hog_space(filler: Path, stop: threading.Event) -> None:
    """Keep the filesystem of ``filler`` full: take every page as soon as it is freed."""
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while not stop.is_set():
            try:
                os.write(fd, b"\0" * 4096)
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
                time.sleep(0.0005)
    finally:
        os.close(fd)


def test_a_disk_that_fills_mid_run_leaves_whole_records_and_the_run_resumes(
    tmpfs_artifacts: Path, tiny_dataset: Path
) -> None:
    workdir = tmpfs_artifacts
    config = data_config(workdir, tiny_dataset)
    root = workdir / "artifacts/runs"
    output = (workdir / "snakemake.out").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", *config, "--until", "calibrate"],
        cwd=workdir, env=environment(), stdout=output, stderr=subprocess.STDOUT,
    )  # fmt: skip
    stop = threading.Event()
    hog = threading.Thread(target=hog_space, args=(workdir / "artifacts/filler", stop))
    try:
        deadline = time.monotonic() + 900
        while not any(b'"status":"ok"' in p.read_bytes() for p in root.glob("*/*/events.jsonl")):
            assert proc.poll() is None and time.monotonic() < deadline, "no job finished"
            time.sleep(0.1)
        hog.start()  # the disk fills mid-run and stays full: every later write runs out
        assert proc.wait(timeout=1800) != 0
    finally:
        stop.set()
        if hog.is_alive():
            hog.join()
        output.close()
    log = (workdir / "snakemake.out").read_text()
    assert "No space left on device" in log
    for path, line in events_lines(workdir):
        assert isinstance(json.loads(line), dict), path  # whole lines only, none torn
    assert all(p.read_bytes().endswith(b"\n") for p in root.glob("*/*/events.jsonl"))
    [first] = all_run_ids(root)
    records = run_records(root, first)
    # The run did not complete: some visit has no ok record (its job failed or was cut short,
    # or could not even write its `started` line on the full disk), or a record says so.
    visits = sum(
        len(v) for s in ("train", "test") for v in plan.planet_visits(tiny_dataset, s).values()
    )
    ok_jobs = {json.dumps(r["wildcards"], sort_keys=True) for r in records if r["status"] == "ok"}
    assert len(ok_jobs) < visits or any(r["status"] != "ok" for r in records)
    listing = spectramind(workdir, "runs", "list")
    assert listing.returncode == 0 and first in listing.stdout, listing.stderr
    # An output can be gone although its record is ok (snakemake removes the outputs of a job
    # whose benchmark file could not be written): verify says so, without crashing.
    verify = spectramind(workdir, "runs", "verify", first)
    assert verify.returncode in (0, 1) and "files checked" in verify.stdout, verify.stderr
    assert all(line.startswith("missing: ") for line in verify.stdout.splitlines()[:-1])
    # no output without its record, and no half-written output
    recorded = {a["path"] for r in records if r["status"] == "ok" for a in r["artifacts"]}
    calibrated = {str(p.relative_to(workdir)) for p in (workdir / "artifacts/calib").rglob("*")}
    assert {p for p in calibrated if p.endswith(".npz")} <= recorded
    assert not [p for p in calibrated if Path(p).name.startswith(".")]

    (workdir / "artifacts/filler").unlink()
    resumed = snakemake(workdir, *config, "--until", "calibrate", timeout=1800)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    [second] = set(all_run_ids(root)) - {first}
    for run_id in (first, second):  # the redone visits have the same bytes as recorded first
        verify = spectramind(workdir, "runs", "verify", run_id)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    assert len(list((workdir / "artifacts/calib").rglob("visit_*.npz"))) == visits
