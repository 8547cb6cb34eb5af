"""``spectramind compliance [RUN_ID]``: the ADR-0006 gates on a finished run, one line each."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compliance",
        help="check the ADR-0006 gates on a finished run; exit 1 if any fails",
        description=(
            "Checks a finished run against the reproducibility standard: events.jsonl for every "
            "stage, config snapshot recorded and unchanged, artifacts re-hash, `dvc status` "
            "clean, SBOMs present and valid (declared packages, licenses), determinism check "
            "passed, the run's RO-Crate valid (roc-validator, offline), no known vulnerability "
            "in the locked versions (vendored advisory snapshot, offline). Prints one PASS/FAIL "
            "line per gate and exits 1 if any gate fails. "
            "See docs/compliance.md."
        ),
    )
    parser.add_argument("run_id", nargs="?", help="run id YYYYMMDD_HHMMSS (default: latest)")
    parser.add_argument(
        "--repo", type=Path, default=Path("."), help="workflow folder (default: current)"
    )
    parser.add_argument("--root", type=Path, default=None, help="runs root (artifacts/runs)")
    parser.add_argument(
        "--sbom-dir", type=Path, default=None, help="SBOM folder (default: artifacts/sbom)"
    )
    parser.add_argument(
        "--determinism",
        type=Path,
        default=None,
        help="determinism result (default: artifacts/determinism/result.json)",
    )
    parser.add_argument("--lock", type=Path, default=None, help="pins (requirements.lock)")
    parser.add_argument(
        "--allowlist", type=Path, default=None, help="config/license-allowlist.yaml"
    )
    parser.add_argument("--ignore-file", type=Path, default=None, help="config/sbom-ignore.yaml")
    parser.add_argument(
        "--crate",
        type=Path,
        default=None,
        help="exported crate of the run to validate (default: export one to a temporary folder)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spectramind.compliance import check_compliance
    from spectramind.io import atomic_path

    report = check_compliance(
        args.run_id,
        repo=args.repo,
        runs_root=args.root,
        sbom_dir=args.sbom_dir,
        determinism_result=args.determinism,
        lock_path=args.lock,
        allowlist_path=args.allowlist,
        ignore_path=args.ignore_file,
        crate_path=args.crate,
    )
    sys.stdout.write("\n".join(report.lines()) + "\n")
    if args.json is not None:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.passed else 1
