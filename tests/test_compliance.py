"""`spectramind compliance`: each ADR-0006 gate passes on a good run and fails on a broken one.

The good case is real but tiny: a run recorded by `spectramind run-stage` on trivial commands
(one per stage), a git + DVC repo with a one-stage dvc.yaml reproduced by real `dvc repro`,
SBOMs written by the supply-chain code for a few real installed packages, and a determinism
result file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spectramind import compliance
from spectramind.repro.snapshot import freeze_config

REPO = Path(__file__).resolve().parents[1]
RUN_ID = "20260101_120000"
STAGES = ("simulate", "calibrate", "fit", "train", "predict", "submit")
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
# A few installed packages, so the SBOMs validate in seconds (the full venv takes ~40 s).
SBOM_PACKAGES = {"numpy", "pyyaml", "filelock", "packaging"}


def spectramind(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spectramind", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")},
    )


def write_sboms(out_dir: Path) -> None:
    from spectramind.supply.licenses import load_policy
    from spectramind.supply.sboms import (
        CYCLONEDX_NAME,
        SPDX_NAME,
        build_cyclonedx,
        cyclonedx_to_spdx,
        spdx_bytes,
    )

    cdx = build_cyclonedx(Path(sys.executable), REPO / "pyproject.toml")
    cdx["components"] = [c for c in cdx["components"] if c["name"].lower() in SBOM_PACKAGES]
    keep = {c["bom-ref"] for c in cdx["components"]}
    cdx["dependencies"] = [
        {**d, "dependsOn": [x for x in d.get("dependsOn", []) if x in keep]}
        for d in cdx.get("dependencies", [])
        if d["ref"] in keep
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CYCLONEDX_NAME).write_text(json.dumps(cdx, indent=2) + "\n", encoding="utf-8")
    policy = load_policy(REPO / "config/license-allowlist.yaml", REPO / "config/sbom-ignore.yaml")
    (out_dir / SPDX_NAME).write_bytes(spdx_bytes(cyclonedx_to_spdx(cdx, policy)))


@pytest.fixture(scope="module")
def good_template(tmp_path_factory) -> Path:
    """A workflow folder that passes every gate (built once, copied per test)."""
    repo = tmp_path_factory.mktemp("good") / "repo"
    repo.mkdir()
    subprocess.run([*GIT, "init", "-q"], cwd=repo, check=True)
    (repo / "dvc.yaml").write_text(
        "stages:\n  make:\n    cmd: echo lineage > lineage.txt\n    outs:\n      - lineage.txt\n",
        encoding="utf-8",
    )
    (repo / ".gitignore").write_text("/artifacts/\n", encoding="utf-8")
    for cmd in (["dvc", "init", "-q"], ["dvc", "config", "core.autostage", "false"]):
        subprocess.run(cmd, cwd=repo, check=True)
    subprocess.run(["dvc", "repro", "-q"], cwd=repo, check=True, capture_output=True)
    # The run: one snapshot, one run-stage record per stage.
    root = repo / "artifacts/runs"
    snapshot, _ = freeze_config({"data_dir": "", "seed": 7}, RUN_ID, root)
    for stage in STAGES:
        out = f"artifacts/{stage}/out.txt"
        (repo / out).parent.mkdir(parents=True, exist_ok=True)
        proc = spectramind(
            "run-stage", "--stage", stage, "--run-id", RUN_ID, "--snapshot",
            str(snapshot.relative_to(repo)), "--seed", "7", "--output", out, "--",
            "sh", "-c", f"echo {stage} > {out}",
            cwd=repo,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    for name in ("requirements.lock", "config/license-allowlist.yaml", "config/sbom-ignore.yaml",
                 "Snakefile"):  # fmt: skip
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, repo / name)
    shutil.copytree(REPO / "workflow/rules", repo / "workflow/rules")  # the crate's workflow
    write_sboms(repo / "artifacts/sbom")
    result = {
        "passed": True,
        "seed": 7,
        "other_seed": 8,
        "same_seed_mismatches": [],
        "other_seed_differs": True,
        "outputs": {"artifacts/ckpt/model.pt": {"first": "a", "second": "a", "other_seed": "b"}},
    }
    (repo / "artifacts/determinism").mkdir(parents=True)
    (repo / "artifacts/determinism/result.json").write_text(json.dumps(result), encoding="utf-8")
    return repo


@pytest.fixture
def repo(good_template, tmp_path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(good_template, target, symlinks=True)
    return target


def gates_by_name(report: compliance.ComplianceReport) -> dict[str, compliance.Gate]:
    return {g.name: g for g in report.gates}


def check(repo: Path) -> dict[str, compliance.Gate]:
    """Every gate but ``crate`` (its validation takes seconds; tested on its own below)."""
    return gates_by_name(compliance.check_compliance(repo=repo, skip=("crate",)))


def test_good_run_passes_every_gate_and_cli_exits_0(repo):
    proc = spectramind("compliance", "--json", "artifacts/compliance.json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for name in ("events", "snapshot", "artifacts", "dvc", "sbom", "determinism", "crate", "cve"):
        assert any(line.startswith(f"PASS {name}:") for line in lines), proc.stdout
    assert lines[-1] == f"compliance {RUN_ID}: PASS"
    assert "CVE cross-check" in proc.stdout  # never silent about the online CVE scan
    crate = next(line for line in lines if line.startswith("PASS crate:"))
    assert "provenance-run-crate-0.5 REQUIRED: no issues" in crate
    cve = next(line for line in lines if line.startswith("PASS cve:"))
    assert "0 known vulnerabilities" in cve and "dated 2024-10-10" in cve
    saved = json.loads((repo / "artifacts/compliance.json").read_text(encoding="utf-8"))
    assert saved["passed"] is True and len(saved["gates"]) == 8


def test_missing_events_file_fails_events_gate(repo):
    (repo / f"artifacts/runs/train/{RUN_ID}/events.jsonl").unlink()
    gates = check(repo)
    assert not gates["events"].passed
    assert any(p.startswith("train: no ") for p in gates["events"].problems)


def test_failed_record_fails_events_gate(repo):
    path = repo / f"artifacts/runs/fit/{RUN_ID}/events.jsonl"
    record = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    record["status"] = "failed"
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
    assert not check(repo)["events"].passed


def test_real_data_run_needs_no_simulate_stage(repo):
    assert "simulate" not in compliance.required_stages({"data_dir": "/kaggle/input/x"})
    assert "simulate" in compliance.required_stages({"data_dir": ""})


def test_edited_snapshot_fails_snapshot_gate_and_cli_exits_1(repo):
    path = repo / f"artifacts/runs/{RUN_ID}/config.snapshot.yaml"
    path.chmod(0o644)
    path.write_text(path.read_text(encoding="utf-8").replace("seed: 7", "seed: 8"), "utf-8")
    gates = check(repo)
    assert not gates["snapshot"].passed
    assert "snapshot edited" in gates["snapshot"].problems[0]
    proc = spectramind("compliance", RUN_ID, cwd=repo)
    assert proc.returncode == 1
    assert "FAIL snapshot:" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith(f"compliance {RUN_ID}: FAIL")


def test_missing_snapshot_fails(repo):
    (repo / f"artifacts/runs/{RUN_ID}/config.snapshot.yaml").unlink()
    assert not check(repo)["snapshot"].passed


def test_changed_output_fails_artifacts_gate(repo):
    (repo / "artifacts/train/out.txt").write_text("retrained\n", encoding="utf-8")
    gates = check(repo)
    assert not gates["artifacts"].passed
    assert "artifacts/train/out.txt" in gates["artifacts"].problems[0]
    assert gates["events"].passed and gates["snapshot"].passed


def test_dvc_status_not_clean_fails_dvc_gate(repo):
    (repo / "lineage.txt").write_text("changed by hand\n", encoding="utf-8")
    gate = check(repo)["dvc"]
    assert not gate.passed
    assert any(p.startswith("make:") for p in gate.problems)


def test_no_dvc_pipeline_fails_dvc_gate(repo):
    (repo / "dvc.yaml").unlink()
    assert not check(repo)["dvc"].passed


def test_missing_sbom_fails_sbom_gate(repo):
    (repo / "artifacts/sbom/sbom.spdx.json").unlink()
    gate = check(repo)["sbom"]
    assert not gate.passed and "sbom.spdx.json not found" in gate.problems[0]


def test_invalid_sbom_fails_sbom_gate(repo):
    path = repo / "artifacts/sbom/sbom.cdx.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["components"][0]["type"] = "not-a-component-type"
    path.write_text(json.dumps(doc), encoding="utf-8")
    gate = compliance.check_sboms(
        repo / "artifacts/sbom", REPO / "requirements.lock", REPO / "config/license-allowlist.yaml",
        REPO / "config/sbom-ignore.yaml",
    )  # fmt: skip
    assert not gate.passed and gate.summary == "invalid SBOM"


def test_undeclared_package_fails_sbom_gate(repo, tmp_path):
    lock = tmp_path / "requirements.lock"
    lines = (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
    lock.write_text(
        "\n".join(line for line in lines if not line.lower().startswith("numpy==")) + "\n",
        encoding="utf-8",
    )
    report = compliance.check_compliance(repo=repo, lock_path=lock)
    gate = gates_by_name(report)["sbom"]
    assert not gate.passed
    assert any("numpy" in p and "not declared" in p for p in gate.problems)


def test_disallowed_license_fails_sbom_gate(repo, tmp_path):
    allowlist = yaml.safe_load((REPO / "config/license-allowlist.yaml").read_text("utf-8"))
    allowlist["allowed"] = [a for a in allowlist["allowed"] if a["id"] != "MIT"]
    path = tmp_path / "allow.yaml"
    path.write_text(yaml.safe_dump(allowlist), encoding="utf-8")
    gate = gates_by_name(compliance.check_compliance(repo=repo, allowlist_path=path))["sbom"]
    assert not gate.passed
    assert any("licenses:" in p and "not allowed" in p for p in gate.problems)


def test_missing_or_failed_determinism_result_fails(repo):
    path = repo / "artifacts/determinism/result.json"
    result = json.loads(path.read_text(encoding="utf-8"))
    result.update(passed=False, same_seed_mismatches=["artifacts/ckpt/model.pt: a != c"])
    path.write_text(json.dumps(result), encoding="utf-8")
    gate = check(repo)["determinism"]
    assert not gate.passed and "model.pt" in gate.problems[0]
    result.update(passed=False, same_seed_mismatches=[], other_seed_differs=False)
    path.write_text(json.dumps(result), encoding="utf-8")
    assert "blind" in check(repo)["determinism"].problems[0]
    path.unlink()
    assert not check(repo)["determinism"].passed


def test_unknown_run_is_a_user_error(repo):
    proc = spectramind("compliance", "20000101_000000", cwd=repo)
    assert proc.returncode == 2
    assert "no records" in proc.stderr


def test_crate_gate_validates_a_given_crate_and_fails_on_a_broken_or_foreign_one(repo):
    crate = repo / "artifacts/crate"
    exported = spectramind("runs", "export", RUN_ID, "--ro-crate", str(crate), cwd=repo)
    assert exported.returncode == 0, exported.stderr
    metadata = crate / "ro-crate-metadata.json"
    doc = json.loads(metadata.read_text(encoding="utf-8"))
    root = next(e for e in doc["@graph"] if e["@id"] == "./")
    root["identifier"] = "20000101_000000"
    metadata.write_text(json.dumps(doc), encoding="utf-8")
    foreign = compliance.check_crate(repo / "artifacts/runs", RUN_ID, repo, repo, None, crate)
    assert not foreign.passed and "expected 20260101_120000" in foreign.problems[0]

    root["identifier"] = RUN_ID
    del root["license"]  # RO-Crate 1.1: the root data entity MUST have a license
    metadata.write_text(json.dumps(doc), encoding="utf-8")
    proc = spectramind("compliance", "--crate", str(crate), cwd=repo)
    assert proc.returncode == 1
    assert "FAIL crate:" in proc.stdout and "REQUIRED ro-crate-1.1" in proc.stdout


def test_cve_gate_fails_on_a_locked_version_with_a_known_advisory(repo):
    lock = repo / "requirements.lock"
    lock.write_text(lock.read_text().replace("PyYAML==6.0.3", "PyYAML==5.3.1"))
    gate = check(repo)["cve"]
    assert not gate.passed and "dated 2024-10-10" in gate.summary
    assert any(p.startswith("PyYAML: 5.3.1: PYSEC-2021-142") for p in gate.problems)


def test_determinism_gate_shows_the_cross_cpu_result(repo):
    path = repo / "artifacts/determinism/result.json"
    result = json.loads(path.read_text(encoding="utf-8"))
    assert "cross-CPU not checked" in check(repo)["determinism"].summary  # said, not silent
    cross = {
        "passed": True,
        "profile": "lower",
        "threads": 2,
        "outputs": {
            "artifacts/ckpt/model.pt": {"native": "a", "emulated": "a", "status": "identical"},
            "artifacts/preds/test.npz": {
                "native": "p",
                "emulated": "q",
                "status": "within tolerance",
            },
        },
        "mismatches": [],
        "pin_problems": [],
    }
    path.write_text(json.dumps({**result, "cross_cpu": cross}), encoding="utf-8")
    gate = check(repo)["determinism"]
    assert gate.passed
    assert "1 identical under CPU profile lower (threads 2)" in gate.summary
    assert "only within a declared tolerance: artifacts/preds/test.npz" in gate.summary

    cross.update(passed=False, mismatches=["artifacts/ckpt/model.pt: a != b"])
    path.write_text(json.dumps({**result, "passed": False, "cross_cpu": cross}), encoding="utf-8")
    gate = check(repo)["determinism"]
    assert not gate.passed and gate.problems == [
        "CPU profile lower: artifacts/ckpt/model.pt: a != b"
    ]
