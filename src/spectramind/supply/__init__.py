"""Supply-chain checks (ADR-0006 layer 4): SBOMs and the gates run on them.

Usable as functions (the ``sbom`` and ``compliance`` commands call them):

- :func:`generate_sboms`, :func:`validate_spdx`, :func:`validate_cyclonedx`
- :func:`check_undeclared` (installed vs ``requirements.lock``), :func:`check_licenses`
  (allowlist), :func:`check_cves` (pip-audit, SKIPPED offline)
- :func:`audit_environment`: all of the above in one call, returning a :class:`SupplyReport`.
"""

from spectramind.supply.cve import check_cves, parse_pip_audit_json
from spectramind.supply.findings import Finding, GateResult, GateStatus, SupplyChainError
from spectramind.supply.gates import SupplyReport, audit_environment
from spectramind.supply.inventory import (
    Component,
    check_undeclared,
    load_components,
    parse_lock,
    read_lock,
)
from spectramind.supply.licenses import (
    LicensePolicy,
    check_licenses,
    declared_expression,
    expression_allowed,
    load_policy,
)
from spectramind.supply.sboms import SbomPaths, generate_sboms, validate_cyclonedx, validate_spdx

__all__ = [
    "Component",
    "Finding",
    "GateResult",
    "GateStatus",
    "LicensePolicy",
    "SbomPaths",
    "SupplyChainError",
    "SupplyReport",
    "audit_environment",
    "check_cves",
    "check_licenses",
    "check_undeclared",
    "declared_expression",
    "expression_allowed",
    "generate_sboms",
    "load_components",
    "load_policy",
    "parse_lock",
    "parse_pip_audit_json",
    "read_lock",
    "validate_cyclonedx",
    "validate_spdx",
]
