"""`spectramind runs show|export|validate-crate` on a run recorded by the real wrapper.

The run is small but real: a git repository holding the workflow files (Snakefile, rules, lock),
a config snapshot, and one `spectramind run-stage` record per job of four stages whose files
chain (simulate -> calibrate x2 -> train -> submit). The crates are validated by the real
roc-validator (offline); the real workflow's export is validated in tests/test_workflow.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from spectramind.crate.validation import validate_crate
from spectramind.repro import manifest
from spectramind.repro.hashing import sha256_file
from spectramind.repro.runview import jobs_from_records
from spectramind.repro.snapshot import freeze_config

REPO = Path(__file__).resolve().parents[1]
RUN_ID = "20260102_030405"
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
# (stage, rule, wildcards, inputs, outputs): each job writes its outputs from its inputs.
JOBS = [
    ("simulate", "simulate", {}, [], ["data/synthetic/train.csv", "data/synthetic/raw.bin"]),
    ("calibrate", "calibrate", {"planet_id": "1", "split": "train"},
     ["data/synthetic/raw.bin"], ["artifacts/calib/train/1.npz"]),
    ("calibrate", "calibrate", {"planet_id": "2", "split": "train"},
     ["data/synthetic/raw.bin"], ["artifacts/calib/train/2.npz"]),
    ("train", "train", {}, ["artifacts/calib/train/1.npz", "artifacts/calib/train/2.npz",
                            "data/synthetic/train.csv"], ["artifacts/ckpt/model.pt"]),
    ("submit", "submit", {}, ["artifacts/ckpt/model.pt"], ["artifacts/submission/submission.csv"]),
]  # fmt: skip


def spectramind(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    return subprocess.run(
        [sys.executable, "-m", "spectramind", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A committed workflow folder with one recorded run (see the module docstring)."""
    repo = tmp_path_factory.mktemp("crate") / "repo"
    shutil.copytree(REPO / "workflow", repo / "workflow", ignore=shutil.ignore_patterns("__py*"))
    for name in ("Snakefile", "requirements.lock", "config/sbom-ignore.yaml", "dvc.yaml"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, repo / name)
    (repo / ".gitignore").write_text("/artifacts/\n/data/\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "workflow"], cwd=repo, check=True)
    snapshot, _ = freeze_config({"data_dir": "", "seed": 5}, RUN_ID, repo / "artifacts/runs")
    for stage, rule, wildcards, inputs, outputs in JOBS:
        script = "; ".join(
            f"mkdir -p {Path(out).parent} && cat {' '.join(inputs) or '/dev/null'} > {out} "
            f"&& echo {rule}{json.dumps(wildcards, sort_keys=True)!r} >> {out}"
            for out in outputs
        )
        args = ["run-stage", "--stage", stage, "--rule", rule, "--run-id", RUN_ID, "--seed", "5",
                "--snapshot", str(snapshot.relative_to(repo)),
                "--wildcards", json.dumps(wildcards)]  # fmt: skip
        args += ["--input", *inputs] if inputs else []
        args += ["--output", *outputs]
        proc = spectramind(*args, "--", "sh", "-c", script, cwd=repo)
        assert proc.returncode == 0, proc.stderr
    return repo


@pytest.fixture
def repo(recorded, tmp_path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(recorded, target, symlinks=True)
    return target


def graph(crate: Path) -> dict[str, dict]:
    if crate.is_file():
        with zipfile.ZipFile(crate) as archive:
            text = archive.read("ro-crate-metadata.json")
    else:
        text = (crate / "ro-crate-metadata.json").read_bytes()
    return {e["@id"]: e for e in json.loads(text)["@graph"]}


def ids(value) -> list[str]:
    return [v["@id"] for v in (value if isinstance(value, list) else [value])]


def test_show_summarises_what_ran_with_which_config_commit_and_hashes(repo):
    proc = spectramind("runs", "show", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    snapshot = repo / f"artifacts/runs/{RUN_ID}/config.snapshot.yaml"
    assert text.startswith(f"run {RUN_ID}: OK, 5 jobs (5 ok) in 4 stages")
    assert f"commit    {head} (clean)" in text
    assert f"sha256 {sha256_file(snapshot)[:16]}... (matches all 5 records)" in text
    model = sha256_file(repo / "artifacts/ckpt/model.pt")
    assert f"checkpoint artifacts/ckpt/model.pt sha256 {model[:16]}..." in text
    assert "calibrate     2 jobs  2 ok" in text and "not ok:   none" in text

    summary = json.loads(spectramind("runs", "show", "--json", cwd=repo).stdout)
    data = sorted(["data/synthetic/raw.bin", "data/synthetic/train.csv"])
    lines = "".join(f"{sha256_file(repo / p)}  {p}\n" for p in data)
    assert summary["data"] == {
        "files": 2, "bytes": sum((repo / p).stat().st_size for p in data), "simulated": True,
        "digest": hashlib.sha256(lines.encode()).hexdigest(),
    }  # fmt: skip
    assert [o["path"] for o in summary["outputs"]] == ["artifacts/submission/submission.csv"]


def test_export_zip_links_jobs_through_hashed_files_and_validates(repo, tmp_path):
    out = tmp_path / "a folder with space" / "run.zip"
    proc = spectramind("runs", "export", RUN_ID, "--ro-crate", str(out), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "entities" in proc.stdout and "0 files inside" in proc.stdout
    entities = graph(out)
    root = entities["./"]
    assert "https://w3id.org/ro/wfrun/provenance/0.5" in ids(root["conformsTo"])
    assert root["identifier"] == RUN_ID and root["mainEntity"]["@id"] == "Snakefile"
    workflow = entities["Snakefile"]
    assert "ComputationalWorkflow" in workflow["@type"]
    assert entities[workflow["programmingLanguage"]["@id"]]["name"] == "Snakemake"
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        shown = subprocess.run(["git", "show", "HEAD:Snakefile"], cwd=repo, capture_output=True,
                               check=True).stdout  # fmt: skip
        assert archive.read("Snakefile") == shown
    assert {"README.md", f"artifacts/runs/{RUN_ID}/config.snapshot.yaml", "requirements.lock",
            f"artifacts/runs/train/{RUN_ID}/events.jsonl", "supply/cve-offline.json",
            "workflow/rules/calibrate.smk", "dvc.yaml"} <= names  # fmt: skip
    assert not any(n.startswith(("data/", "artifacts/ckpt")) for n in names)  # referenced only

    jobs = {e["@id"]: e for e in entities.values() if e.get("@type") == "CreateAction"
            and e["@id"].startswith("#job-")}  # fmt: skip
    assert len(jobs) == len(JOBS)
    by_rule = {}
    for action in jobs.values():
        by_rule.setdefault(action["instrument"]["@id"], []).append(action)
        assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
        assert action["startTime"] < action["endTime"]
    calibrated = {i for a in by_rule["#rule-calibrate"] for i in ids(a["result"])}
    train = by_rule["#rule-train"][0]
    assert calibrated <= set(ids(train["object"]))  # linked through the files
    model = entities[ids(train["result"])[0]]
    assert model["alternateName"] == "artifacts/ckpt/model.pt"
    assert model["sha256"] == sha256_file(repo / "artifacts/ckpt/model.pt")
    assert model["contentSize"] == str((repo / "artifacts/ckpt/model.pt").stat().st_size)
    wildcards = {(entities[i]["name"], entities[i]["value"]) for a in by_rule["#rule-calibrate"]
                 for i in ids(a["object"]) if entities[i]["@type"] == "PropertyValue"}  # fmt: skip
    assert wildcards == {("planet_id", "1"), ("planet_id", "2"), ("split", "train")}
    controls = [e for e in entities.values() if e.get("@type") == "ControlAction"]
    assert {c["object"]["@id"] for c in controls} == set(jobs)
    organize = next(e for e in entities.values() if e.get("@type") == "OrganizeAction")
    assert organize["result"]["@id"] == f"#run-{RUN_ID}"

    result = validate_crate(out)
    assert result.passed and not result.issues, result.lines()
    assert result.profile == "provenance-run-crate-0.5" and result.checks_executed > 50


def test_validator_fails_when_a_required_property_is_removed(repo, tmp_path):
    crate = tmp_path / "crate"
    assert spectramind("runs", "export", "--ro-crate", str(crate), cwd=repo).returncode == 0
    metadata = crate / "ro-crate-metadata.json"
    pristine = json.loads(metadata.read_text())

    def broken(mutate) -> list[str]:
        doc = json.loads(json.dumps(pristine))
        for entity in doc["@graph"]:
            mutate(entity)
        metadata.write_text(json.dumps(doc, indent=1))
        result = validate_crate(crate)
        assert not result.passed
        return [issue.check for issue in result.issues]

    def drop_instrument(entity):  # Process Run Crate: an action MUST name its tool
        if entity["@id"].startswith("#job-0003"):
            del entity["instrument"]

    def drop_source(entity):  # Provenance Run Crate: a connection MUST have its source
        if entity.get("@type") == "ParameterConnection":
            entity.pop("sourceParameter", None)

    assert any(c.startswith("process-run-crate-0.5") for c in broken(drop_instrument))
    assert any(c.startswith("provenance-run-crate-0.5") for c in broken(drop_source))
    metadata.write_text(json.dumps(pristine, indent=1))
    proc = spectramind("runs", "validate-crate", str(crate), "--json", str(tmp_path / "v.json"),
                       cwd=repo)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "v.json").read_text())["passed"] is True


def test_include_data_copies_verified_files_and_refuses_changed_ones(repo, tmp_path):
    crate = tmp_path / "with-data"
    proc = spectramind("runs", "export", "--ro-crate", str(crate), "--include-data", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    for path in ("data/synthetic/raw.bin", "artifacts/ckpt/model.pt"):
        assert (crate / path).read_bytes() == (repo / path).read_bytes()
        assert graph(crate)[path]["sha256"] == sha256_file(repo / path)

    (repo / "artifacts/ckpt/model.pt").write_bytes(b"changed after the run")
    again = tmp_path / "again"
    proc = spectramind("runs", "export", "--ro-crate", str(again), "--include-data", cwd=repo)
    assert proc.returncode == 2
    assert "artifacts/ckpt/model.pt no longer has its recorded sha256" in proc.stderr
    assert not again.exists() and not list(tmp_path.glob(".again.*"))
    # referenced by hash (no --include-data), the record's hash is exported as recorded
    assert spectramind("runs", "export", "--ro-crate", str(again), cwd=repo).returncode == 0


def test_edited_snapshot_existing_output_and_unknown_run_are_refused(repo, tmp_path):
    out = tmp_path / "crate.zip"
    out.write_text("keep me")
    proc = spectramind("runs", "export", "--ro-crate", str(out), cwd=repo)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert out.read_text() == "keep me"

    snapshot = repo / f"artifacts/runs/{RUN_ID}/config.snapshot.yaml"
    snapshot.chmod(0o644)
    snapshot.write_text("seed: 6\n")
    fresh = tmp_path / "fresh.zip"
    proc = spectramind("runs", "export", "--ro-crate", str(fresh), cwd=repo)
    assert proc.returncode == 2 and "refusing to package a config" in proc.stderr
    assert not fresh.exists()
    assert "DIFFERS from the recorded" in spectramind("runs", "show", cwd=repo).stdout
    assert spectramind("runs", "show", "20990101_000000", cwd=repo).returncode == 2


def test_started_and_interrupted_jobs_are_shown_and_exported(repo, tmp_path):
    events = repo / f"artifacts/runs/train/{RUN_ID}/events.jsonl"
    done = manifest.read_records(events)[0]
    # A job killed before its final line (only its `started` line; the reader folds it into an
    # interrupted attempt) and one whose final line says it was interrupted by a signal.
    for status, second in (("started", "09"), ("interrupted", "08")):
        record = dict(done, status=status, time_utc=f"2026-01-02T03:59:{second}.000Z",
                      wildcards={"attempt": status}, artifacts=[], duration_s=None,
                      attempt=f"test-{status}", pid=None)  # fmt: skip
        if status == "interrupted":
            record.update(duration_s=1.5, error={"message": "killed by signal 9"})
        manifest.append_record(events, record)
    text = spectramind("runs", "show", cwd=repo).stdout
    assert "run 20260102_030405: INTERRUPTED, 7 jobs (2 interrupted, 5 ok)" in text
    assert "interrupted train[attempt=interrupted]: killed by signal 9" in text
    assert "train[attempt=started]: the job was killed: no final record" in text

    crate = tmp_path / "crate"
    proc = spectramind("runs", "export", "--ro-crate", str(crate), "--validate", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    actions = [e for e in graph(crate).values() if e.get("@type") == "CreateAction"]
    by_name = {a["name"]: a for a in actions}
    killed = by_name["train[attempt=interrupted] (interrupted)"]
    assert killed["actionStatus"] == "http://schema.org/FailedActionStatus"
    assert killed["error"] == "killed by signal 9"
    no_end = by_name["train[attempt=started] (interrupted)"]
    assert no_end["actionStatus"] == "http://schema.org/FailedActionStatus"
    assert no_end["error"] == "the job was killed: no final record"
    run = by_name[f"SpectraMind run {RUN_ID}"]
    assert run["actionStatus"] == "http://schema.org/FailedActionStatus"


def test_a_started_record_followed_by_its_outcome_is_one_job():
    start = {"stage": "fit", "rule": "fit", "wildcards": {"planet_id": "1"},
             "time_utc": "2026-01-01T00:00:00.000Z", "status": "started"}  # fmt: skip
    done = dict(start, status="ok", duration_s=2.0)
    retry = dict(start, time_utc="2026-01-01T00:01:00.000Z")
    retry_done = dict(retry, status="failed", duration_s=1.0)
    src = Path("events.jsonl")
    jobs = jobs_from_records([(retry_done, src), (start, src), (done, src), (retry, src)])
    assert [j.status for j in jobs] == ["ok", "failed"]
    lone = jobs_from_records([(start, src), (retry, src)])
    assert [j.status for j in lone] == ["started", "started"]
