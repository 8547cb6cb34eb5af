"""DVC lineage on top of Snakemake: dvc.yaml is derived from the workflow, and the mechanism.

- The committed dvc.yaml is exactly what `spectramind lineage` derives from the workflow (real
  Snakemake, a scratch copy of the repository), and the check fails, naming the stage and the
  file, when one dependency is dropped.
- The derivation's parts on small inputs: the import closure (imports inside functions, relative
  imports, package __init__), the config keys a rule reads, output folders, overlapping rules.
- The mechanism, with real dvc and real snakemake on a two-rule toy workflow written the way
  dvc.yaml writes stages (persist, --allowed-rules, --forcerun): DVC reruns only the stale stage,
  and a plain `snakemake` run leaves `dvc status` clean.
"""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from spectramind.lineage import (
    LineageError,
    _commands_run,
    _group_rules,
    _params,
    compare,
    out_path,
)
from spectramind.lineage.imports import import_closure, subcommand_modules
from spectramind.lineage.workflow_source import WHOLE, WorkflowSource

REPO = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
DROPPED = "src/spectramind/metric.py"  # imported by the train stage (model.data, model.train)


def dvc_yaml() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))


def drop_dependency(text: str, stage: str, dep: str) -> str:
    """``text`` with ``dep`` removed from ``stage``'s deps only."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"  {stage}:\n")
    index = lines.index(f"      - {dep}\n", start)
    return "".join(lines[:index] + lines[index + 1 :])


@pytest.fixture(scope="module")
def check_of_dropped_dependency(tmp_path_factory) -> subprocess.CompletedProcess:
    """`spectramind lineage --check` on the committed dvc.yaml less one train dependency."""
    tampered = tmp_path_factory.mktemp("lineage") / "dvc.yaml"
    committed = (REPO / "dvc.yaml").read_text(encoding="utf-8")
    tampered.write_text(drop_dependency(committed, "train", DROPPED), encoding="utf-8")
    cmd = ["spectramind", "lineage", "--check", "--repo", str(REPO), "--dvc-yaml", str(tampered)]
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.mark.slow
def test_check_fails_naming_the_dropped_dependency(check_of_dropped_dependency):
    proc = check_of_dropped_dependency
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"stage train: dependency missing: {DROPPED}" in proc.stdout


@pytest.mark.slow
def test_committed_dvc_yaml_is_the_derived_one(check_of_dropped_dependency):
    """The only difference the check finds is the dropped line: the rest is derived."""
    proc = check_of_dropped_dependency
    changed = [
        line
        for line in proc.stdout.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [f"+      - {DROPPED}"], proc.stdout


def test_the_check_diff_shows_one_dropped_line_among_repeated_ones():
    """Dependencies that most stages list are over 1 % of dvc.yaml (difflib's "popular" lines,
    which its default matcher ignores); one dropped from one stage must still read as that one
    line, not as whole stages moved (fast: the committed file against itself less one line)."""
    committed = (REPO / "dvc.yaml").read_text(encoding="utf-8")
    lines = compare(drop_dependency(committed, "train", DROPPED), committed)
    assert f"  stage train: dependency missing: {DROPPED}" in lines
    changed = [line for line in lines if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == [f"+      - {DROPPED}"]


def test_stages_run_their_rules_and_persist_uncached_outputs():
    stages = dvc_yaml()["stages"]
    assert {"simulate", "calibrate", "fit", "train", "predict", "submit", "score"} <= set(stages)
    for name, stage in stages.items():
        cmd = stage["cmd"]
        assert cmd.startswith("snakemake --cores 2 "), name
        assert f"--allowed-rules {name}" in cmd and f"--forcerun {name}" in cmd, name
        for out in stage["outs"]:
            (path, options), *_ = out.items()
            assert options == {"cache": False, "persist": True}, f"{name}: {path}"
        assert not {"metrics", "plots"} & set(stage), "lineage only"


def test_stages_list_what_they_import_read_and_consume():
    """The gaps of the hand-written file (issue 14): metric, validation (now holdout.py) and
    data/ were missing."""
    stages = dvc_yaml()["stages"]
    code = "src/spectramind/"
    for name in ("train", "predict", "submit"):
        deps = stages[name]["deps"]
        shared = ("artifacts/predictions.py", "artifacts/tables.py", "data/reader.py", "io.py")
        model = ("metric.py", "holdout.py") if name != "submit" else ()  # model/data.py's
        for module in (*shared, *model, "cli.py"):
            assert code + module in deps, f"{name}: {module}"
        assert {"Snakefile", "workflow/rules/common.smk", "schemas/config.schema.yaml"} <= set(deps)
    assert code + "model/train.py" in stages["train"]["deps"]  # imported inside run()
    assert not any(d.startswith(code + "model/") for d in stages["calibrate"]["deps"])
    assert not any("simulate/" in d for d in stages["fit"]["deps"])
    assert {"artifacts/fit", "data/synthetic"} <= set(stages["train"]["deps"])
    assert "schemas/submission.tableschema.sample_id.json" in stages["submit"]["deps"]
    params = {k for p in stages["calibrate"]["params"] for k in p["config/config.yaml"]}
    assert {"calibrate.preset", "calibrate.steps", "data_dir"} <= params
    params = {k for p in stages["simulate"]["params"] for k in p["config/config.yaml"]}
    # Every simulate key, one by one or as the whole section (get_simulate_variant_args reads
    # config["simulate"] with .get, which the derivation records as the section): the same set.
    assert params in ({f"simulate.{k}" for k in dvc_config()["simulate"]}, {"simulate"})
    assert "artifacts/report/timings.png" not in str(stages["report_figures"]["outs"])
    # The fit never used the seed: a seed change must not make every planet's fit stale.
    params = {k for p in stages["fit"]["params"] for k in p["config/config.yaml"]}
    assert "seed" not in params and "fit" in params


@pytest.mark.parametrize("path", [".ci/run", ".github/workflows/ci.yml", ".pre-commit-config.yaml"])
def test_ci_and_pre_commit_check_the_lineage(path):
    assert "spectramind lineage --check" in (REPO / path).read_text(encoding="utf-8")


def dvc_config() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text(encoding="utf-8"))


def test_dvc_accepts_the_pipeline():
    proc = subprocess.run(["dvc", "stage", "list"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for stage in dvc_yaml()["stages"]:
        assert stage in proc.stdout
    assert subprocess.run(["dvc", "config", "core.autostage"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip() == "false"  # fmt: skip


# -- the derivation's parts ----------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_import_closure_follows_every_import_statement(tmp_path):
    write(tmp_path / "pkg/__init__.py", "")
    write(tmp_path / "pkg/cmd.py", "import os\n\ndef run():\n    from pkg.sub import lazy\n")
    write(tmp_path / "pkg/sub/__init__.py", "from . import helper\n")
    write(tmp_path / "pkg/sub/lazy.py", "from ..leaf import x\n")
    write(tmp_path / "pkg/sub/helper.py", "")
    write(tmp_path / "pkg/leaf.py", "x = 1\n")
    write(tmp_path / "pkg/unused.py", "")
    closure = import_closure(tmp_path, ["pkg.cmd"])
    assert closure == {"pkg", "pkg.cmd", "pkg.sub", "pkg.sub.lazy", "pkg.sub.helper", "pkg.leaf"}


def test_subcommands_map_to_the_module_that_adds_them():
    found = subcommand_modules(REPO / "src", "spectramind")
    assert found["run-stage"] == "spectramind.commands.run_stage"
    assert found["determinism-check"] == "spectramind.commands.determinism"
    assert found["lineage"] == "spectramind.commands.lineage"
    assert found["check"] == "spectramind.commands.cve"  # a sub-action, added by add_command


def test_a_rule_running_a_subcommand_no_module_adds_is_refused():
    scripts = {"spectramind": "spectramind.cli"}
    subcommands = {"fit": "spectramind.commands.fit"}
    assert _commands_run("spectramind -v fit --out {output:q}", scripts, subcommands) == {
        "spectramind.cli",
        "spectramind.commands.fit",
    }
    with pytest.raises(LineageError, match="runs `spectramind fitt`, but no module"):
        _commands_run("spectramind fitt --out {output:q}", scripts, subcommands)


RULES = """\
SIMULATED = config["data_dir"] == ""
def get_dataset(wildcards):
    return "data" if SIMULATED else config["data_dir"]
def get_range(key):
    low, high = config["fit"][key]
    return f"{low} {high}"
def get_everything():
    return json.dumps(config)
@workflow.rule(name='one', lineno=1, snakefile='x.smk')
@workflow.input(get_dataset)
@workflow.threads(config["threads"])
@workflow.params(a=config["a"]["b"], r=get_range("r"), g=config.get("g"))
def __rule_one(input, output):
    shell("true")
@workflow.rule(name='two', lineno=9, snakefile='x.smk')
@workflow.params(e=get_everything())
def __rule_two(input, output):
    shell("true")
"""


def test_config_keys_are_read_off_the_rule_directives():
    source = WorkflowSource({"x.smk": RULES})
    assert source.rule_config_keys("one") == {("data_dir",), ("threads",), ("a", "b"), ("fit",),
                                              ("g",)}  # fmt: skip
    assert source.rule_config_keys("two") == {WHOLE}
    ast.parse(RULES)  # the snippet is the compiled form Snakemake produces


def test_params_are_cut_to_the_keys_the_config_file_spells_out():
    config = {"a": {"b": 1}, "fit": {"r": [0, 1]}, "threads": 1}
    assert _params({("a", "b", "c"), ("threads",)}, config, "c.yaml") == [("a", "b"), ("threads",)]
    assert _params({("fit",), ("fit", "r")}, config, "c.yaml") == [("fit",)]
    assert _params({WHOLE, ("a", "b")}, config, "c.yaml") == [WHOLE]
    with pytest.raises(LineageError, match="'missing'"):
        _params({("missing",)}, config, "c.yaml")


def test_outs_are_cut_before_the_first_wildcard_and_overlaps_merge():
    assert out_path("artifacts/fit/{split,train|test}/{planet_id}.npz") == "artifacts/fit"
    assert out_path("artifacts/ckpt/model.pt") == "artifacts/ckpt/model.pt"
    with pytest.raises(LineageError):
        out_path("{sample}.txt")
    groups = _group_rules({"a": ["out/x"], "b": ["out/y"], "c": ["out"], "d": ["other"]})
    assert groups == [["a", "b", "c"], ["d"]]


# -- the mechanism -------------------------------------------------------------------------


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
