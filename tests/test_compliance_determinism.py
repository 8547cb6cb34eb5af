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


def run_check(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "spectramind", "determinism-check", "--repo", str(repo),
            "--cores", "1", "--target", "artifacts/submission/submission.csv",
            "--out", str(out), "--workdir", str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")},
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
