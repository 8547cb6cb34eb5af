"""`spectramind determinism-check` on a toy workflow (real snakemake, real git, temp copies).

The real tiny workflow is run by CI's determinism job; here a two-second workflow shows the
check passes when outputs depend only on the seed and fails when they do not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spectramind.repro.cpu import PROFILES

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]

SNAKEFILE = """\
configfile: "config/config.yaml"


rule submission:
    output:
        "artifacts/submission/submission.csv",
    params:
        seed=config["seed"],
    shell:
        "echo planet,{params.seed} {EXTRA} > {output}"
"""


def toy_repo(tmp_path: Path, extra: str) -> Path:
    repo = tmp_path / "repo"
    (repo / "config").mkdir(parents=True)
    (repo / "Snakefile").write_text(SNAKEFILE.replace("{EXTRA}", extra), encoding="utf-8")
    (repo / "config/config.yaml").write_text("seed: 5\n", encoding="utf-8")
    (repo / ".gitignore").write_text("/artifacts/\n.snakemake/\n", encoding="utf-8")
    subprocess.run([*GIT, "init", "-q"], cwd=repo, check=True)
    # Stale outputs in the repo must not reach the copies: the runs start from scratch.
    (repo / "artifacts/submission").mkdir(parents=True)
    (repo / "artifacts/submission/submission.csv").write_text("stale\n", encoding="utf-8")
    return repo


def native_env() -> dict[str, str]:
    """This process's environment without SPECTRAMIND_* and without the lower profile's
    variables (the tests may run under that profile; the first run must not)."""
    emulated = set(PROFILES["lower"]["env"])
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SPECTRAMIND_") and k not in emulated
    }


def run_check(
    repo: Path,
    tmp_path: Path,
    *extra: str,
    target: str = "artifacts/submission/submission.csv",
) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "spectramind", "determinism-check", "--repo", str(repo),
            "--cores", "1", "--target", target,
            "--out", str(out), "--workdir", str(tmp_path / "runs"), *extra,
        ],
        capture_output=True,
        text=True,
        env=native_env(),
    )  # fmt: skip
    return proc, json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}


def test_seed_only_outputs_pass(tmp_path):
    proc, result = run_check(toy_repo(tmp_path, ""), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["passed"] and result["seed"] == 5 and result["other_seed"] == 6
    hashes = result["outputs"]["artifacts/submission/submission.csv"]
    assert hashes["first"] == hashes["second"] != hashes["other_seed"]
    assert "determinism: PASS" in proc.stdout


def test_nondeterministic_output_fails(tmp_path):
    proc, result = run_check(toy_repo(tmp_path, "$(date +%s%N)"), tmp_path)
    assert proc.returncode == 1
    assert not result["passed"]
    assert result["same_seed_mismatches"][0].startswith("artifacts/submission/submission.csv")
    assert "determinism: FAIL" in proc.stdout


# A score that moves by 2e-9 (relative) on the emulated CPU: MKL_ENABLE_INSTRUCTIONS is set by the
# lower profile and, unlike the pinned variables, left alone by spectramind.
SCORE_SNAKEFILE = """\
import json, os

configfile: "config/config.yaml"


rule score:
    output:
        "artifacts/metrics/score.json",
    run:
        delta = 1e-10 if os.environ.get("MKL_ENABLE_INSTRUCTIONS") else 0.0
        with open(output[0], "w") as out:
            json.dump({"score": config["seed"] / 10 + delta}, out)
"""


def test_cross_cpu_identical_outputs_pass_with_a_table(tmp_path):
    proc, result = run_check(toy_repo(tmp_path, ""), tmp_path, "--cross-cpu")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cross = result["cross_cpu"]
    assert cross["passed"] and cross["profile"] == "lower" and cross["threads"] == 2
    row = cross["outputs"]["artifacts/submission/submission.csv"]
    assert (
        row["native"]
        == row["emulated"]
        == result["outputs"]["artifacts/submission/submission.csv"]["first"]
    )
    assert row["status"] == "identical"
    assert cross["env"]["ATEN_CPU_CAPABILITY"] == "default"
    table = [line for line in proc.stdout.splitlines() if "submission.csv" in line]
    assert any(row["native"][:16] in line and line.endswith("identical") for line in table)
    assert "cross-CPU: PASS (1 identical, 0 within tolerance, 0 different" in proc.stdout


def test_cross_cpu_difference_fails_naming_output(tmp_path):
    # Left alone by the kernel pin, set by the lower profile only (braces doubled for snakemake).
    repo = toy_repo(tmp_path, "${{MKL_ENABLE_INSTRUCTIONS:-}}")
    proc, result = run_check(repo, tmp_path, "--cross-cpu")
    assert proc.returncode == 1
    assert not result["passed"] and not result["cross_cpu"]["passed"]
    assert result["same_seed_mismatches"] == []  # the same seed alone still agrees
    assert result["cross_cpu"]["mismatches"][0].startswith("artifacts/submission/submission.csv")
    assert "cross-CPU: FAIL" in proc.stdout and "determinism: FAIL" in proc.stdout


def test_cross_cpu_tolerance_is_explicit_and_measured(tmp_path):
    repo = toy_repo(tmp_path, "")
    (repo / "Snakefile").write_text(SCORE_SNAKEFILE, encoding="utf-8")
    target = "artifacts/metrics/score.json"
    proc, result = run_check(repo, tmp_path, "--cross-cpu", target=target)
    assert proc.returncode == 1  # undeclared: a difference of 2e-10 is a failure
    diff = result["cross_cpu"]["differences"][target]
    assert 1e-10 < diff["max_rel"] < 3e-10 and "max rel 2e-10" in proc.stdout

    proc, result = run_check(
        repo, tmp_path, "--cross-cpu", "--tolerance", "artifacts/metrics/*.json=1e-9", target=target
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["cross_cpu"]["outputs"][target]["status"] == "within tolerance"
    assert "within tolerance (max abs" in proc.stdout
    assert "declared tolerances: artifacts/metrics/*.json (rel 1e-09)" in proc.stdout

    proc, _ = run_check(repo, tmp_path, "--cross-cpu", "--tolerance", "nonsense", target=target)
    assert proc.returncode == 2 and "GLOB=REL" in proc.stderr


def test_cross_cpu_fails_when_a_stage_escaped_the_pin_and_measures_npz(tmp_path):
    from spectramind.determinism_check import CrossCpuResult, measure_difference, stage_kernels

    events = tmp_path / "run/artifacts/runs/train/20260101_000000/events.jsonl"
    events.parent.mkdir(parents=True)
    kernels = {"pin": True, "aten_cpu_capability": "AVX2", "mkl_cbwr_branch": "COMPATIBLE"}
    events.write_text(json.dumps({"stage": "train", "extra": {"cpu_kernels": kernels}}) + "\n")
    found = stage_kernels(tmp_path / "run")
    assert found == {"train": kernels}
    cross = CrossCpuResult("lower", {}, 2, outputs={"a.npz": {"native": "x", "emulated": "x"}})
    assert cross.passed
    cross.kernels = {"native": found}
    assert not cross.passed
    assert cross.pin_problems == [
        "native run, stage train: aten_cpu_capability is AVX2, the pin wants DEFAULT"
    ]

    np.savez(tmp_path / "a.npz", mu=np.array([1.0, 2.0]), planet_id=np.array([1, 2]))
    np.savez(tmp_path / "b.npz", mu=np.array([1.0, 2.0 + 2e-12]), planet_id=np.array([1, 2]))
    diff = measure_difference(tmp_path / "a.npz", tmp_path / "b.npz")
    assert diff["where"] == "mu" and diff["max_rel"] == pytest.approx(1e-12, rel=1e-3)
