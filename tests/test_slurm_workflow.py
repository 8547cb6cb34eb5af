"""The real workflow on a real (single-node) SLURM cluster through profiles/slurm.

Runs the tiny config (config/tiny.yaml + tests/slurm_tiny.yaml) twice, in two temporary copies of
the workflow: once through ``snakemake --workflow-profile profiles/slurm`` and once locally
(``snakemake --cores 2``), then checks:

- every job of a non-local rule ran as a SLURM job: its manifest record carries a SLURM job id that
  slurmctld knows (``scontrol show job``; MinJobAge keeps finished jobs, there is no sacct), and
  local rules (Snakefile ``localrules``) carry none;
- the profile's groups: calibrate + fit of several planets share one job, train + predict +
  predict_holdout share one GPU job, and that job had the (fake) GPU gres allocated
  (``CUDA_VISIBLE_DEVICES=0`` in the train record, gres/gpu in scontrol) while torch (CPU-only, no
  real device) fell back to CPU: ``--device auto`` recorded ``device.type == "cpu"``;
- all records of the run share one run id;
- the outputs (dataset, calibrated and fit files, checkpoint, predictions, submission.csv,
  score.json) are byte-identical to the local run.

Needs root (the ``slurm_cluster`` fixture of conftest.py starts the cluster); skipped otherwise.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spectramind.repro.manifest import read_records

REPO = Path(__file__).resolve().parents[1]
OVERLAY = Path(__file__).with_name("slurm_tiny.yaml")
# What a workflow run needs from the repository (no data, no artifacts, no .snakemake).
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "schemas", "envs", "profiles")
CONFIGFILES = ("config/tiny.yaml", "slurm_tiny.yaml")
LOCAL_RULES = {"simulate", "score", "submit", "report_figures"}
REMOTE_RULES = {"calibrate", "fit_select", "fit", "train", "predict", "predict_holdout"}
GPU_RULES = {"train", "predict", "predict_holdout"}
# Outputs that must not depend on where the jobs ran (the report's timings figure does).
COMPARED = ("data", "artifacts/calib", "artifacts/fit", "artifacts/ckpt", "artifacts/preds",
            "artifacts/submission", "artifacts/metrics")  # fmt: skip
# Test-speed knobs of profiles/slurm (its defaults suit a real cluster, docs/slurm.md).
SLURM_TEST_ENV = {
    # Poll squeue every 5 s; the plugin adds 10 s after each poll where no job finished.
    "SPECTRAMIND_SLURM_STATUS_INTERVAL_S": "5",
    "SPECTRAMIND_SLURM_STATUS_INIT_S": "5",
    "SPECTRAMIND_SLURM_LATENCY_WAIT": "5",
    # 4 planets -> 2 planet groups, which run side by side on the 2-CPU CI node.
    "SPECTRAMIND_SLURM_PLANETS_PER_JOB": "2",
}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="SLURM workflow test needs root (apt-get + system daemons); CI runs it as root",
)


def _workflow_copy(root: Path) -> Path:
    root.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root / name)
    shutil.copy2(OVERLAY, root / "slurm_tiny.yaml")
    return root


def _env(**extra: str) -> dict[str, str]:
    # No inherited run id/settings or GPU mask: each run starts its own run id.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPECTRAMIND_", "SLURM_", "SBATCH_", "SRUN_"))
        and k != "CUDA_VISIBLE_DEVICES"
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _snakemake(workdir: Path, *args: str, env: dict[str, str]) -> subprocess.Popen:
    log = open(workdir / "snakemake.out", "w")  # the child keeps its own copy of the descriptor
    cmd = [sys.executable, "-m", "snakemake", "--configfiles", *CONFIGFILES, *args]
    try:
        return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def _wait(proc: subprocess.Popen, workdir: Path, what: str, timeout: float) -> None:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rc = "timeout"
    log = (workdir / "snakemake.out").read_text()
    assert rc == 0, f"{what} snakemake failed (rc={rc}):\n{log[-8000:]}"


def _records(workdir: Path) -> list[dict]:
    records = []
    for path in sorted((workdir / "artifacts/runs").glob("*/*/events.jsonl")):
        records += read_records(path)
    return records


def _digests(workdir: Path) -> dict[str, str]:
    out = {}
    for top in COMPARED:
        for path in sorted((workdir / top).rglob("*")):
            if path.is_file():
                out[str(path.relative_to(workdir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _scontrol(job_id: str) -> str:
    proc = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    assert proc.returncode == 0, f"scontrol does not know job {job_id}: {proc.stderr}"
    return proc.stdout


def test_tiny_workflow_on_slurm_matches_local_run(slurm_cluster, tmp_path):
    slurm_dir = _workflow_copy(tmp_path / "slurm")
    local_dir = _workflow_copy(tmp_path / "local")

    # The local run goes side by side with the SLURM one: the SLURM run mostly waits (queue,
    # status polls), so the test takes about as long as the SLURM run alone.
    t0 = time.monotonic()
    slurm = _snakemake(
        slurm_dir,
        "--workflow-profile", "profiles/slurm",
        "--slurm-keep-successful-logs",
        env=_env(**SLURM_TEST_ENV),
    )  # fmt: skip
    local = _snakemake(local_dir, "--cores", "2", env=_env())
    try:
        _wait(local, local_dir, "local", timeout=600)
        t_local = time.monotonic() - t0
        _wait(slurm, slurm_dir, "SLURM", timeout=600 - t_local)
        t_slurm = time.monotonic() - t0
    finally:
        for proc in (slurm, local):  # a failed run must not leave the other one behind
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
    print(f"\ntiny workflow: SLURM {t_slurm:.1f}s, local {t_local:.1f}s (side by side)")

    records = _records(slurm_dir)
    assert records, "the SLURM run wrote no manifest records"
    assert all(r["status"] == "ok" for r in records)
    # One run id for the whole invocation, also across SLURM jobs.
    run_ids = {r["run_id"] for r in records}
    assert len(run_ids) == 1, run_ids
    assert {p.name for p in (slurm_dir / "artifacts/runs").iterdir() if p.is_dir()} >= run_ids

    rules = {r["rule"] for r in records}
    assert rules == LOCAL_RULES | REMOTE_RULES, rules
    by_rule: dict[str, list[dict]] = {}
    for r in records:
        by_rule.setdefault(r["rule"], []).append(r)

    # Local rules ran on the submitting host, everything else as a SLURM job.
    for rule in LOCAL_RULES:
        for r in by_rule[rule]:
            assert r["cluster_job_id"] is None, (rule, r["cluster_job_id"])
    job_ids: dict[str, set[str]] = {}
    for rule in REMOTE_RULES:
        for r in by_rule[rule]:
            assert re.fullmatch(r"\d+", str(r["cluster_job_id"] or "")), (rule, r)
            job_ids.setdefault(rule, set()).add(r["cluster_job_id"])

    # Groups (profiles/slurm): the calibrate jobs of up to 2 planets per job, the fits of up to
    # 2 planets per job (after the one fit_select job), the model stage in one.
    n_planets = len(by_rule["fit"])
    assert len(job_ids["fit"]) == -(-n_planets // 2), (n_planets, job_ids["fit"])
    assert len(job_ids["calibrate"]) == -(-n_planets // 2), (n_planets, job_ids["calibrate"])
    assert len(job_ids["fit_select"]) == 1
    planet_jobs = job_ids["calibrate"] | job_ids["fit"] | job_ids["fit_select"]
    assert len(planet_jobs) == len(job_ids["calibrate"]) + len(job_ids["fit"]) + 1
    model_jobs = set().union(*(job_ids[rule] for rule in GPU_RULES))
    assert len(model_jobs) == 1 and not model_jobs & planet_jobs, (model_jobs, planet_jobs)

    # slurmctld saw every job (finished jobs stay for MinJobAge; there is no sacct).
    for job_id in planet_jobs:
        show = _scontrol(job_id)
        assert "JobState=COMPLETED" in show and "Partition=cpu" in show, show
    (model_job,) = model_jobs
    show = _scontrol(model_job)
    assert "JobState=COMPLETED" in show and "Partition=gpu" in show, show
    assert re.search(r"TresPerJob=\S*gres(:|/)gpu:1", show), show

    # The GPU gres reached the model jobs; torch saw no usable CUDA device (fake gres, CPU-only
    # build) and `--device auto` fell back to CPU, as the records say. CPU jobs got no GPU.
    for rule in GPU_RULES:
        for r in by_rule[rule]:
            assert r["cuda_visible_devices"] == "0", (rule, r["cuda_visible_devices"])
            assert r["device"] is not None and r["device"]["type"] == "cpu", (rule, r["device"])
    for rule in ("calibrate", "fit_select", "fit"):
        for r in by_rule[rule]:
            assert r["cuda_visible_devices"] is None, (rule, r["cuda_visible_devices"])

    # Same bytes as the local run, wherever the jobs ran.
    slurm_files, local_files = _digests(slurm_dir), _digests(local_dir)
    for name in ("artifacts/ckpt/model.pt", "artifacts/preds/test.npz",
                 "artifacts/preds/holdout.npz", "artifacts/submission/submission.csv",
                 "artifacts/metrics/score.json"):  # fmt: skip
        assert name in slurm_files, name
    assert any(n.startswith("artifacts/calib/") for n in slurm_files)
    assert any(n.startswith("artifacts/fit/") for n in slurm_files)
    assert slurm_files.keys() == local_files.keys()
    differ = sorted(n for n in slurm_files if slurm_files[n] != local_files[n])
    assert not differ, f"SLURM and local outputs differ: {differ}"
    local_records = _records(local_dir)
    assert all(r["cluster_job_id"] is None for r in local_records)
    assert {r["device"]["type"] for r in local_records if r["rule"] in GPU_RULES} == {"cpu"}
