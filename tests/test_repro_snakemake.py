"""The wrapper under a real ``snakemake`` run: one run id for all jobs, failed records.

The Snakefile here is the pattern the project workflow follows (see docs/reproducibility.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spectramind.repro.audit import run_records, stage_runs
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import RECORD_FIELDS

SNAKEFILE = """
import json
from spectramind.repro.runid import JOB_ENVVARS, begin_run, plan_run

configfile: "config.yaml"

RUN = plan_run(config, main_process=workflow.is_main_process, seed=config["seed"])


onstart:
    begin_run(RUN, config)

envvars:
    *JOB_ENVVARS


def get_wildcards_json(wildcards):
    return json.dumps(dict(wildcards.items()), sort_keys=True)


rule all:
    input:
        expand("out/{planet}.txt", planet=config["planets"]),


rule make:
    output:
        "out/{planet}.txt",
    params:
        wildcards=get_wildcards_json,
    log:
        "logs/make/{planet}.log",
    threads: 1
    shell:
        "spectramind run-stage --stage make --rule {rule} --threads {threads} "
        "--wildcards {params.wildcards:q} --output {output:q} "
        "-- python -c 'import sys; open(sys.argv[1], \\"w\\").write(sys.argv[2])' "
        "{output:q} {wildcards.planet} 2> {log}"


rule broken:
    output:
        "out/broken.txt",
    log:
        "logs/broken.log",
    shell:
        "spectramind run-stage --stage broken --output {output:q} "
        "-- sh -c 'echo partial > {output}; echo boom >&2; exit 4' 2> {log}"
"""


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_all_jobs_share_one_run_id_and_failures_are_recorded(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "config.yaml").write_text("seed: 9\nplanets: [p1, p2, p3, p4]\n")
    for args in (("-n",), ("--lint",)):
        snakemake(tmp_path, *args)
        assert not (tmp_path / "artifacts").exists(), f"{args} left a run folder"
    result = snakemake(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    root = tmp_path / "artifacts/runs"
    [run_id] = stage_runs(root)["make"]
    records = run_records(root, run_id)
    assert len(records) == 4
    snapshot = root / run_id / "config.snapshot.yaml"
    for record in records:
        assert set(RECORD_FIELDS) <= set(record)
        assert record["run_id"] == run_id and record["status"] == "ok" and record["seed"] == 9
        assert record["config_sha256"] == sha256_file(snapshot)
        [artifact] = record["artifacts"]
        assert artifact["sha256"] == sha256_file(tmp_path / artifact["path"])
    assert {r["wildcards"]["planet"] for r in records} == {"p1", "p2", "p3", "p4"}

    failed = snakemake(tmp_path, "out/broken.txt")
    assert failed.returncode != 0
    assert not (tmp_path / "out/broken.txt").exists()
    [second_run] = stage_runs(root)["broken"]
    assert second_run != run_id
    [record] = run_records(root, second_run)
    assert record["status"] == "failed" and record["error"]["exit_code"] == 4
    assert "boom" in (tmp_path / "logs/broken.log").read_text()
