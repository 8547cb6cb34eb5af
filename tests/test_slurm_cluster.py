"""Real single-node SLURM cluster: start it, run jobs and a tiny Snakemake workflow
through profiles/slurm, stop it and check nothing is left running.

Needs root (it installs slurm-wlm/munge with apt-get when missing and starts system
daemons); CI runs as root. Not root: skipped with an explicit reason. The cluster is the
session fixture ``slurm_cluster`` of conftest.py, shared with test_slurm_workflow.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="SLURM cluster test needs root (apt-get + system daemons); CI runs it as root",
)


def _sbatch_wait(tmp_path: Path, name: str, *args: str, command: str) -> str:
    out = tmp_path / f"{name}.out"
    proc = subprocess.run(
        ["sbatch", "--wait", "--parsable", "-J", name, "-o", str(out), *args, "--wrap", command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"sbatch {name} failed: {proc.stdout}\n{proc.stderr}"
    return out.read_text()


def test_cpu_job(slurm_cluster, tmp_path):
    text = _sbatch_wait(tmp_path, "cpu", command="echo JOB=$SLURM_JOB_ID PART=$SLURM_JOB_PARTITION")
    assert re.search(r"JOB=\d+ PART=cpu", text), text


def test_gpu_job_sees_fake_gpu(slurm_cluster, tmp_path):
    text = _sbatch_wait(
        tmp_path,
        "gpu",
        "-p",
        "gpu",
        "--gpus=1",
        command="echo JOB=$SLURM_JOB_ID CVD=${CUDA_VISIBLE_DEVICES:-unset}",
    )
    assert re.search(r"JOB=\d+ CVD=0\b", text), text


SNAKEFILE = textwrap.dedent(
    """
    localrules: all
    VISITS = ["v1", "v2", "v3"]

    rule all:
        input: "train.txt"
        output: "summary.txt"
        shell: "cat {input} > {output}; echo local SLURM_JOB_ID=${{SLURM_JOB_ID:-none}} >> {output}"

    # Same names as the real workflow's rules, so profiles/slurm applies its
    # grouping (calibrate) and GPU request (train) unchanged.
    rule calibrate:
        output: "calib/{visit}.txt"
        shell:
            "echo calibrate {wildcards.visit} SLURM_JOB_ID=$SLURM_JOB_ID"
            " PART=$SLURM_JOB_PARTITION > {output}"

    rule train:
        input: expand("calib/{visit}.txt", visit=VISITS)
        output: "train.txt"
        shell:
            "cat {input} > {output};"
            " echo train SLURM_JOB_ID=$SLURM_JOB_ID PART=$SLURM_JOB_PARTITION"
            " CVD=${{CUDA_VISIBLE_DEVICES:-unset}} >> {output};"
            " scontrol show job -d $SLURM_JOB_ID | grep -o 'GRES=gpu[^ ]*' >> {output}"
    """
)


def _node_cpus() -> int:
    out = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout
    return int(out.split()[0])


def test_snakemake_workflow_through_profile(slurm_cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(
        # test-speed knobs of profiles/slurm (defaults suit a real cluster)
        SPECTRAMIND_SLURM_STATUS_INTERVAL_S="1",
        SPECTRAMIND_SLURM_STATUS_INIT_S="1",
        SPECTRAMIND_SLURM_LATENCY_WAIT="5",
        SPECTRAMIND_SLURM_CORES_PER_JOB=str(_node_cpus()),
    )
    cmd = [
        sys.executable, "-m", "snakemake",
        "--workflow-profile", str(PROFILE),
        "--directory", str(tmp_path),
        "--snakefile", str(tmp_path / "Snakefile"),
        "--slurm-keep-successful-logs",
        "--verbose",
    ]  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    wall = time.monotonic() - t0
    print(f"tiny snakemake run on SLURM: {wall:.1f}s")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake failed (rc={proc.returncode}):\n{log[-6000:]}"

    calib = sorted((tmp_path / "calib").glob("*.txt"))
    assert len(calib) == 3
    calib_ids = {re.search(r"SLURM_JOB_ID=(\d+) PART=cpu", p.read_text()).group(1) for p in calib}
    # grouped: all three visits ran inside ONE SLURM job
    assert len(calib_ids) == 1, calib_ids

    train = (tmp_path / "train.txt").read_text()
    m = re.search(r"train SLURM_JOB_ID=(\d+) PART=gpu CVD=0\b", train)
    assert m, train
    # the allocation as slurmctld saw it while the job ran
    assert re.search(r"GRES=gpu:fake:1\(IDX:0\)", train), train
    train_id = m.group(1)
    assert train_id not in calib_ids

    summary = (tmp_path / "summary.txt").read_text()
    assert "local SLURM_JOB_ID=none" in summary  # the local rule ran outside SLURM

    # slurmctld saw both jobs (MinJobAge keeps finished jobs visible) and
    # allocated the GPU gres to train.
    (calib_id,) = calib_ids
    for job_id in (calib_id, train_id):
        show = subprocess.run(
            ["scontrol", "show", "job", job_id], capture_output=True, text=True
        ).stdout
        assert "JobState=COMPLETED" in show, show
        if job_id == train_id:
            assert "TresPerJob=gres:gpu:1" in show, show
            assert "Partition=gpu" in show, show
    assert "sbatch call:" in log and "--gpus=1" in log
