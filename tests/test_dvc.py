"""DVC lineage on top of Snakemake (dvc.yaml): declared stages, and the mechanism it relies on.

The mechanism test uses real dvc and real snakemake on a two-rule toy workflow, with stages
written the way dvc.yaml writes them (persist, --allowed-rules, --forcerun): DVC reruns only
the stale stage, and a plain `snakemake` run leaves `dvc status` clean.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]


def dvc_yaml() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))


def test_stages_declared_with_snakemake_commands():
    stages = dvc_yaml()["stages"]
    assert {"simulate", "calibrate", "train", "predict", "submit"} <= set(stages)
    for name, stage in stages.items():
        cmd = stage["cmd"]
        assert cmd.startswith("snakemake --cores 2 "), name
        assert "--allowed-rules" in cmd and "--forcerun" in cmd, name
        outs = stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", [])
        for out in outs:
            (path, options), *_ = out.items()
            assert options["persist"] is True, f"{name}: {path} must persist"
        assert any(str(d).startswith(("src/", "workflow/")) for d in stage["deps"]), name


def test_config_params_and_no_cache_for_big_outputs():
    stages = dvc_yaml()["stages"]
    params = {k for p in stages["simulate"]["params"] for k in p["config/config.yaml"]}
    assert {"data_dir", "simulate"} <= params
    assert "calibrate" in stages["calibrate"]["params"][0]["config/config.yaml"]
    for name, path in (("simulate", "data/synthetic"), ("calibrate", "artifacts/calib")):
        options = next(o[path] for o in stages[name]["outs"] if path in o)
        assert options["cache"] is False
    assert "artifacts/metrics/score.json" in stages["score"]["metrics"][0]
    assert dvc_yaml()["plots"]


def test_dvc_accepts_the_pipeline():
    proc = subprocess.run(["dvc", "stage", "list"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for stage in ("simulate", "calibrate", "fit", "train", "predict", "submit", "score"):
        assert stage in proc.stdout
    assert subprocess.run(["dvc", "config", "core.autostage"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip() == "false"  # fmt: skip


SNAKEFILE = """\
rule first:
    output:
        "out/a.txt",
    shell:
        "cat src/a.txt > {output}"


rule second:
    input:
        "out/a.txt",
    output:
        "out/b.txt",
    shell:
        "cat {input} src/b.txt > {output}"
"""

DVC_YAML = """\
stages:
  first:
    cmd: snakemake --cores 1 out/a.txt --allowed-rules first --forcerun first
    deps: [src/a.txt]
    outs:
      - out/a.txt:
          persist: true
          cache: false
  second:
    cmd: snakemake --cores 1 out/b.txt --allowed-rules second --forcerun second
    deps: [out/a.txt, src/b.txt]
    outs:
      - out/b.txt:
          persist: true
"""


def run(cmd: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_dvc_reruns_only_the_stale_stage_and_snakemake_run_keeps_status_clean(tmp_path):
    repo = tmp_path
    (repo / "src").mkdir()
    (repo / "src/a.txt").write_text("a\n", encoding="utf-8")
    (repo / "src/b.txt").write_text("b\n", encoding="utf-8")
    (repo / "Snakefile").write_text(SNAKEFILE, encoding="utf-8")
    (repo / "dvc.yaml").write_text(DVC_YAML, encoding="utf-8")
    (repo / ".gitignore").write_text(".snakemake/\n", encoding="utf-8")
    run([*GIT, "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    run(["dvc", "config", "core.autostage", "false"], repo)
    run(["dvc", "repro"], repo)
    assert (repo / "out/b.txt").read_text(encoding="utf-8") == "a\nb\n"
    lock = (repo / "dvc.lock").read_text(encoding="utf-8")
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo)
    # Only the second stage is stale: the first stage's output is not rebuilt.
    first_mtime = (repo / "out/a.txt").stat().st_mtime_ns
    (repo / "src/b.txt").write_text("b2\n", encoding="utf-8")
    out = run(["dvc", "repro"], repo)
    assert "Stage 'first' didn't change, skipping" in out
    assert (repo / "out/a.txt").stat().st_mtime_ns == first_mtime
    assert (repo / "out/b.txt").read_text(encoding="utf-8") == "a\nb2\n"
    # Plain snakemake from scratch reproduces the recorded bytes: status stays clean.
    (repo / "src/b.txt").write_text("b\n", encoding="utf-8")
    for path in ("out/a.txt", "out/b.txt"):
        (repo / path).unlink()
    run(["snakemake", "--cores", "1", "out/b.txt"], repo)
    run(["dvc", "commit", "-f"], repo)  # lineage only: records what snakemake made
    assert (repo / "dvc.lock").read_text(encoding="utf-8") == lock
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo)
