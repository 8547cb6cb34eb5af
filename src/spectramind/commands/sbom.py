"""``spectramind sbom``: SPDX + CycloneDX SBOMs of the environment and the supply-chain gates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spectramind.commands._common import (
    add_command,
    add_ignore_file_option,
    add_lock_option,
    add_path_option,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "sbom", run)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    add_path_option(
        parser,
        "--python",
        None,
        "interpreter of the environment to describe (default: the one running this)",
    )
    add_lock_option(parser, "declared pins")
    add_path_option(parser, "--allowlist", "config/license-allowlist.yaml", "license allowlist")
    add_ignore_file_option(parser, "curated overrides/ignores")
    add_path_option(
        parser,
        "--pyproject",
        "pyproject.toml",
        "the project's pyproject.toml, the SBOM's root component",
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


def run(args: argparse.Namespace) -> int:
    """write SPDX and CycloneDX SBOMs of the environment and run the supply-chain gates

    Write sbom.spdx.json (SPDX 2.3) and sbom.cdx.json (CycloneDX 1.6) of a Python
    environment, validate both, and gate on undeclared/unpinned packages, licenses outside the
    allowlist and known CVEs: offline against the vendored advisory snapshot (gate cve-offline,
    always runs, names the snapshot date and age) and, as an online cross-check, pip-audit (gate
    cve; SKIPPED when it cannot run). Exit 1 if a gate fails. See docs/sbom.md.
    """
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
