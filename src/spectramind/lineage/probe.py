"""The workflow as Snakemake sees it: rules, their compiled source, and the job graph.

Run in a child process (``python -m spectramind.lineage.probe`` with a JSON request on stdin),
because Snakemake's API changes the working directory and global logging. The child loads the
workflow in ``workdir`` (a scratch copy of the repository), builds the DAG of the default target
and writes one JSON object to ``out``:

- ``sources``: every included Snakefile, path (relative to ``workdir``) -> its compiled Python;
- ``rules``: name, snakefile, checkpoint flag, output patterns and shell command of each rule;
- ``jobs``: rule, input files and output files of every job in the DAG;
- ``pending_checkpoints``: checkpoints in the DAG whose outputs do not exist yet. Their
  downstream jobs are unknown until they ran (``lineage.probe_workflow`` runs them and probes
  again).

This module uses Snakemake internals (``Workflow._prepare_dag``/``_build_dag``, ``dag.jobs``):
``snakemake`` is pinned, and ``tests/test_dvc.py`` derives the real workflow with it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _relative(path: str | os.PathLike, workdir: Path) -> str:
    resolved = Path(os.path.abspath(path))
    try:
        return resolved.relative_to(workdir).as_posix()
    except ValueError:
        return resolved.as_posix()


def probe(workdir: Path, configfiles: list[str]) -> dict:
    """Load the workflow in ``workdir`` and describe its rules and job graph (see module doc)."""
    from snakemake import parser
    from snakemake.api import SnakemakeApi, resolve_snakefile
    from snakemake.settings.enums import Quietness
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        DeploymentSettings,
        OutputSettings,
        ResourceSettings,
        StorageSettings,
        WorkflowSettings,
    )

    workdir = workdir.resolve()
    os.chdir(workdir)
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(
            snakefile=resolve_snakefile(None),
            workdir=workdir,
            config_settings=ConfigSettings(configfiles=[Path(f) for f in configfiles]),
            resource_settings=ResourceSettings(cores=1),
            storage_settings=StorageSettings(),
            workflow_settings=WorkflowSettings(),
            deployment_settings=DeploymentSettings(),
        )
        # Not --forceall: a checkpoint marked to rerun would hide the jobs behind it again.
        # The scratch copy holds no outputs but the checkpoints', so every job is in the DAG.
        workflow_api.dag(DAGSettings())
        workflow = workflow_api._workflow
        workflow._prepare_dag(
            forceall=False, ignore_incomplete=True, lock_warn_only=True, nolock=True
        )
        workflow._build_dag()
        sources = {}
        for source in list(workflow.included):
            path = _relative(source.get_path_or_uri(secret_free=True), workdir)
            sources[path] = parser.parse(source, workflow, {})[0]
        rules = [
            {
                "name": rule.name,
                "snakefile": _relative(rule.snakefile, workdir),
                "checkpoint": bool(rule.is_checkpoint),
                "outputs": [str(pattern) for pattern in rule.output],
                "shellcmd": rule.shellcmd,
            }
            for rule in workflow.rules
        ]
        jobs = sorted(
            (
                {
                    "rule": job.rule.name,
                    "inputs": sorted(_relative(f, workdir) for f in job.input),
                    "outputs": sorted(_relative(f, workdir) for f in job.output),
                }
                for job in workflow.dag.jobs
            ),
            key=lambda job: (job["rule"], job["outputs"]),
        )
    pending = sorted(
        {
            job["rule"]
            for job in jobs
            for rule in rules
            if rule["name"] == job["rule"] and rule["checkpoint"]
            if not all(Path(f).exists() for f in job["outputs"])
        }
    )
    return {"sources": sources, "rules": rules, "jobs": jobs, "pending_checkpoints": pending}


def main() -> int:
    request = json.loads(sys.stdin.read())
    result = probe(Path(request["workdir"]), request["configfiles"])
    Path(request["out"]).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
