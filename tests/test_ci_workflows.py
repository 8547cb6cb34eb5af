"""GitHub workflows: zizmor and actionlint find nothing; actions pinned, least privilege."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
#: The only job allowed to write: it pushes the refreshed advisory snapshot and opens the PR.
WRITE_JOBS = {
    ("sbom-refresh.yml", "advisory-snapshot"): {"contents": "write", "pull-requests": "write"}
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_both_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "sbom-refresh.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_pinned_least_privilege_no_persisted_credentials(path):
    workflow = load(path)
    assert workflow["permissions"] == {}, "top-level permissions must be empty"
    for name, job in workflow["jobs"].items():
        expected = WRITE_JOBS.get((path.name, name), {"contents": "read"})
        assert job.get("permissions") == expected, name
        for step in job["steps"]:
            if "uses" not in step:
                continue
            assert SHA_PIN.match(step["uses"]), f"{name}: {step['uses']} not pinned by SHA"
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_zizmor_finds_nothing():
    proc = subprocess.run(
        ["zizmor", "--offline", "--persona=pedantic", "--no-progress", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint not installed")
def test_actionlint_finds_nothing():
    proc = subprocess.run(
        ["actionlint", *map(str, WORKFLOWS)], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_runs_the_required_jobs():
    text = (REPO / ".github/workflows/ci.yml").read_text(encoding="utf-8")
    for command in (
        "ruff check",
        "snakefmt --check",
        "snakemake --lint",
        "pytest",
        "--configfile config/tiny.yaml",
        "spectramind determinism-check",
        "--cross-cpu lower",
        'eval "$(spectramind cpu-profile lower)"',
        "dvc repro",
        "dvc status",
        "git diff --exit-code dvc.lock",
        "spectramind compliance",
    ):
        assert command in text, command
    refresh = load(REPO / ".github/workflows/sbom-refresh.yml")
    assert "schedule" in refresh[True] and "push" in refresh[True]  # YAML 1.1: on -> True
    refresh_text = (REPO / ".github/workflows/sbom-refresh.yml").read_text(encoding="utf-8")
    assert "spectramind sbom" in refresh_text and "--require-cve-scan" in refresh_text
    assert "pip-audit" in refresh_text  # the online cross-check stays
    snapshot_job = refresh["jobs"]["advisory-snapshot"]
    assert snapshot_job["if"] == "github.event_name != 'push'"  # weekly / on demand only
    steps = "\n".join(step.get("run", "") for step in snapshot_job["steps"])
    for command in ("spectramind cve refresh", "spectramind cve check", "gh pr create"):
        assert command in steps, command


def test_ci_run_checks_the_crate_and_the_offline_cve_gate_without_network():
    text = (REPO / ".ci/run").read_text(encoding="utf-8")
    assert "unshare -n" in text and "spectramind cve check" in text
    assert "tests/data/old-pins.lock" in text  # the gate must fail on it
    assert 'spectramind runs export "$run_id"' in text and "--validate" in text
    assert (REPO / "tests/data/old-pins.lock").is_file()
