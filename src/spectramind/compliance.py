"""ADR-0006 compliance gates on a finished run: :func:`check_compliance`.

One :class:`Gate` per promise of the reproducibility standard (docs/compliance.md):

- ``events``: every record of the run is ``ok`` (none ``failed``, ``interrupted`` or damaged), and
  every stage (``simulate`` only when the run used the embedded synthetic dataset) has ``ok``
  records in the run or, for a run resumed after a crash, in the earlier runs whose outputs it
  reused (its lineage, :func:`spectramind.repro.audit.lineage_closure`);
- ``snapshot``: the run's config snapshot exists and every record names it with its SHA-256;
- ``artifacts``: ``spectramind runs verify``: every artifact of the run's lineage still has its
  recorded size and SHA-256, and every consumed file had the hash its producer recorded;
- ``dvc``: ``dvc status`` reports the pipeline up to date;
- ``sbom``: both SBOMs present and valid, and the declared-and-pinned and license gates pass on
  the packages they list (``spectramind.supply``);
- ``determinism``: the determinism check's result file says it passed;
- ``crate``: the run exports as a Provenance Run Crate that roc-validator accepts at the
  REQUIRED level (:func:`check_crate`; docs/audit.md);
- ``cve``: no locked version has a known, non-ignored vulnerability in the vendored advisory
  snapshot, which is named with its date and age (:func:`check_offline_cve`, offline).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import zipfile
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spectramind.errors import SpectraMindError
from spectramind.repro.audit import (
    RunNotFoundError,
    all_records,
    latest_run_id,
    lineage_closure,
    stage_runs,
    verify_run,
)
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import EVENTS_NAME, STATUS_OK, DamagedLine, read_records
from spectramind.repro.snapshot import snapshot_path

log = logging.getLogger(__name__)

#: Stages every finished run must have recorded, in workflow order.
PIPELINE_STAGES = ("calibrate", "fit", "train", "predict", "submit")
#: Recorded only when the run simulated its dataset (``data_dir`` empty).
SIMULATE_STAGE = "simulate"

DEFAULT_RUNS_ROOT = Path("artifacts/runs")
DEFAULT_SBOM_DIR = Path("artifacts/sbom")
DEFAULT_DETERMINISM = Path("artifacts/determinism/result.json")

#: At most this many problem lines are shown under a failed gate.
MAX_DETAILS = 20


class ComplianceError(SpectraMindError):
    """The compliance check itself cannot run (e.g. an unknown run id)."""


@dataclass
class Gate:
    """The outcome of one gate: ``passed``, a one-line ``summary`` and the problems found."""

    name: str
    passed: bool
    summary: str
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.summary}"
        shown = [f"  - {p}" for p in self.problems[:MAX_DETAILS]]
        if len(self.problems) > MAX_DETAILS:
            shown.append(f"  ... and {len(self.problems) - MAX_DETAILS} more")
        return [head, *shown]


@dataclass
class ComplianceReport:
    run_id: str
    gates: list[Gate]

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def lines(self) -> list[str]:
        out = [line for gate in self.gates for line in gate.lines()]
        failed = [g.name for g in self.gates if not g.passed]
        verdict = "PASS" if not failed else f"FAIL ({', '.join(failed)})"
        out.append(f"compliance {self.run_id}: {verdict}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "passed": self.passed,
            "gates": [
                {"name": g.name, "passed": g.passed, "summary": g.summary, "problems": g.problems}
                for g in self.gates
            ],
        }


def run_snapshot(root: Path, run_id: str) -> dict[str, Any] | None:
    """The run's frozen config, or None when the snapshot is missing or unreadable."""
    path = snapshot_path(run_id, root)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None


def required_stages(config: dict[str, Any] | None) -> list[str]:
    """Stages the run must have recorded; ``simulate`` when ``data_dir`` is empty (or unknown)."""
    simulated = config is None or not config.get("data_dir")
    return [SIMULATE_STAGE, *PIPELINE_STAGES] if simulated else list(PIPELINE_STAGES)


def _in_run(damaged: DamagedLine, root: Path, run_id: str) -> bool:
    return Path(damaged.path).parent.name == run_id and Path(damaged.path).is_relative_to(root)


def check_events(root: Path, run_id: str, base: Path | None = None) -> Gate:
    """Every record of the run is ok, and every required stage is covered by an ok record of
    the run or of the earlier runs whose outputs it reused."""
    stages = required_stages(run_snapshot(root, run_id))
    damaged: list[DamagedLine] = []
    runs = all_records(root, damaged)
    own = runs.get(run_id, [])
    problems = [str(d) for d in damaged if _in_run(d, root, run_id)]
    status: dict[str, Counter] = {}
    for record in own:
        status.setdefault(record.get("stage", "?"), Counter())[record.get("status", "?")] += 1
    for stage, counts in sorted(status.items()):
        bad = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != STATUS_OK)
        if bad:
            problems.append(f"{stage}: {bad} record(s) in {root / stage / run_id / EVENTS_NAME}")
    closure = lineage_closure(runs, run_id, base if base is not None else root.parent.parent)
    reused: dict[str, Counter] = {}
    for record in closure.records[len(own) :]:
        reused.setdefault(record.get("stage", "?"), Counter())[record.get("run_id", "?")] += 1
    counts = {}
    for stage in stages:
        parts = [str(status.get(stage, Counter())[STATUS_OK])] if stage in status else []
        parts += [f"{n} reused from {run}" for run, n in sorted(reused.get(stage, {}).items())]
        if parts:
            counts[stage] = " + ".join(parts)
        else:
            path = root / stage / run_id / EVENTS_NAME
            problems.append(
                f"{stage}: no {path}, and no earlier run produced what this run consumed"
            )
    summary = (
        f"{len(stages)} stages recorded ({', '.join(f'{s} {n}' for s, n in counts.items())})"
        if not problems
        else f"{len(problems)} problems in {len(stages)} stages"
    )
    return Gate("events", not problems, summary, problems)


def check_snapshot(root: Path, run_id: str) -> Gate:
    """The run's snapshot exists, and every record names it with its current SHA-256."""
    path = snapshot_path(run_id, root)
    if not path.is_file():
        return Gate("snapshot", False, f"{path} missing", [f"no config snapshot at {path}"])
    digest = sha256_file(path)
    problems = []
    records = 0
    for stage, runs in stage_runs(root).items():
        if run_id not in runs or not (root / stage / run_id / EVENTS_NAME).is_file():
            continue
        for i, record in enumerate(read_records(root / stage / run_id / EVENTS_NAME), 1):
            records += 1
            where = f"{stage} record {i}"
            recorded = record.get("config_sha256")
            named = record.get("config_snapshot_path")
            if not recorded:
                problems.append(f"{where}: no config_sha256")
            elif recorded != digest:
                problems.append(
                    f"{where}: config_sha256 {recorded[:16]}... but {path} hashes to "
                    f"{digest[:16]}... (snapshot edited?)"
                )
            if not named or Path(named).name != path.name or Path(named).parent.name != run_id:
                problems.append(f"{where}: config_snapshot_path {named!r} is not {path}")
    if not records:
        problems.append(f"no records of run {run_id} name the snapshot")
    summary = f"{path} sha256 {digest[:16]}..., recorded in {records} records"
    if problems:
        summary = f"{path}: {len(problems)} problems"
    return Gate("snapshot", not problems, summary, problems)


def check_artifacts(root: Path, run_id: str, base: Path) -> Gate:
    """``spectramind runs verify``: recorded artifacts re-hash to their recorded SHA-256."""
    try:
        report = verify_run(root, run_id, base=base)
    except RunNotFoundError as err:
        return Gate("artifacts", False, str(err), [str(err)])
    problems = [str(p) for p in report.problems]
    summary = f"{report.checked} files re-hashed" + (
        f", {len(problems)} problems" if problems else ", all match"
    )
    return Gate("artifacts", report.ok, summary, problems)


def dvc_status(repo: Path) -> tuple[int, str, str]:
    """``dvc status --json`` in ``repo``: (exit code, stdout, stderr)."""
    dvc = shutil.which("dvc")
    if dvc is None:
        return 127, "", "dvc is not installed (pip install dvc)"
    proc = subprocess.run(
        [dvc, "status", "--json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def check_dvc(repo: Path) -> Gate:
    """``dvc status`` is clean: no stage with changed deps, outs or command."""
    if not (repo / "dvc.yaml").is_file():
        return Gate("dvc", False, f"no dvc.yaml in {repo}", [f"{repo}/dvc.yaml missing"])
    code, out, err = dvc_status(repo)
    if code != 0:
        message = (err.strip().splitlines() or ["no output"])[-1]
        return Gate("dvc", False, f"dvc status failed (exit {code})", [message])
    try:
        status = json.loads(out or "{}")
    except json.JSONDecodeError:
        return Gate("dvc", False, "dvc status gave no JSON", [out.strip()[:200]])
    problems = []
    for stage, changes in sorted(status.items()):
        for change in changes if isinstance(changes, list) else [changes]:
            if isinstance(change, dict):
                for kind, detail in sorted(change.items()):
                    problems.append(f"{stage}: {kind} {json.dumps(detail, sort_keys=True)}")
            else:
                problems.append(f"{stage}: {change}")
    summary = "dvc status: pipeline up to date" if not problems else "dvc status: not up to date"
    return Gate("dvc", not problems, summary, problems)


def check_sboms(
    sbom_dir: Path,
    lock_path: Path,
    allowlist_path: Path,
    ignore_path: Path | None,
) -> Gate:
    """Both SBOMs present and valid; declared-and-pinned and license gates pass on them.

    The CVE scan needs a network and runs in CI (``spectramind sbom``); its last recorded
    status (``sbom-gates.json``) is reported as a note, SKIPPED said plainly.
    """
    from spectramind.supply import (
        SupplyChainError,
        load_components,
        load_policy,
        read_lock,
        validate_cyclonedx,
        validate_spdx,
    )
    from spectramind.supply.audit import REPORT_NAME, load_exempt
    from spectramind.supply.inventory import undeclared_gate
    from spectramind.supply.licenses import licenses_gate
    from spectramind.supply.sboms import CYCLONEDX_NAME, SPDX_NAME

    spdx, cdx = sbom_dir / SPDX_NAME, sbom_dir / CYCLONEDX_NAME
    missing = [str(p) for p in (spdx, cdx) if not p.is_file()]
    if missing:
        return Gate(
            "sbom",
            False,
            f"missing in {sbom_dir} (run `spectramind sbom --out {sbom_dir}`)",
            [f"{p} not found" for p in missing],
        )
    problems = [f"{spdx.name}: {m}" for m in validate_spdx(spdx)]
    problems += [f"{cdx.name}: {m}" for m in validate_cyclonedx(cdx)]
    if problems:
        return Gate("sbom", False, "invalid SBOM", problems)
    try:
        root, installed = load_components(cdx)
        exempt = load_exempt(ignore_path)
        if root:
            exempt.setdefault(root, "the project itself (installed editable)")
        gates = [
            undeclared_gate(installed, read_lock(lock_path), exempt),
            licenses_gate(installed, load_policy(allowlist_path, ignore_path)),
        ]
    except SupplyChainError as err:
        return Gate("sbom", False, "cannot check the SBOM", [str(err)])
    for gate in gates:
        problems += [f"{gate.name}: {f.package}: {f.message}" for f in gate.findings]
    summary = f"{spdx.name} + {cdx.name} valid, {len(installed)} components"
    summary += ", " + ", ".join(f"{g.name} {g.status.value}" for g in gates)
    summary += ", " + _cve_note(sbom_dir / REPORT_NAME)
    return Gate("sbom", not problems, summary, problems)


def _cve_note(gates_json: Path) -> str:
    try:
        gates = json.loads(gates_json.read_text(encoding="utf-8"))["gates"]
        cve = next(g for g in gates if g["name"] == "cve")
    except (OSError, ValueError, KeyError, StopIteration):
        return "pip-audit CVE cross-check: no record (runs online in sbom-refresh.yml)"
    if cve["status"] == "skipped":
        return (
            f"pip-audit CVE cross-check SKIPPED ({cve.get('reason') or 'no scanner'}; runs "
            "online in sbom-refresh; the offline CVE gate is `cve` below)"
        )
    return f"pip-audit CVE cross-check {cve['status']}"


def check_determinism(result_path: Path) -> Gate:
    """The determinism check's result file exists and says it passed."""
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Gate(
            "determinism",
            False,
            f"{result_path} missing (run `spectramind determinism-check`)",
            [f"{result_path} not found"],
        )
    except (OSError, ValueError) as err:
        return Gate("determinism", False, f"{result_path} unreadable", [str(err)])
    problems = [f"same seed: {m}" for m in result.get("same_seed_mismatches", [])]
    if not result.get("other_seed_differs", False):
        problems.append("the run with another seed gave identical outputs: the check is blind")
    cross = result.get("cross_cpu")
    if cross:
        profile = cross.get("profile")
        problems += [f"CPU profile {profile}: {m}" for m in cross.get("mismatches", [])]
        problems += [f"CPU profile {profile}: {m}" for m in cross.get("pin_problems", [])]
        if not cross.get("passed", False) and not cross.get("mismatches"):
            problems.append(f"CPU profile {profile}: result says passed: false")
    if not result.get("passed", False) and not problems:
        problems.append("result says passed: false")
    summary = (
        f"{len(result.get('outputs', {}))} outputs identical for seed {result.get('seed')}, "
        f"differ for seed {result.get('other_seed')}; {_cross_cpu_summary(cross)}"
        if not problems
        else f"{result_path}: failed"
    )
    return Gate("determinism", not problems, summary, problems)


def check_crate(
    root: Path,
    run_id: str,
    repo: Path,
    sbom_dir: Path,
    ignore_path: Path | None,
    crate_path: Path | None = None,
) -> Gate:
    """The run's Provenance Run Crate passes roc-validator (REQUIRED level, offline).

    Validates ``crate_path`` when given (its root ``identifier`` must be ``run_id``), else
    exports the run to a temporary folder first (``spectramind runs export``).
    """
    from spectramind.crate.export import CrateError, export_run_crate
    from spectramind.crate.validation import CrateValidationError, validate_crate
    from spectramind.repro.runview import load_run

    with tempfile.TemporaryDirectory(prefix="spectramind-crate-") as tmp:
        try:
            if crate_path is None:
                export = export_run_crate(
                    load_run(root, run_id),
                    Path(tmp) / f"run-{run_id}",
                    repo=repo,
                    sbom_dir=sbom_dir,
                    cve_ignore=ignore_path,
                )
                crate, described = (
                    export.path,
                    (f"exported {export.entities} entities, {export.size_bytes} bytes"),
                )
            else:
                crate, described = crate_path, f"{crate_path}"
                named = crate_run_id(crate_path)
                if named != run_id:
                    return Gate(
                        "crate",
                        False,
                        f"{crate_path} is not run {run_id}",
                        [f"{crate_path}: root identifier {named!r}, expected {run_id}"],
                    )
            result = validate_crate(crate)
        except (CrateError, CrateValidationError, RunNotFoundError) as err:
            return Gate("crate", False, "no valid crate", [str(err)])
    summary = (
        f"{described}; roc-validator {result.validator_version} {result.profile} "
        f"{result.severity.upper()}: {'no issues' if result.passed else 'FAILED'} "
        f"({result.checks_executed} checks)"
    )
    return Gate("crate", result.passed, summary, [str(i) for i in result.issues])


def crate_run_id(crate: Path) -> str | None:
    """The root ``identifier`` of an exported crate (folder or zip), None if unreadable."""
    try:
        if crate.is_file():
            with zipfile.ZipFile(crate) as archive:
                text = archive.read("ro-crate-metadata.json").decode("utf-8")
        else:
            text = (crate / "ro-crate-metadata.json").read_text(encoding="utf-8")
        graph = json.loads(text)["@graph"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    root = next((e for e in graph if e.get("@id") == "./"), {})
    return root.get("identifier")


def check_offline_cve(lock_path: Path, ignore_path: Path | None) -> Gate:
    """``spectramind cve check``: the lock against the vendored advisory snapshot, offline."""
    from spectramind.supply import SupplyChainError
    from spectramind.supply.findings import GateStatus
    from spectramind.supply.osv import check_lock

    try:
        result = check_lock(lock_path, ignore_path)
    except SupplyChainError as err:
        return Gate("cve", False, "cannot run the offline CVE gate", [str(err)])
    problems = [f"{f.package}: {f.message}" for f in result.findings]
    summary = (
        f"{result.checked} pins of {lock_path.name}, {len(problems)} known vulnerabilities; "
        + result.notes[0]
    )
    return Gate("cve", result.status is not GateStatus.FAIL, summary, problems)


def _cross_cpu_summary(cross: dict | None) -> str:
    """One clause on the cross-CPU run of a determinism result (explicit when it did not run)."""
    if not cross:
        return "cross-CPU not checked (determinism-check --cross-cpu)"
    outputs = cross.get("outputs", {})
    statuses = [h.get("status") for h in outputs.values()]
    tolerated = [p for p, h in sorted(outputs.items()) if h.get("status") == "within tolerance"]
    clause = (
        f"{statuses.count('identical')} identical under CPU profile {cross.get('profile')} "
        f"(threads {cross.get('threads')})"
    )
    if tolerated:
        clause += f", {len(tolerated)} only within a declared tolerance: {', '.join(tolerated)}"
    return clause


def check_compliance(
    run_id: str | None = None,
    repo: Path | str = ".",
    runs_root: Path | str | None = None,
    sbom_dir: Path | str | None = None,
    determinism_result: Path | str | None = None,
    lock_path: Path | str | None = None,
    allowlist_path: Path | str | None = None,
    ignore_path: Path | str | None = None,
    crate_path: Path | str | None = None,
    skip: Collection[str] = (),
) -> ComplianceReport:
    """Run every gate on ``run_id`` (default: the latest run under ``runs_root``).

    Relative paths are taken relative to ``repo`` (the workflow folder). ``crate_path`` is an
    exported crate of the run to validate (default: export one to a temporary folder).
    ``skip`` names gates not to run (tests of one gate; the CLI runs them all).
    """
    repo = Path(repo)

    def under_repo(path: Path | str | None, default: Path | str) -> Path:
        path = Path(path if path is not None else default)
        return path if path.is_absolute() else repo / path

    root = under_repo(runs_root, DEFAULT_RUNS_ROOT)
    try:
        run_id = run_id or latest_run_id(root)
    except RunNotFoundError as err:
        raise ComplianceError(f"{err}: run the workflow first") from err
    if not any(run_id in runs for runs in stage_runs(root).values()):
        raise ComplianceError(f"run {run_id} has no records under {root}")
    ignore = under_repo(ignore_path, "config/sbom-ignore.yaml")
    gates = [
        check_events(root, run_id, repo),
        check_snapshot(root, run_id),
        check_artifacts(root, run_id, repo),
        check_dvc(repo),
        check_sboms(
            under_repo(sbom_dir, DEFAULT_SBOM_DIR),
            under_repo(lock_path, "requirements.lock"),
            under_repo(allowlist_path, "config/license-allowlist.yaml"),
            ignore if ignore.is_file() else None,
        ),
        check_determinism(under_repo(determinism_result, DEFAULT_DETERMINISM)),
    ]
    if "crate" not in skip:
        gates.append(
            check_crate(
                root,
                run_id,
                repo,
                under_repo(sbom_dir, DEFAULT_SBOM_DIR),
                ignore if ignore.is_file() else None,
                under_repo(crate_path, "") if crate_path is not None else None,
            )
        )
    if "cve" not in skip:
        gates.append(
            check_offline_cve(
                under_repo(lock_path, "requirements.lock"), ignore if ignore.is_file() else None
            )
        )
    for gate in gates:
        log.debug("gate %s: %s", gate.name, "pass" if gate.passed else "fail")
    return ComplianceReport(run_id, gates)
