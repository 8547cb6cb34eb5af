"""The pre-commit hook that forbids non-CLI entry points (src/spectramind/hooks.py).

Run through real `pre-commit` with the repository's .pre-commit-config.yaml in a temp git repo,
and directly on the real workflow (which must pass).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spectramind.hooks import check_file

REPO = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]

GOOD_RULE = """\
rule calibrate:
    output:
        "artifacts/calib/x.npz",
    shell:
        "spectramind run-stage --stage calibrate -- spectramind calibrate --out {output}"
"""

OFFENDERS = {
    "workflow/rules/run.smk": 'rule a:\n    output:\n        "x",\n    run:\n        print(1)\n',
    "workflow/rules/script.smk": 'rule a:\n    script:\n        "s.py"\n',
    "workflow/rules/notebook.smk": 'rule a:\n    notebook:\n        "n.py.ipynb"\n',
    "workflow/rules/wrapper.smk": 'rule a:\n    wrapper:\n        "v1/bio/fastqc"\n',
    "workflow/rules/python_m.smk": (
        'rule a:\n    shell:\n        "python -m spectramind.calibrate --out {output}"\n'
    ),
    "workflow/rules/python_script.smk": 'rule a:\n    shell:\n        "python3 scripts/fit.py"\n',
    "Snakefile": "rule b:\n    shell:\n        \"python -c 'import spectramind'\"\n",
    "workflow/scripts/fit_all.py": (
        "from spectramind.physics.fit import fit_planet\n\nfit_planet('1')\n"
    ),
    "scripts/train_now.py": "from spectramind import model\n\nmodel.train(None)\n",
    "scripts/run_calib.sh": "#!/bin/sh\npython -m spectramind calibrate --out x\n",
}


@pytest.mark.parametrize("name", sorted(OFFENDERS))
def test_check_file_rejects_offenders(tmp_path, name):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OFFENDERS[name], encoding="utf-8")
    assert check_file(path), name


def test_check_file_accepts_cli_calls_and_opt_out(tmp_path):
    (tmp_path / "workflow/rules").mkdir(parents=True)
    (tmp_path / "scripts").mkdir()
    rule = tmp_path / "workflow/rules/good.smk"
    rule.write_text(GOOD_RULE, encoding="utf-8")
    script = tmp_path / "scripts/go.py"
    script.write_text(
        "import sys\n\nfrom spectramind.cli import main\n\nsys.exit(main(['simulate']))\n",
        encoding="utf-8",
    )
    allowed = tmp_path / "scripts/bench.sh"
    allowed.write_text("python bench.py  # cli-entrypoints: allow (timing only)\n", "utf-8")
    assert check_file(rule) == [] and check_file(script) == [] and check_file(allowed) == []


def test_real_workflow_and_scripts_pass():
    files = [REPO / "Snakefile", *sorted((REPO / "workflow").rglob("*.smk"))]
    files += [p for d in ("workflow", "scripts") for p in sorted((REPO / d).rglob("*.py"))]
    files += sorted((REPO / "scripts").glob("*.sh"))
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts/check_cli_entrypoints.py"), *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def _precommit_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "workflow/rules").mkdir(parents=True)
    shutil.copy(REPO / ".pre-commit-config.yaml", repo)
    shutil.copy(REPO / "scripts/check_cli_entrypoints.py", repo / "scripts")
    (repo / "workflow/rules/good.smk").write_text(GOOD_RULE, encoding="utf-8")
    subprocess.run([*GIT, "init", "-q"], cwd=repo, check=True)
    return repo


def _run_hook(repo: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    return subprocess.run(
        ["pre-commit", "run", "cli-entrypoints", "--all-files"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )


def test_precommit_hook_accepts_then_rejects_offending_rule(tmp_path):
    repo = _precommit_repo(tmp_path)
    ok = _run_hook(repo, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (repo / "workflow/rules/bad.smk").write_text(OFFENDERS["workflow/rules/run.smk"], "utf-8")
    (repo / "scripts/fit_all.py").write_text(OFFENDERS["workflow/scripts/fit_all.py"], "utf-8")
    bad = _run_hook(repo, tmp_path)
    assert bad.returncode == 1
    assert "workflow/rules/bad.smk:4: `run:` runs code outside the CLI" in bad.stdout
    assert "scripts/fit_all.py:1: imports pipeline module spectramind.physics.fit" in bad.stdout
