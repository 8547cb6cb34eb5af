"""Known-vulnerability gate: pip-audit against the exact installed versions, when it can run.

pip-audit needs its online database (PyPI / OSV) and has no offline mode. When it is missing or
cannot reach the network, the gate is SKIPPED with the reason, never silently passed.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name

from spectramind.supply.findings import Finding, GateResult, GateStatus, SupplyChainError
from spectramind.supply.inventory import Component

log = logging.getLogger(__name__)

GATE_CVE = "cve"


@dataclass(frozen=True)
class IgnoredVulnerability:
    """A curated false positive or accepted risk: ``id`` (or an alias) for ``package``."""

    id: str
    package: str
    reason: str


def load_ignored_vulnerabilities(ignore_path: Path | None) -> list[IgnoredVulnerability]:
    """The ``cves`` list of ``sbom-ignore.yaml``; each entry needs id, package and reason."""
    if ignore_path is None:
        return []
    try:
        data = yaml.safe_load(Path(ignore_path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SupplyChainError(f"cannot read {ignore_path}: {err}") from err
    out = []
    for item in data.get("cves", []) or []:
        if not all(str(item.get(k, "")).strip() for k in ("id", "package", "reason")):
            raise SupplyChainError(f"{ignore_path} cves: entry {item!r} needs id, package, reason")
        out.append(IgnoredVulnerability(item["id"], item["package"], item["reason"]))
    return out


def pip_audit_command() -> list[str] | None:
    """How to run pip-audit here (module of this interpreter, else on PATH), or None."""
    if importlib.util.find_spec("pip_audit") is not None:
        return [sys.executable, "-m", "pip_audit"]
    exe = shutil.which("pip-audit")
    return [exe] if exe else None


def parse_pip_audit_json(
    report: dict, ignored: list[IgnoredVulnerability]
) -> tuple[list[Finding], list[str]]:
    """Findings from pip-audit's ``--format json`` report, minus the curated ignores.

    Returns ``(findings, notes)``; notes name the ignored hits and packages pip-audit skipped.
    """
    ignore = {(canonicalize_name(i.package), i.id.upper()): i for i in ignored}
    findings, notes = [], []
    for dep in report.get("dependencies", []):
        name, version = dep.get("name", "?"), dep.get("version", "?")
        if dep.get("skip_reason"):
            notes.append(f"pip-audit skipped {name}: {dep['skip_reason']}")
        for vuln in dep.get("vulns", []):
            ids = [vuln.get("id", "?"), *vuln.get("aliases", [])]
            hit = next(
                (
                    ignore[(canonicalize_name(name), i.upper())]
                    for i in ids
                    if (canonicalize_name(name), i.upper()) in ignore
                ),
                None,
            )
            if hit:
                notes.append(f"ignored {hit.id} in {name}: {hit.reason.strip()}")
                continue
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none known"
            findings.append(
                Finding(name, "vulnerability", f"{version}: {' / '.join(ids)} (fixed in {fixes})")
            )
    return findings, notes


def check_cves(
    installed: list[Component],
    ignored: list[IgnoredVulnerability],
    enabled: bool = True,
    timeout_s: float = 300.0,
) -> GateResult:
    """Run pip-audit on the exact ``name==version`` list; SKIPPED when it cannot run."""
    if not enabled:
        return GateResult(GATE_CVE, GateStatus.SKIPPED, reason="disabled by --no-cve")
    command = pip_audit_command()
    if command is None:
        return GateResult(
            GATE_CVE,
            GateStatus.SKIPPED,
            reason="pip-audit is not installed (no offline vulnerability database here); "
            "run the CVE scan in CI (sbom-refresh workflow)",
        )
    with tempfile.TemporaryDirectory() as tmp:
        reqs = Path(tmp) / "installed.txt"
        reqs.write_text("".join(f"{c.name}=={c.version}\n" for c in installed), encoding="utf-8")
        argv = [
            *command,
            "-r",
            str(reqs),
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ]
        log.info("CVE scan: %s", " ".join(argv))
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return GateResult(
                GATE_CVE, GateStatus.SKIPPED, reason=f"pip-audit timed out after {timeout_s:.0f} s"
            )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return GateResult(
            GATE_CVE,
            GateStatus.SKIPPED,
            reason=f"pip-audit could not complete (exit {proc.returncode}; offline?): {tail}",
        )
    findings, notes = parse_pip_audit_json(report, ignored)
    return GateResult.from_findings(GATE_CVE, findings, len(installed), notes=notes)
