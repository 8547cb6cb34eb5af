"""``spectramind sbom``: SPDX + CycloneDX SBOMs of the environment and the supply-chain gates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sbom",
        help="write SPDX and CycloneDX SBOMs of the environment and run the supply-chain gates",
        description=(
            "Write sbom.spdx.json (SPDX 2.3) and sbom.cdx.json (CycloneDX 1.6) of a Python "
            "environment, validate both, and gate on undeclared/unpinned packages, licenses "
            "outside the allowlist and known CVEs: offline against the vendored advisory "
            "snapshot (gate cve-offline, always runs, names the snapshot date and age) and, as "
            "an online cross-check, pip-audit (gate cve; SKIPPED when it cannot run). "
            "Exit 1 if a gate fails. See docs/sbom.md."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--python",
        type=Path,
        default=None,
        help="interpreter of the environment to describe (default: the one running this)",
    )
    parser.add_argument(
        "--lock",
        type=Path,
        default=Path("requirements.lock"),
        help="declared pins (default: requirements.lock)",
    )
    parser.add_argument(
        "--allowlist",
        type=Path,
        default=Path("config/license-allowlist.yaml"),
        help="license allowlist (default: config/license-allowlist.yaml)",
    )
    parser.add_argument(
        "--ignore-file",
        type=Path,
        default=Path("config/sbom-ignore.yaml"),
        help="curated overrides/ignores (default: config/sbom-ignore.yaml)",
    )
    parser.add_argument(
        "--pyproject",
        type=Path,
        default=Path("pyproject.toml"),
        help="the project's pyproject.toml, the SBOM's root component",
    )
    parser.add_argument(
        "--no-cve",
        action="store_true",
        help="skip the online pip-audit cross-check (reported; the offline gate still runs)",
    )
    parser.add_argument(
        "--require-cve-scan",
        action="store_true",
        help="fail when the pip-audit cross-check is skipped (for CI with network)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spectramind.supply import audit_environment

    report = audit_environment(
        out_dir=args.out,
        lock_path=args.lock,
        allowlist_path=args.allowlist,
        ignore_path=args.ignore_file if args.ignore_file.exists() else None,
        python=args.python,
        pyproject=args.pyproject if args.pyproject.exists() else None,
        cve=not args.no_cve,
        require_cve_scan=args.require_cve_scan,
    )
    sys.stdout.write("\n".join(report.lines()) + "\n")
    return 1 if report.failed else 0
