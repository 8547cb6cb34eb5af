"""One call that writes both SBOMs and runs the gates: :func:`audit_environment`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name

from spectramind.io import atomic_path
from spectramind.supply.cve import check_cves, load_ignored_vulnerabilities
from spectramind.supply.findings import GateResult, GateStatus, SupplyChainError
from spectramind.supply.inventory import load_components, read_lock, undeclared_gate
from spectramind.supply.licenses import licenses_gate, load_policy
from spectramind.supply.osv import check_offline_cves, load_snapshot
from spectramind.supply.sboms import SbomPaths, generate_sboms

log = logging.getLogger(__name__)

REPORT_NAME = "sbom-gates.json"


@dataclass
class SupplyReport:
    """SBOM paths, per-file facts (components, bytes) and one result per gate."""

    sboms: SbomPaths
    components: int
    sizes: dict[str, int]
    gates: list[GateResult] = field(default_factory=list)
    require_cve_scan: bool = False

    @property
    def failed(self) -> bool:
        """True if a gate failed (or the CVE scan was skipped while required)."""
        return any(
            g.status is GateStatus.FAIL
            or (g.status is GateStatus.SKIPPED and self.require_cve_scan)
            for g in self.gates
        )

    def lines(self) -> list[str]:
        out = [
            f"SBOM {p} ({self.sizes[str(p)]} bytes, {self.components} components, valid)"
            for p in (self.sboms.spdx, self.sboms.cyclonedx)
        ]
        for gate in self.gates:
            if gate.name == "cve" and gate.status is GateStatus.SKIPPED:
                out += ["gate cve: SKIPPED", f"  CVE scan SKIPPED: {gate.reason}"]
                continue
            out += gate.lines()
        out.append(f"RESULT: {'FAIL' if self.failed else 'PASS'}")
        return out

    def to_dict(self) -> dict:
        return {
            "sboms": {"spdx": self.sboms.spdx.name, "cyclonedx": self.sboms.cyclonedx.name},
            "components": self.components,
            "sizes": {Path(k).name: v for k, v in sorted(self.sizes.items())},
            "gates": [g.to_dict() for g in self.gates],
            "result": "fail" if self.failed else "pass",
        }


def load_exempt(ignore_path: Path | None) -> dict[str, str]:
    """``undeclared_exempt`` of ``sbom-ignore.yaml``: ``{package: reason}``."""
    if ignore_path is None:
        return {}
    try:
        data = yaml.safe_load(Path(ignore_path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SupplyChainError(f"cannot read {ignore_path}: {err}") from err
    out = {}
    for item in data.get("undeclared_exempt", []) or []:
        if not str(item.get("package", "")).strip() or not str(item.get("reason", "")).strip():
            raise SupplyChainError(f"{ignore_path} undeclared_exempt: {item!r} needs a reason")
        out[item["package"]] = item["reason"]
    return out


def audit_environment(
    out_dir: Path,
    lock_path: Path,
    allowlist_path: Path,
    ignore_path: Path | None = None,
    python: Path | None = None,
    pyproject: Path | None = None,
    cve: bool = True,
    require_cve_scan: bool = False,
) -> SupplyReport:
    """Write and validate both SBOMs of ``python``'s environment, then run the gates:
    undeclared, licenses, cve-offline (vendored advisory snapshot; always runs) and cve
    (pip-audit, online; SKIPPED when it cannot run or with ``cve=False``).

    The gates read the installed packages from the CycloneDX SBOM just written, so the SBOM and
    the verdict describe the same environment. Also writes ``sbom-gates.json`` beside them.
    """
    policy = load_policy(allowlist_path, ignore_path)
    lock = read_lock(lock_path)
    exempt = load_exempt(ignore_path)
    ignored = load_ignored_vulnerabilities(ignore_path)
    paths = generate_sboms(out_dir, python=python, pyproject=pyproject, policy=policy)
    root, installed = load_components(paths.cyclonedx)
    if root:
        exempt.setdefault(canonicalize_name(root), "the project itself (installed editable)")
    report = SupplyReport(
        sboms=paths,
        components=len(installed),
        sizes={str(p): p.stat().st_size for p in (paths.spdx, paths.cyclonedx)},
        require_cve_scan=require_cve_scan,
    )
    report.gates = [
        undeclared_gate(installed, lock, exempt),
        licenses_gate(installed, policy),
        check_offline_cves({c.name: c.version for c in installed}, load_snapshot(), ignored),
        check_cves(installed, ignored, enabled=cve),
    ]
    with atomic_path(Path(out_dir) / REPORT_NAME) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report
