"""Export one recorded run as a Provenance Run Crate (RO-Crate 1.1, Workflow Run Crate 0.5).

Built with the ``rocrate`` library (:func:`build_crate`), written as a folder or a zip
(:func:`export_run_crate`). What the crate holds (docs/audit.md):

- the workflow: ``Snakefile`` as the main ``ComputationalWorkflow`` (language Snakemake), one
  ``SoftwareApplication`` per rule (``isPartOf`` its ``workflow/rules/*.smk`` file), one
  ``HowToStep`` per rule, and ``FormalParameter``s joined by ``ParameterConnection``s; the
  workflow files and ``requirements.lock`` are taken from the recorded git commit when this
  repository has it (else from the working tree, said in the crate's description);
- the run: a ``CreateAction`` of the workflow, an ``OrganizeAction`` of the engine (Snakemake)
  and, per job, a ``CreateAction`` of its rule (wildcards, start and end time, status, error,
  command, host, thread settings as ``environment``) wrapped by a ``ControlAction`` of its step;
- files: every input and output as a ``File`` with ``sha256`` and ``contentSize``; actions are
  linked through them (one job's ``result`` is the next one's ``object``). Data files are
  referenced by a local identifier ``#file:<path>`` with ``alternateName`` the recorded path, and
  copied only with ``include_data`` (after checking their SHA-256 against the record);
- audit documents copied into the crate: the config snapshot (its SHA-256 must match the
  records), the ``events.jsonl`` manifests, ``dvc.yaml``/``dvc.lock``, the SBOMs, the offline CVE
  gate result for the run's lock.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from spectramind.errors import SpectraMindError
from spectramind.repro.hashing import sha256_file
from spectramind.repro.runview import FileRecord, Job, RunFacts, data_digest, summary_lines

log = logging.getLogger(__name__)

RO_CRATE_VERSION = "1.1"
#: Run-crate profiles the export conforms to, shallowest first (all version 0.5).
PROFILES = {
    "process": "https://w3id.org/ro/wfrun/process/0.5",
    "workflow": "https://w3id.org/ro/wfrun/workflow/0.5",
    "provenance": "https://w3id.org/ro/wfrun/provenance/0.5",
}
_WFRUN = "https://w3id.org/ro/terms/workflow-run#"
#: Terms the RO-Crate 1.1 context (1.1.0) lacks, declared inline (no second remote context):
#: the Workflow Run Crate vocabulary and schema.org's ``sha256``.
EXTRA_TERMS = {
    **{
        term: _WFRUN + term
        for term in (
            "ParameterConnection",
            "connection",
            "sourceParameter",
            "targetParameter",
            "environment",
            "resourceUsage",
            "containerImage",
        )
    },
    "sha256": "http://schema.org/sha256",
}
WORKFLOW_FILES = ("Snakefile", "workflow/rules")
LOCK_FILE = "requirements.lock"
LINEAGE_FILES = ("dvc.yaml", "dvc.lock")
SBOM_FILES = {
    "sbom.spdx.json": ("application/spdx+json", "SPDX 2.3 SBOM of the environment"),
    "sbom.cdx.json": ("application/vnd.cyclonedx+json", "CycloneDX 1.6 SBOM of the environment"),
    "sbom-gates.json": ("application/json", "supply-chain gate results (spectramind sbom)"),
}
CVE_REPORT = "supply/cve-offline.json"
_ENCODINGS = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".png": "image/png",
    ".parquet": "application/vnd.apache.parquet",
    ".npz": "application/zip",
    ".pt": "application/octet-stream",
    ".html": "text/html",
    ".tsv": "text/tab-separated-values",
}
_RULE = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)
_STATUS = {
    "ok": "http://schema.org/CompletedActionStatus",
    "failed": "http://schema.org/FailedActionStatus",
    "interrupted": "http://schema.org/FailedActionStatus",
}
WROC_PROFILE = "https://w3id.org/workflowhub/workflow-ro-crate/1.0"
BIOSCHEMAS_WORKFLOW = "https://bioschemas.org/profiles/ComputationalWorkflow/1.0-RELEASE"


class CrateError(SpectraMindError):
    """The run cannot be exported as it is (tampered snapshot, changed data, existing output)."""


@dataclass
class CrateExport:
    """What :func:`export_run_crate` wrote."""

    path: Path
    size_bytes: int
    entities: int
    types: Counter
    files_included: int
    files_referenced: int
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(self.types.items(), key=lambda x: -x[1]))
        out = [
            f"RO-Crate {self.path}: {self.size_bytes} bytes, {self.entities} entities "
            f"({self.files_included} files inside, {self.files_referenced} referenced by hash)",
            f"  entities by type: {kinds}",
        ]
        return out + [f"  note: {n}" for n in self.notes]


# --- sources ---------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, timeout=60, check=False)


def workflow_sources(repo: Path, commit: str | None) -> tuple[dict[str, bytes], str]:
    """``{path: bytes}`` of the Snakefile, ``workflow/rules/*.smk`` and the lock, and their origin.

    From ``commit`` when the repository has it (what ran, byte for byte), else from the working
    tree (the origin line says so).
    """
    wanted = (*WORKFLOW_FILES, LOCK_FILE)
    if commit and shutil.which("git"):
        listing = _git(repo, "ls-tree", "-r", "--name-only", commit, "--", *wanted)
        if listing.returncode == 0:
            files = {}
            for name in listing.stdout.decode().splitlines():
                if name in (WORKFLOW_FILES[0], LOCK_FILE) or name.endswith(".smk"):
                    shown = _git(repo, "show", f"{commit}:{name}")
                    if shown.returncode == 0:
                        files[name] = shown.stdout
            if WORKFLOW_FILES[0] in files:
                return files, f"workflow files and lock from git commit {commit}"
    files = {}
    for name in (WORKFLOW_FILES[0], LOCK_FILE):
        if (repo / name).is_file():
            files[name] = (repo / name).read_bytes()
    for smk in sorted((repo / WORKFLOW_FILES[1]).glob("*.smk")):
        files[smk.relative_to(repo).as_posix()] = smk.read_bytes()
    if WORKFLOW_FILES[0] not in files:
        raise CrateError(f"no Snakefile in {repo} (pass --repo, the workflow folder)")
    why = f"commit {commit} is not in {repo}" if commit else "no commit recorded"
    return files, f"workflow files and lock from the working tree of {repo} ({why})"


def rules_by_file(sources: dict[str, bytes]) -> dict[str, str]:
    """``{rule: path of the .smk (or Snakefile) that defines it}``."""
    found = {}
    for path, text in sources.items():
        if path == LOCK_FILE:
            continue
        for rule in _RULE.findall(text.decode(errors="replace")):
            found.setdefault(rule, path)
    return found


def _source_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _encoding(path: str) -> str | None:
    return _ENCODINGS.get(Path(path).suffix.lower())


def _one(items: list[Any]) -> Any:
    """A single value for a one-element list (RO-Crate 1.1 prefers it), else the list."""
    return items[0] if len(items) == 1 else items


def _time(moment: datetime | None) -> str | None:
    """ISO 8601 with a ``+00:00`` offset, the form the run-crate profiles check for."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds") if moment else None


def _local_id(kind: str, text: str) -> str:
    return f"#{kind}-" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", text)


# --- the crate ---------------------------------------------------------------------------------


@dataclass
class _Builder:
    facts: RunFacts
    base: Path
    include_data: bool
    crate: Any = None
    files: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    included: int = 0
    referenced: int = 0

    def file_entity(self, record: FileRecord) -> Any:
        """The crate's ``File`` for a recorded file (one entity per path and hash)."""
        from rocrate.model.data_entity import DataEntity

        key = (record.path, record.sha256)
        if key in self.files:
            return self.files[key]
        properties: dict[str, Any] = {"name": Path(record.path).name, "alternateName": record.path}
        if record.sha256:
            properties["sha256"] = record.sha256
        if record.size is not None:
            properties["contentSize"] = str(record.size)
        if _encoding(record.path):
            properties["encodingFormat"] = _encoding(record.path)
        if self.include_data:
            source = self._verified_source(record)
            parts = Path(record.path).parts
            if Path(record.path).is_absolute() or ".." in parts:
                # never outside the crate: /abs/x and ../x go under external/
                parts = ("external", *(p for p in parts if p not in ("/", "..", ".")))
            dest = "/".join(parts)
            entity = self.crate.add_file(source, dest_path=dest, properties=properties)
            self.included += 1
        else:
            same_path = sum(1 for p, _ in self.files if p == record.path)
            suffix = f"@{(record.sha256 or 'unknown')[:12]}" if same_path else ""
            identifier = "#file:" + quote(record.path + suffix, safe="/:@._-")
            properties["@type"] = "File"
            entity = self.crate.add(DataEntity(self.crate, identifier, properties=properties))
            self.referenced += 1
        self.files[key] = entity
        return entity

    def _verified_source(self, record: FileRecord) -> Path:
        path = Path(record.path)
        path = path if path.is_absolute() else self.base / path
        if not path.is_file():
            raise CrateError(f"--include-data: {record.path} is missing ({path})")
        if record.sha256 and sha256_file(path) != record.sha256:
            raise CrateError(
                f"--include-data: {record.path} no longer has its recorded sha256 "
                f"{record.sha256[:16]}... (changed after the run; `spectramind runs verify`)"
            )
        return path


def _parameter(crate: Any, identifier: str, name: str, kind: str, examples: list[Any]) -> Any:
    """A ``FormalParameter`` whose ``workExample`` are ``examples`` (each linked back to it)."""
    param = crate.add_formal_parameter(
        name=name,
        additionalType=kind,
        identifier=identifier,
        properties={"multipleValues": len(examples) > 1, "workExample": _one(examples)},
    )
    for example in examples:
        example.append_to("exampleOfWork", param, compact=True)
    return param


def _entity(crate: Any, entity_id: str, **properties: Any) -> Any:
    """A contextual entity; an id seen before returns the entity already in the crate."""
    from rocrate.model.contextentity import ContextEntity

    existing = crate.get(entity_id)
    if existing is not None:
        return existing
    return crate.add(ContextEntity(crate, entity_id, properties=properties))


def _software(crate: Any, name: str, version: str) -> Any:
    """The ``SoftwareApplication`` of one piece of software at one version (shared by rules)."""
    return _entity(
        crate,
        _local_id("software", f"{name}-{version}"),
        **{"@type": "SoftwareApplication"},
        name=name,
        softwareVersion=version,
    )


def _versioned(commit: str | None) -> dict[str, str]:
    """``version``: the recorded git commit, when there is exactly one."""
    return {"version": commit} if commit else {}


@dataclass
class _Sources:
    """What ran: the workflow files and lock (``{path: bytes}``), their origin, the commit."""

    files: dict[str, bytes]
    origin: str
    commit: str | None


@dataclass
class _Rules:
    """The run's rules in order of first execution: their jobs, tools and steps."""

    jobs: dict[str, list[Job]]
    tools: dict[str, Any] = field(default_factory=dict)  # rule -> SoftwareApplication
    steps: dict[str, Any] = field(default_factory=dict)  # rule -> HowToStep


@dataclass
class _Interface:
    """The workflow's own parameters and the files they stand for."""

    snapshot: Any  # the config snapshot File
    external: list[Any]  # input data Files (no job of the run made them)
    finals: list[Any]  # deliverable Files
    inputs: list[Any]  # config parameter, then the input data parameter when there is data
    outputs: list[Any]  # the final outputs parameter, when there are deliverables


def build_crate(
    facts: RunFacts,
    repo: Path | str = ".",
    sbom_dir: Path | str | None = None,
    include_data: bool = False,
    cve_ignore: Path | str | None = None,
) -> tuple[Any, _Builder, list[str]]:
    """The ``rocrate.ROCrate`` of one run, the builder (file counts) and notes for the user.

    ``cve_ignore`` is the ignore file for the offline CVE gate run on the packaged lock. The
    entities are added in this order (the order of ``ro-crate-metadata.json``'s graph).
    """
    from rocrate.rocrate import ROCrate

    repo = Path(repo)
    notes: list[str] = []
    _check_snapshot(facts)
    sources = _sources(facts, repo, notes)

    crate = ROCrate(version=RO_CRATE_VERSION)
    crate.metadata.extra_terms.update(EXTRA_TERMS)
    builder = _Builder(facts, repo, include_data, crate)
    _describe_root(crate, facts, notes)
    workflow, engine = _add_workflow(crate, facts, sources)
    _add_lock(crate, sources, notes)
    rules = _add_rules(crate, workflow, facts, sources)
    interface = _add_workflow_parameters(builder, workflow)
    _add_rule_parameters(builder, workflow, rules, interface)
    _add_actions(builder, workflow, engine, rules, interface)
    _add_audit_documents(crate, facts, repo, notes)
    _add_sboms(crate, Path(sbom_dir) if sbom_dir is not None else repo / "artifacts/sbom", notes)
    _add_cve_report(crate, sources, cve_ignore)
    _add_readme(crate, facts, notes)
    return crate, builder, notes


# --- what ran: the config snapshot, the commit, the workflow files ---------------------------


def _check_snapshot(facts: RunFacts) -> None:
    """Refuse a run whose config snapshot is missing or is not the one its records name."""
    recorded = sorted(facts.recorded_config_sha256)
    if facts.snapshot_sha256 is None:
        raise CrateError(f"run {facts.run_id}: config snapshot {facts.snapshot} is missing")
    if recorded and recorded != [facts.snapshot_sha256]:
        raise CrateError(
            f"run {facts.run_id}: {facts.snapshot} hashes to {facts.snapshot_sha256[:16]}... but "
            f"the records name {', '.join(r[:16] + '...' for r in recorded)} (edited after the "
            "run?); refusing to package a config that is not the one that ran"
        )


def _sources(facts: RunFacts, repo: Path, notes: list[str]) -> _Sources:
    """The workflow files of the run's commit (one recorded commit, else none), with notes on
    several commits, the files' origin and a dirty working tree."""
    commits = facts.values("git_commit")
    commit = commits[0] if len(commits) == 1 else None
    if len(commits) > 1:
        notes.append(f"jobs recorded {len(commits)} commits: {', '.join(commits)}")
    files, origin = workflow_sources(repo, commit)
    notes.append(origin)
    if True in facts.values("git_dirty"):
        notes.append(
            "tracked files were modified when the run started: the workflow files may "
            "differ from what ran"
        )
    return _Sources(files, origin, commit)


# --- the root dataset, the workflow and its rules --------------------------------------------


def _describe_root(crate: Any, facts: RunFacts, notes: list[str]) -> None:
    """The root dataset: name, description (status, config and data digests, ``notes`` so far),
    the run id, the publication date (``SOURCE_DATE_EPOCH``), license and conformsTo profiles."""
    data = facts.data_files
    crate.name = f"SpectraMind run {facts.run_id}"
    crate.description = (
        f"Provenance of SpectraMind run {facts.run_id}: {len(facts.jobs)} jobs, status "
        f"{facts.status}; config sha256 {facts.snapshot_sha256}; data digest "
        f"{data_digest(data)} ({len(data)} files); {'; '.join(notes)}."
    )
    crate.root_dataset["identifier"] = facts.run_id
    crate.root_dataset["datePublished"] = _source_date()
    crate.license = _entity(
        crate,
        "https://spdx.org/licenses/MIT",
        **{"@type": "CreativeWork"},
        name="MIT License",
        identifier="MIT",
    )
    for name, uri in PROFILES.items():
        profile = _entity(
            crate, uri, **{"@type": "CreativeWork"}, name=f"{name.title()} Run Crate", version="0.5"
        )
        crate.root_dataset.append_to("conformsTo", profile)
    crate.root_dataset.append_to(
        "conformsTo",
        _entity(
            crate,
            WROC_PROFILE,
            **{"@type": "CreativeWork"},
            name="Workflow RO-Crate",
            version="1.0",
        ),
    )


def _add_workflow(crate: Any, facts: RunFacts, sources: _Sources) -> tuple[Any, Any]:
    """The ``Snakefile`` as the main ``ComputationalWorkflow`` (language Snakemake), each
    ``workflow/rules/*.smk`` as its part, and the engine; returns (workflow, engine)."""
    snakemake_versions = facts.software["snakemake"]
    workflow = crate.add_workflow(
        io.BytesIO(sources.files["Snakefile"]),
        dest_path="Snakefile",
        main=True,
        lang="snakemake",
        lang_version=snakemake_versions[0] if snakemake_versions else None,
        properties={
            "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
            "name": "SpectraMind workflow",
            "description": "ADC 2025 raw frames -> submission.csv (Snakemake); " + sources.origin,
            "encodingFormat": "text/x-snakemake",
            "conformsTo": {"@id": BIOSCHEMAS_WORKFLOW},
            **_versioned(sources.commit),
        },
    )
    for path, content in sorted(sources.files.items()):
        if path.endswith(".smk"):
            crate.add_file(
                io.BytesIO(content),
                dest_path=path,
                properties={
                    "@type": ["File", "SoftwareSourceCode"],
                    "name": path,
                    "encodingFormat": "text/x-snakemake",
                    **_versioned(sources.commit),
                    "programmingLanguage": workflow["programmingLanguage"],
                    "isPartOf": workflow,
                },
            )
    engine = _entity(
        crate,
        "#snakemake-engine",
        **{"@type": "SoftwareApplication"},
        name="Snakemake",
        url="https://snakemake.readthedocs.io",
        softwareVersion=", ".join(snakemake_versions) or "unknown",
    )
    return workflow, engine


def _add_lock(crate: Any, sources: _Sources, notes: list[str]) -> None:
    """``requirements.lock``, the pip lock of the environment (else a note that there is none)."""
    if LOCK_FILE not in sources.files:
        notes.append(f"no {LOCK_FILE} found")
        return
    lock_bytes = sources.files[LOCK_FILE]
    crate.add_file(
        io.BytesIO(lock_bytes),
        dest_path=LOCK_FILE,
        properties={
            "name": LOCK_FILE,
            "encodingFormat": "text/plain",
            "sha256": hashlib.sha256(lock_bytes).hexdigest(),
            "description": "pip lock of the whole environment (pip freeze --all); "
            + sources.origin,
        },
    )


#: Record keys of the software a job ran with, and the name its ``SoftwareApplication`` gets.
_REQUIREMENTS = (
    ("spectramind_version", "spectramind"),
    ("python_version", "Python"),
    ("torch_version", "PyTorch"),
    ("cuda_version", "CUDA"),
)


def _add_rules(crate: Any, workflow: Any, facts: RunFacts, sources: _Sources) -> _Rules:
    """Per rule, in order of first execution: a ``SoftwareApplication`` (the tool: its software
    requirements, ``isPartOf`` its ``.smk``) that is part of the workflow, and a ``HowToStep``."""
    rules = _Rules(jobs=defaultdict(list))
    for job in facts.jobs:
        rules.jobs[job.rule].append(job)
    rule_files = rules_by_file(sources.files)
    for position, (rule, jobs) in enumerate(rules.jobs.items(), start=1):
        stage = jobs[0].stage
        requirements = [
            _software(crate, label, version)
            for key, label in _REQUIREMENTS
            for version in dict.fromkeys(str(j.record[key]) for j in jobs if j.record.get(key))
        ]
        tool = _entity(
            crate,
            f"#rule-{rule}",
            **{"@type": "SoftwareApplication"},
            name=f"rule {rule}",
            description=f"Snakemake rule {rule} (stage {stage}); runs `spectramind {stage}` "
            "through `spectramind run-stage`, which writes its manifest record",
            softwareRequirements=_one(requirements),
            **_versioned(sources.commit),
        )
        if rule in rule_files and rule_files[rule] != "Snakefile":
            tool["isPartOf"] = crate.get(quote(rule_files[rule]))
        workflow.append_to("hasPart", tool)
        step = _entity(
            crate,
            f"#step-{rule}",
            **{"@type": "HowToStep"},
            name=f"step {rule}",
            position=str(position),
            workExample=tool,
        )
        workflow.append_to("step", step)
        rules.tools[rule], rules.steps[rule] = tool, step
    return rules


# --- files, parameters and connections -------------------------------------------------------


def _add_workflow_parameters(builder: _Builder, workflow: Any) -> _Interface:
    """The config snapshot (copied in), the input data and deliverable ``File``s, and the
    workflow's ``FormalParameter``s for them (its ``input`` and ``output``)."""
    facts, crate = builder.facts, builder.crate
    snapshot = crate.add_file(
        facts.snapshot,
        dest_path=_relative(facts.snapshot, builder.base, facts.root),
        properties={
            "name": facts.snapshot.name,
            "encodingFormat": "application/yaml",
            "sha256": facts.snapshot_sha256,
            "contentSize": str(facts.snapshot.stat().st_size),
            "description": "the resolved configuration, frozen when the run started",
        },
    )
    inputs = [_parameter(crate, "#param-workflow-config", "config snapshot", "File", [snapshot])]
    external = [builder.file_entity(f) for f in facts.external_inputs]
    if external:
        inputs.append(_parameter(crate, "#param-workflow-data", "input data", "File", external))
    finals = [builder.file_entity(f) for f in facts.deliverables]
    outputs = (
        [_parameter(crate, "#param-workflow-out", "final outputs", "File", finals)]
        if finals
        else []
    )
    workflow["input"] = _one(inputs)
    if outputs:
        workflow["output"] = _one(outputs)
    return _Interface(snapshot, external, finals, inputs, outputs)


def _connection(crate: Any, source: Any, target: Any) -> Any:
    """The ``ParameterConnection`` from ``source`` to ``target`` (one per pair)."""
    return _entity(
        crate,
        f"#connection-{source.id.lstrip('#')}-to-{target.id.lstrip('#')}",
        **{"@type": "ParameterConnection"},
        sourceParameter=source,
        targetParameter=target,
    )


def _add_rule_parameters(
    builder: _Builder, workflow: Any, rules: _Rules, interface: _Interface
) -> None:
    """Each tool's ``output`` and ``input`` parameters, connected: a rule's outputs into the
    inputs of the rules that read them (the step's ``connection``) and into the workflow's
    final outputs (the workflow's ``connection``); input data into the rules that read it."""
    crate = builder.crate
    final_paths = {f.path for f in builder.facts.deliverables}
    connections: list[Any] = []  # into the workflow's outputs: the workflow's own
    out_params: dict[str, Any] = {}
    for rule, jobs in rules.jobs.items():
        outputs = [builder.file_entity(f) for j in jobs if j.status == "ok" for f in j.outputs]
        if outputs:
            out_params[rule] = _parameter(
                crate, f"#param-{rule}-out", f"{rule} outputs", "File", list(dict.fromkeys(outputs))
            )
            rules.tools[rule]["output"] = out_params[rule]
            if interface.outputs and any(f.path in final_paths for j in jobs for f in j.outputs):
                connections.append(_connection(crate, out_params[rule], interface.outputs[0]))
    producer = _producers(builder.facts)
    for rule, jobs in rules.jobs.items():
        by_origin = _inputs_by_origin(builder, jobs, producer)
        wildcards = _wildcard_values(crate, jobs)
        params, links = _input_parameters(crate, rule, by_origin, out_params, interface)
        params += _wildcard_parameters(crate, rule, wildcards)
        if params:
            rules.tools[rule]["input"] = _one(params)
        if links:
            rules.steps[rule]["connection"] = _one(links)
    if connections:
        workflow["connection"] = _one(connections)


def _producers(facts: RunFacts) -> dict[str, str]:
    """``{path: rule}`` of every file a job that ended ok wrote (the last such job wins)."""
    producer: dict[str, str] = {}
    for job in facts.jobs:
        if job.status == "ok":
            for f in job.outputs:
                producer[f.path] = job.rule
    return producer


def _inputs_by_origin(
    builder: _Builder, jobs: list[Job], producer: dict[str, str]
) -> dict[str, list[Any]]:
    """The ``File``s the jobs read, by the rule that wrote them (``external``: none of the run)."""
    by_origin: dict[str, list[Any]] = defaultdict(list)
    for job in jobs:
        for f in job.inputs:
            by_origin[producer.get(f.path, "external")].append(builder.file_entity(f))
    return by_origin


def _input_parameters(
    crate: Any,
    rule: str,
    by_origin: dict[str, list[Any]],
    out_params: dict[str, Any],
    interface: _Interface,
) -> tuple[list[Any], list[Any]]:
    """``rule``'s input parameters, one per origin, and the connections into them: from the
    origin rule's output parameter, or from the workflow's input data parameter."""
    params, links = [], []
    for origin_rule, examples in sorted(by_origin.items()):
        param = _parameter(
            crate,
            f"#param-{rule}-in-{origin_rule}",
            f"{rule} inputs from {origin_rule}",
            "File",
            list(dict.fromkeys(examples)),
        )
        params.append(param)
        if origin_rule == "external" and len(interface.inputs) > 1:
            links.append(_connection(crate, interface.inputs[1], param))
        elif origin_rule in out_params:
            links.append(_connection(crate, out_params[origin_rule], param))
    return params, links


def _wildcard_values(crate: Any, jobs: list[Job]) -> dict[str, list[Any]]:
    """``{wildcard: [PropertyValue per job]}``: one entity per ``name=value``, shared by the jobs
    (their actions name them as ``object``)."""
    names: dict[str, list[Any]] = defaultdict(list)
    for job in jobs:
        for name, value in sorted(job.wildcards.items()):
            names[name].append(
                _entity(
                    crate,
                    _local_id("wildcard", f"{name}={value}"),
                    **{"@type": "PropertyValue"},
                    name=name,
                    value=value,
                )
            )
    return names


def _wildcard_parameters(crate: Any, rule: str, names: dict[str, list[Any]]) -> list[Any]:
    """One ``Text`` parameter per wildcard of ``rule``, its values as examples."""
    return [
        _parameter(
            crate,
            f"#param-{rule}-wildcard-{name}",
            f"wildcard {name}",
            "Text",
            list(dict.fromkeys(values)),
        )
        for name, values in sorted(names.items())
    ]


# --- actions: what each job did, the workflow run, the engine --------------------------------


def _add_actions(
    builder: _Builder, workflow: Any, engine: Any, rules: _Rules, interface: _Interface
) -> None:
    """Per job a ``CreateAction`` of its rule wrapped by a ``ControlAction`` of its step, then the
    ``CreateAction`` of the workflow and the engine's ``OrganizeAction``; the root dataset
    ``mentions`` the run's and the jobs' actions."""
    crate, facts = builder.crate, builder.facts
    controls, job_actions = [], []
    for index, job in enumerate(facts.jobs, start=1):
        action = _job_action(builder, index, job, rules.tools[job.rule])
        job_actions.append(action)
        controls.append(
            _entity(
                crate,
                f"#control-{index:04d}-{job.rule}",
                **{"@type": "ControlAction"},
                name=f"orchestrate {job.label}",
                instrument=rules.steps[job.rule],
                object=action,
            )
        )
    run_action = crate.add_action(
        workflow,
        identifier=f"#run-{facts.run_id}",
        object=_one([interface.snapshot, *interface.external]),
        result=_one(interface.finals) if interface.finals else None,
        properties=_run_properties(facts),
    )
    _entity(
        crate,
        "#organize",
        **{"@type": "OrganizeAction"},
        name=f"Snakemake orchestration of run {facts.run_id}",
        instrument=engine,
        object=controls,
        result=run_action,
        **({"startTime": _time(facts.start)} if facts.start else {}),
        **({"endTime": _time(facts.end)} if facts.end else {}),
    )
    crate.root_dataset["mentions"] = [run_action, *job_actions]


def _job_action(builder: _Builder, index: int, job: Job, tool: Any) -> Any:
    """The ``CreateAction`` of one job: its input files and wildcard values (``object``), its
    output files when it ended ok (``result``), times, status, error, command, host and the
    environment it ran with."""
    crate = builder.crate
    properties: dict[str, Any] = {
        "@type": "CreateAction",
        "name": f"{job.label} ({job.status})",
        "description": f"{job.label} on host {job.host or '?'}: "
        f"{shlex.join(job.command) if job.command else 'no command recorded'}",
    }
    if job.start:
        properties["startTime"] = _time(job.start)
    if job.end:
        properties["endTime"] = _time(job.end)
    if job.status in _STATUS:
        properties["actionStatus"] = _STATUS[job.status]
    if job.status != "ok" and job.status in _STATUS:
        properties["error"] = job.error_message
    objects = [builder.file_entity(f) for f in job.inputs] + [
        crate.get(_local_id("wildcard", f"{n}={v}")) for n, v in sorted(job.wildcards.items())
    ]
    results = [builder.file_entity(f) for f in job.outputs] if job.status == "ok" else []
    action = crate.add_action(
        tool,
        identifier=f"#job-{index:04d}-{job.rule}",
        object=_one(objects) if objects else None,
        result=_one(results) if results else None,
        properties=properties,
    )
    environment = [
        _entity(
            crate,
            _local_id("env", f"{name}={value}"),
            **{"@type": "PropertyValue"},
            name=name,
            value=str(value),
        )
        for name, value in _environment(job.record)
    ]
    if environment:
        action["environment"] = _one(environment)
    return action


def _run_properties(facts: RunFacts) -> dict[str, Any]:
    """Name, description (jobs per status), times and status of the workflow run's action."""
    properties: dict[str, Any] = {
        "@type": "CreateAction",
        "name": f"SpectraMind run {facts.run_id}",
        "description": f"snakemake run {facts.run_id}: {len(facts.jobs)} jobs, "
        + ", ".join(f"{n} {s}" for s, n in sorted(facts.status_counts.items())),
    }
    if facts.start:
        properties["startTime"] = _time(facts.start)
    if facts.end:
        properties["endTime"] = _time(facts.end)
    run_status = "ok" if facts.status == "ok" else "failed"
    properties["actionStatus"] = _STATUS[run_status]
    if run_status == "failed":
        properties["error"] = f"{len(facts.jobs) - facts.status_counts.get('ok', 0)} jobs not ok"
    return properties


# --- audit documents -------------------------------------------------------------------------


def _add_audit_documents(crate: Any, facts: RunFacts, repo: Path, notes: list[str]) -> None:
    """The run's ``events.jsonl`` manifests and the DVC lineage (``dvc.yaml``, ``dvc.lock``) as
    found in ``repo`` (a note for each one missing)."""
    for events in facts.events_files:
        crate.add_file(
            events,
            dest_path=_relative(events, repo, facts.root),
            properties={
                "name": f"manifest of stage {events.parent.parent.name}",
                "encodingFormat": "application/x-ndjson",
                "sha256": sha256_file(events),
                "description": "run manifest records (ADR 0006), one JSON object per line",
            },
        )
    for name in LINEAGE_FILES:
        if (repo / name).is_file():
            crate.add_file(
                repo / name,
                dest_path=name,
                properties={
                    "name": name,
                    "encodingFormat": "application/yaml",
                    "sha256": sha256_file(repo / name),
                    "description": "DVC lineage, as found in the workflow folder at export",
                },
            )
        else:
            notes.append(f"no {name} in {repo}")


def _add_sboms(crate: Any, sbom_dir: Path, notes: list[str]) -> None:
    """The SBOMs and their gate results under ``sbom/`` (a note when ``sbom_dir`` has none)."""
    found = 0
    for name, (encoding, description) in SBOM_FILES.items():
        if (sbom_dir / name).is_file():
            found += 1
            crate.add_file(
                sbom_dir / name,
                dest_path=f"sbom/{name}",
                properties={
                    "name": name,
                    "encodingFormat": encoding,
                    "sha256": sha256_file(sbom_dir / name),
                    "description": f"{description}, as found in {sbom_dir} at export",
                },
            )
    if not found:
        notes.append(f"no SBOMs in {sbom_dir} (run `spectramind sbom --out {sbom_dir}`)")


def _add_cve_report(crate: Any, sources: _Sources, cve_ignore: Path | str | None) -> None:
    """``supply/cve-offline.json``: the offline CVE gate on the run's lock (when there is one)."""
    if LOCK_FILE not in sources.files:
        return
    text = json.dumps(_cve_report(sources.files[LOCK_FILE], cve_ignore), indent=2) + "\n"
    crate.add_file(
        io.BytesIO(text.encode()),
        dest_path=CVE_REPORT,
        properties={
            "name": "offline CVE gate",
            "encodingFormat": "application/json",
            "description": f"offline CVE gate on the run's {LOCK_FILE} "
            "(vendored PyPA advisory snapshot; date and age inside)",
        },
    )


def _add_readme(crate: Any, facts: RunFacts, notes: list[str]) -> None:
    """``README.md`` about the root dataset: what the crate holds, all notes, the audit summary."""
    crate.add_file(
        io.BytesIO(_readme(facts, notes).encode()),
        dest_path="README.md",
        properties={
            "name": "README.md",
            "encodingFormat": "text/markdown",
            "about": crate.root_dataset,
            "description": "what this crate holds, and the run's audit summary (`runs show`)",
        },
    )


def _cve_report(lock: bytes, ignore: Path | str | None) -> dict[str, Any]:
    """The offline CVE gate on the packaged lock (the run's, from its commit)."""
    from spectramind.supply.osv import offline_cve_report

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / LOCK_FILE
        path.write_bytes(lock)
        report = offline_cve_report(path, ignore)
    report["lock"] = LOCK_FILE
    return report


def _readme(facts: RunFacts, notes: list[str]) -> str:
    summary = "\n".join(summary_lines(facts))
    noted = "".join(f"- {note}\n" for note in notes)
    return f"""# SpectraMind run {facts.run_id}: Provenance Run Crate

An RO-Crate 1.1 conforming to the Workflow Run Crate profiles 0.5 (Process, Workflow and
Provenance Run Crate) and Workflow RO-Crate 1.0. `ro-crate-metadata.json` describes the workflow
(`Snakefile`, `workflow/rules/*.smk`), one action per job with its input and output files
(SHA-256 and size), the config snapshot, the run manifests (`artifacts/runs/*/{facts.run_id}/`),
the DVC lineage, the SBOMs and the offline CVE gate result. Data files are referenced by hash
(`#file:<path>`, `alternateName` = the recorded path) unless the crate was exported with
`--include-data`.

Validate (offline): `spectramind runs validate-crate <this crate>`.

Notes:
{noted}
## Audit summary (`spectramind runs show {facts.run_id}`)

```
{summary}
```
"""


def _relative(path: Path, repo: Path, root: Path | None = None) -> str:
    """``path`` inside the crate: relative to the workflow folder, else to the runs root
    (under ``runs/``), else its name."""
    for base, prefix in ((repo, ""), (root, "runs/")):
        if base is None:
            continue
        try:
            return prefix + path.resolve().relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            continue
    return path.name


def _environment(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """Environment variables a job ran with, as recorded: thread pins, GPUs, cluster job id."""
    threads = record.get("threads")
    pairs = []
    if isinstance(threads, dict):
        pairs = [(k, v) for k, v in sorted(threads.items()) if k.isupper() and v is not None]
    if record.get("cuda_visible_devices") is not None:
        pairs.append(("CUDA_VISIBLE_DEVICES", record["cuda_visible_devices"]))
    if record.get("cluster_job_id") is not None:
        pairs.append(("CLUSTER_JOB_ID", record["cluster_job_id"]))
    return pairs


def _entity_types(crate: Any) -> Counter:
    counts: Counter = Counter()
    for item in crate.get_entities():
        types = item.type if isinstance(item.type, list) else [item.type]
        counts[types[-1] if "File" in types and len(types) > 1 else types[0]] += 1
    return counts


def zip_folder(folder: Path, out: Path) -> None:
    """Zip ``folder``'s files in sorted order with fixed timestamps (byte-stable archives)."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01, zip's minimum
    stamp = datetime.fromtimestamp(max(epoch, 315532800), UTC).timetuple()[:6]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=stamp)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as src, archive.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def export_run_crate(
    facts: RunFacts,
    out: Path | str,
    repo: Path | str = ".",
    sbom_dir: Path | str | None = None,
    include_data: bool = False,
    cve_ignore: Path | str | None = None,
) -> CrateExport:
    """Write the crate to ``out`` (a ``.zip`` file, else a folder); nothing is left on failure."""
    out = Path(out)
    if out.exists():
        raise CrateError(f"{out} already exists; remove it or choose another path")
    crate, builder, notes = build_crate(facts, repo, sbom_dir, include_data, cve_ignore)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = staging / "crate"
        crate.write(folder)
        if out.suffix.lower() == ".zip":
            zip_folder(folder, staging / "crate.zip")
            os.replace(staging / "crate.zip", out)
            size = out.stat().st_size
        else:
            os.replace(folder, out)
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    types = _entity_types(crate)
    return CrateExport(
        path=out,
        size_bytes=size,
        entities=sum(types.values()),
        types=types,
        files_included=builder.included,
        files_referenced=builder.referenced,
        notes=notes,
    )
