"""The real Snakemake workflow (issue 5 acceptance), run in temporary copies of the repository.

No mocks: every check reads what ``snakemake`` and the ``spectramind`` stages wrote. The tiny
overlay ``tests/workflow_tiny.yaml`` (4 train + 1 test planets, 1% of the real frames) runs once
per module (``tiny_run``, a git repository so records carry a commit); the other runs work on
copies of that finished workspace (``--forcerun``, a single calibration, another seed), on a
real-data-style folder made from its simulated dataset (a failure, ``--until calibrate``, the
resume), or fresh (``--cores 1``, invalid configs). See ``workflow_helpers`` for the harness.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from workflow_helpers import REPO, copy_workflow, snakemake, spectramind

from spectramind import plan
from spectramind.repro.audit import run_records, stage_runs
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import RECORD_FIELDS

OVERLAY = ("--configfile", "tests/workflow_tiny.yaml")
STAGES = {"simulate", "calibrate", "fit", "train", "predict", "submit", "score", "report"}
DOWNSTREAM_OF_TRAIN = {"train", "predict", "predict_holdout", "score", "submit", "report_figures"}
# The required record fields, on top of spectramind.repro.manifest.RECORD_FIELDS.
REQUIRED = {
    "time_utc", "stage", "command", "seed", "workdir", "git_commit", "config_snapshot_path",
    "config_sha256", "cuda_version", "torch_version", "artifacts", "rule", "wildcards", "inputs",
    "duration_s", "status", "host", "threads", "snakemake_version", "cluster_job_id",
}  # fmt: skip
CHECKPOINT = "artifacts/ckpt/model.pt"
SUBMISSION = "artifacts/submission/submission.csv"
FIXED_OUTPUTS = (
    CHECKPOINT,
    SUBMISSION,
    "artifacts/preds/test.npz",
    "artifacts/preds/holdout.npz",
    "artifacts/metrics/score.json",
    "artifacts/report/light_curves.png",
    "artifacts/report/spectra.png",
    "artifacts/report/timings.png",
    "data/synthetic.truth.csv",
)


@dataclass
class Run:
    """One finished ``snakemake`` invocation: its workspace, process result and run id."""

    workdir: Path
    result: subprocess.CompletedProcess
    run_id: str

    def records(self) -> list[dict]:
        return run_records(self.workdir / "artifacts/runs", self.run_id)

    def sha(self, path: str) -> str:
        return sha256_file(self.workdir / path)


def _new_run_id(workdir: Path, before: set[str]) -> str:
    runs = {r for rs in stage_runs(workdir / "artifacts/runs").values() for r in rs} - before
    assert len(runs) == 1, f"expected records of exactly one new run, found {sorted(runs)}"
    return runs.pop()


def _run_ids(workdir: Path) -> set[str]:
    return {r for rs in stage_runs(workdir / "artifacts/runs").values() for r in rs}


def run_workflow(workdir: Path, *args: str, cores: int = 2, ok: bool = True) -> Run:
    before = _run_ids(workdir)
    result = snakemake(workdir, *args, cores=cores)
    if ok:
        assert result.returncode == 0, result.stderr[-4000:]
    return Run(workdir, result, _new_run_id(workdir, before))


def clone(run: Run, dest: Path) -> Path:
    """A copy of a finished workspace (times kept, so snakemake sees it up to date)."""
    shutil.copytree(run.workdir, dest, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow") / "repo", git=True)
    return run_workflow(workdir, *OVERLAY)


def expected_outputs(data_dir: Path) -> list[str]:
    paths = []
    for split in ("train", "test"):
        for planet_id, visits in plan.planet_visits(data_dir, split).items():
            paths.append(plan.fit_path(split, planet_id))
            paths.extend(plan.calibrated_path(split, planet_id, v) for v in visits)
    return paths


# --- one clean run --------------------------------------------------------------------------


def test_all_outputs_exist(tiny_run: Run) -> None:
    workdir = tiny_run.workdir
    data = workdir / "data/synthetic"
    per_planet = expected_outputs(data)
    assert any(p.endswith("visit_1.npz") for p in per_planet), "no two-visit planet simulated"
    missing = [p for p in (*FIXED_OUTPUTS, *per_planet) if not (workdir / p).is_file()]
    assert not missing
    # every job left its log and benchmark
    for path in per_planet:
        folder, rest = path.removeprefix("artifacts/").removesuffix(".npz").split("/", 1)
        stage = "calibrate" if folder == "calib" else folder
        assert (workdir / "artifacts/benchmarks" / stage / f"{rest}.tsv").is_file(), path
        assert (workdir / "logs" / stage / f"{rest}.log").is_file(), path


def test_every_stage_records_one_run(tiny_run: Run) -> None:
    root = tiny_run.workdir / "artifacts/runs"
    runs = stage_runs(root)
    assert set(runs) == STAGES
    for stage in STAGES:
        assert runs[stage] == [tiny_run.run_id]
        assert (root / stage / tiny_run.run_id / "events.jsonl").is_file()
    records = tiny_run.records()
    assert {r["run_id"] for r in records} == {tiny_run.run_id}
    assert {r["config_snapshot_path"] for r in records} == {
        f"artifacts/runs/{tiny_run.run_id}/config.snapshot.yaml"
    }
    n_visits = len(list((tiny_run.workdir / "artifacts/calib").rglob("*.npz")))
    n_planets = len(list((tiny_run.workdir / "artifacts/fit").rglob("*.npz")))
    # one record per job: simulate, visits, fit_select, planets, train, 2 predicts, submit,
    # score, report
    assert len(records) == 1 + n_visits + 1 + n_planets + 6
    assert sum(r["rule"] == "fit_select" for r in records) == 1


def test_records_are_complete_and_match_the_files(tiny_run: Run) -> None:
    workdir = tiny_run.workdir
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=workdir, capture_output=True, text=True, check=True
    ).stdout.strip()
    snapshot = workdir / "artifacts/runs" / tiny_run.run_id / "config.snapshot.yaml"
    config = yaml.safe_load(snapshot.read_text())
    assert config["simulate"]["train"] == 4 and config["manifest"] is True  # overlay + defaults
    snapshot_sha = sha256_file(snapshot)
    for record in tiny_run.records():
        where = f"{record['rule']} {record['wildcards']}"
        assert REQUIRED <= set(record) and set(RECORD_FIELDS) <= set(record), where
        assert record["status"] == "ok" and record["error"] is None, where
        assert record["config_sha256"] == snapshot_sha, where
        assert record["git_commit"] == head, where
        assert record["seed"] == 1234 and record["workdir"] == str(workdir.resolve())
        assert record["snakemake_version"] and record["torch_version"]
        assert record["cluster_job_id"] is None and "cuda_version" in record
        assert record["command"][0] == "spectramind" and record["duration_s"] > 0
        assert record["threads"] and record["host"]
        # issue 15: each job is one process, started pinned (no restart, no second interpreter)
        assert record["runner"] == "in-process", where
        assert record["extra"]["cpu_kernels"]["libm_fma_masked"] is True, where
        if record["rule"] in {"calibrate", "fit"}:
            assert set(record["wildcards"]) >= {"split", "planet_id"}, where
        assert record["artifacts"], where
        for entry in (*record["artifacts"], *record["inputs"]):
            path = workdir / entry["path"]
            assert path.stat().st_size == entry["size"], entry["path"]
            assert sha256_file(path) == entry["sha256"], entry["path"]
    by_rule = {r["rule"]: r for r in tiny_run.records()}
    assert {a["path"] for a in by_rule["train"]["artifacts"]} == {CHECKPOINT}
    assert {a["path"] for a in by_rule["submit"]["artifacts"]} == {SUBMISSION}


def test_runs_verify_passes_then_fails_after_one_byte(tiny_run: Run, tmp_path: Path) -> None:
    workdir = clone(tiny_run, tmp_path / "ws")
    clean = spectramind(workdir, "runs", "verify", tiny_run.run_id)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    target = workdir / SUBMISSION
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    tampered = spectramind(workdir, "runs", "verify", tiny_run.run_id)
    assert tampered.returncode == 1
    assert SUBMISSION in tampered.stdout + tampered.stderr


def test_export_of_the_real_run_is_a_valid_run_crate(tiny_run: Run, tmp_path: Path) -> None:
    crate = tmp_path / "crate.zip"
    proc = spectramind(tiny_run.workdir, "runs", "export", tiny_run.run_id, "--ro-crate",
                       str(crate), "--validate")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "provenance-run-crate-0.5 at severity REQUIRED (offline): PASS" in proc.stdout
    with zipfile.ZipFile(crate) as archive:
        graph = json.loads(archive.read("ro-crate-metadata.json"))["@graph"]
    jobs = [e for e in graph if e["@id"].startswith("#job-")]
    assert len(jobs) == len(tiny_run.records())
    assert {e["instrument"]["@id"] for e in jobs} == {
        f"#rule-{r['rule']}" for r in tiny_run.records()
    }
    files = {e["alternateName"]: e for e in graph if e.get("@type") == "File" and
             e["@id"].startswith("#file:")}  # fmt: skip
    assert files[SUBMISSION]["sha256"] == tiny_run.sha(SUBMISSION)
    assert files[CHECKPOINT]["sha256"] == tiny_run.sha(CHECKPOINT)


def test_report_contains_the_figures(tiny_run: Run, tmp_path: Path) -> None:
    workdir = clone(tiny_run, tmp_path / "ws")
    result = snakemake(workdir, *OVERLAY, "--report", "artifacts/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (workdir / "artifacts/report.html").read_text(errors="replace")
    for figure in ("light_curves.png", "spectra.png", "timings.png"):
        assert figure in html
    assert not _run_ids(workdir) - {tiny_run.run_id}, "--report ran jobs"


# --- debugging reruns ---------------------------------------------------------------------


def test_forcerun_train_reruns_exactly_train_and_downstream(tiny_run: Run, tmp_path: Path) -> None:
    workdir = clone(tiny_run, tmp_path / "ws")
    rerun = run_workflow(workdir, *OVERLAY, "--forcerun", "train")
    assert {r["rule"] for r in rerun.records()} == DOWNSTREAM_OF_TRAIN
    assert len(rerun.records()) == len(DOWNSTREAM_OF_TRAIN)
    # same seed, same inputs: the same bytes again
    assert rerun.sha(CHECKPOINT) == tiny_run.sha(CHECKPOINT)
    assert rerun.sha(SUBMISSION) == tiny_run.sha(SUBMISSION)


def test_one_planet_calibration_reruns_by_its_output_path(tiny_run: Run, tmp_path: Path) -> None:
    workdir = clone(tiny_run, tmp_path / "ws")
    target = sorted((workdir / "artifacts/calib/train").rglob("visit_0.npz"))[0]
    target_path = str(target.relative_to(workdir))
    before = sha256_file(target)
    rerun = run_workflow(workdir, *OVERLAY, "--force", target_path, cores=1)
    [record] = rerun.records()
    assert record["rule"] == "calibrate"
    assert [a["path"] for a in record["artifacts"]] == [target_path]
    assert record["wildcards"]["planet_id"] == target.parent.name
    assert sha256_file(target) == before


def test_another_seed_changes_the_checkpoint(tiny_run: Run, tmp_path: Path) -> None:
    workdir = clone(tiny_run, tmp_path / "ws")
    rerun = run_workflow(workdir, *OVERLAY, "--config", "seed=7", "--until", "train")
    rules = {r["rule"] for r in rerun.records()}
    # calibration and the physics fit are seed-free: a seed change reruns neither (issue 14:
    # the fit rule listed a seed it never used, so every fit was rerun)
    assert rules == {"train"}
    assert {r["seed"] for r in rerun.records()} == {7}
    assert rerun.sha(CHECKPOINT) != tiny_run.sha(CHECKPOINT)


# --- determinism across fresh runs ------------------------------------------------------------


def test_cores_1_gives_the_same_bytes_as_cores_2(tiny_run: Run, tmp_path: Path) -> None:
    fresh = run_workflow(copy_workflow(tmp_path / "repo"), *OVERLAY, cores=1)
    assert fresh.run_id  # a second, independent fresh run with the same seed
    assert fresh.sha(CHECKPOINT) == tiny_run.sha(CHECKPOINT)
    assert fresh.sha(SUBMISSION) == tiny_run.sha(SUBMISSION)
    assert fresh.sha("artifacts/preds/holdout.npz") == tiny_run.sha("artifacts/preds/holdout.npz")


# --- a real-data-style folder: failure, --until, resume -----------------------------------


def test_real_data_folder_failure_until_and_resume(tiny_run: Run, tmp_path: Path) -> None:
    """data_dir only; a truncated parquet fails one calibration; fixing it resumes the run."""
    data = tmp_path / "kaggle/ariel-data-challenge-2025"
    shutil.copytree(
        tiny_run.workdir / "data/synthetic", data, ignore=shutil.ignore_patterns(".snakemake*")
    )
    workdir = copy_workflow(tmp_path / "repo")
    data_dir = ("--config", f"data_dir={data}")
    planet = sorted(p.name for p in (data / "train").iterdir())[0]
    broken = data / "train" / planet / "AIRS-CH0_signal_0.parquet"
    original = broken.read_bytes()
    broken.write_bytes(original[: len(original) // 2])  # an interrupted download

    first = run_workflow(workdir, *OVERLAY, *data_dir, "--until", "calibrate", ok=False)
    assert first.result.returncode != 0
    records = first.records()
    assert {r["stage"] for r in records} == {"calibrate"}  # --until: nothing after calibration
    failed = [r for r in records if r["status"] == "failed"]
    assert [(r["wildcards"]["planet_id"], r["wildcards"]["visit"]) for r in failed] == [
        (planet, "0")
    ]
    [fail] = failed
    assert fail["artifacts"] == [] and fail["error"]["exit_code"] != 0
    assert "parquet" in "\n".join(fail["error"]["stderr_tail"])
    # Snakemake's console shows the end of the failed job's log: the file and the planet
    log = f"logs/calibrate/train/{planet}/visit_0.log"
    assert f"last lines of {log}:" in first.result.stderr
    assert f"{broken} (planet {planet}): not a readable parquet file" in first.result.stderr
    assert not (workdir / plan.calibrated_path("train", planet, 0)).exists()  # no partial output
    succeeded = {r["artifacts"][0]["path"] for r in records if r["status"] == "ok"}
    assert succeeded and all((workdir / p).is_file() for p in succeeded)
    assert not (workdir / "artifacts/fit").exists()
    assert not (workdir / "data").exists()  # no simulate rule with a data_dir

    broken.write_bytes(original)
    second = run_workflow(workdir, *OVERLAY, *data_dir)
    records = second.records()
    assert "simulate" not in {r["stage"] for r in records}
    calibrated = [r for r in records if r["stage"] == "calibrate"]
    assert [r["wildcards"]["planet_id"] for r in calibrated] == [planet]  # only what failed
    assert all(r["status"] == "ok" for r in records)
    missing = [
        p for p in (*FIXED_OUTPUTS[:-1], *expected_outputs(data)) if not (workdir / p).is_file()
    ]
    assert not missing
    # the same dataset and seed as the simulated run: the same model and submission
    assert second.sha(CHECKPOINT) == tiny_run.sha(CHECKPOINT)
    assert second.sha(SUBMISSION) == tiny_run.sha(SUBMISSION)


# --- config validation and static checks ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "bad_yaml", "key"),
    [
        (("--config", "unknwon_key=1"), "", "unknwon_key"),
        (("--configfile", "bad.yaml"), "train:\n  holdout_fraction: a fifth\n", "holdout_fraction"),
        (("--configfile", "bad.yaml"), "fit:\n  ld_prior_sigma: [0.1]\n", "ld_prior_sigma"),
        (("--configfile", "bad.yaml"), "fit:\n  ld_u1_range: [0.0, 0.8]\n", "ld_u1_range"),
    ],
    ids=["unknown-key", "wrong-type", "pair-of-one", "retired-fit-key"],
)
def test_invalid_config_is_refused_before_any_job(
    tmp_path: Path, args: tuple[str, ...], bad_yaml: str, key: str
) -> None:
    workdir = copy_workflow(tmp_path / "repo")
    (workdir / "bad.yaml").write_text(bad_yaml)
    result = snakemake(workdir, *OVERLAY, *args)
    assert result.returncode != 0
    assert key in result.stderr
    assert not (workdir / "artifacts").exists() and not (workdir / "data").exists()


def test_lint_and_snakefmt_are_clean(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path / "repo")
    lint = snakemake(workdir, "--lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    snakefmt = shutil.which("snakefmt", path=str(Path(sys.executable).parent))
    assert snakefmt, "snakefmt is not installed in the environment"
    files = [REPO / "Snakefile", *sorted((REPO / "workflow/rules").glob("*.smk"))]
    check = subprocess.run(
        [snakefmt, "--check", *map(str, files)], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_overlay_matches_the_schema() -> None:
    overlay = yaml.safe_load((REPO / "tests/workflow_tiny.yaml").read_text())
    schema = yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text())
    for section, values in overlay.items():
        assert set(values) <= set(schema["properties"][section]["properties"]), section
    assert json.dumps(overlay)  # plain types only
