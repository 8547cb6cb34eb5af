"""``spectramind cve check|refresh``: the offline known-vulnerability gate (docs/sbom.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cve",
        help="offline CVE gate: locked versions against the vendored advisory snapshot",
        description=(
            "Matches the pins of requirements.lock against a vendored snapshot of the PyPA "
            "Advisory Database (OSV; ECOSYSTEM ranges and explicit versions), minus the curated "
            "`cves` ignores of config/sbom-ignore.yaml. Needs no network. Prints the snapshot's "
            "commit, date and age. See docs/sbom.md."
        ),
    )
    actions = parser.add_subparsers(dest="cve_command", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check",
        help="fail (exit 1) on a known vulnerability that is not ignored",
        description=(
            "Exit 0 when no locked version has a known, non-ignored advisory in the snapshot; "
            "1 when one has (each listed with its ids and fixed versions); 2 on a usage error."
        ),
    )
    check.add_argument(
        "--lock",
        type=Path,
        default=Path("requirements.lock"),
        help="pins to check (default requirements.lock)",
    )
    check.add_argument(
        "--ignore-file",
        type=Path,
        default=Path("config/sbom-ignore.yaml"),
        help="curated ignores, `cves:` list (default config/sbom-ignore.yaml)",
    )
    check.add_argument(
        "--snapshot",
        type=Path,
        default=None,
        help="advisory snapshot folder (default: the one vendored in the package)",
    )
    check.add_argument(
        "--max-age-days",
        type=int,
        default=None,
        help="also fail when the snapshot is older than this",
    )
    check.add_argument("--json", type=Path, default=None, help="also write the result as JSON")
    check.set_defaults(func=run_check)

    refresh = actions.add_parser(
        "refresh",
        help="rebuild the vendored snapshot from a checkout of the live database",
        description=(
            "Copies, unchanged, every advisory of a PyPA advisory-database checkout that "
            "affects a package of the lock into the snapshot folder, with snapshot.json "
            "(commit, date) and the CC-BY 4.0 attribution. Run online by the weekly "
            "sbom-refresh workflow, which opens the resulting diff as a pull request."
        ),
    )
    refresh.add_argument(
        "--source", type=Path, required=True, help="database checkout (with vulns/ and LICENSE)"
    )
    refresh.add_argument("--commit", required=True, help="the checkout's commit")
    refresh.add_argument("--date", required=True, help="the commit's date, YYYY-MM-DD")
    refresh.add_argument(
        "--lock",
        type=Path,
        default=Path("requirements.lock"),
        help="packages to keep advisories for (default requirements.lock)",
    )
    refresh.add_argument(
        "--snapshot",
        type=Path,
        default=None,
        help="snapshot folder to replace (default: the vendored one)",
    )
    refresh.set_defaults(func=run_refresh)


def run_check(args: argparse.Namespace) -> int:
    from spectramind.io import atomic_path
    from spectramind.supply.findings import GateStatus
    from spectramind.supply.osv import check_lock

    ignore = args.ignore_file if args.ignore_file and args.ignore_file.is_file() else None
    result = check_lock(args.lock, ignore, args.snapshot, max_age_days=args.max_age_days)
    sys.stdout.write(f"lock {args.lock}\n" + "\n".join(result.lines()) + "\n")
    if args.json is not None:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 1 if result.status is GateStatus.FAIL else 0


def run_refresh(args: argparse.Namespace) -> int:
    from spectramind.supply.osv import refresh_snapshot

    summary = refresh_snapshot(args.source, args.lock, args.commit, args.date, args.snapshot)
    sys.stdout.write(summary.line() + "\n")
    return 0
