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


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_both_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "sbom-refresh.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_pinned_least_privilege_no_persisted_credentials(path):
    workflow = load(path)
    assert workflow["permissions"] == {}, "top-level permissions must be empty"
    for name, job in workflow["jobs"].items():
        assert job.get("permissions") == {"contents": "read"}, name
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
