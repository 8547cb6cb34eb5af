"""``spectramind cve check|refresh``: the offline known-vulnerability gate (docs/sbom.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spectramind.commands._common import (
    add_command,
    add_ignore_file_option,
    add_lock_option,
    add_path_option,
)


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

    check = add_command(actions, "check", run_check)
    add_lock_option(check, "pins to check")
    add_ignore_file_option(check, "curated ignores, `cves:` list")
    add_path_option(
        check,
        "--snapshot",
        None,
        "advisory snapshot folder (default: the one vendored in the package)",
    )
    check.add_argument(
        "--max-age-days",
        type=int,
        default=None,
        help="also fail when the snapshot is older than this",
    )
    check.add_argument("--json", type=Path, default=None, help="also write the result as JSON")

    refresh = add_command(actions, "refresh", run_refresh)
    refresh.add_argument(
        "--source", type=Path, required=True, help="database checkout (with vulns/ and LICENSE)"
    )
    refresh.add_argument("--commit", required=True, help="the checkout's commit")
    refresh.add_argument("--date", required=True, help="the commit's date, YYYY-MM-DD")
    add_lock_option(refresh, "packages to keep advisories for")
    add_path_option(
        refresh, "--snapshot", None, "snapshot folder to replace (default: the vendored one)"
    )


def run_check(args: argparse.Namespace) -> int:
    """fail (exit 1) on a known vulnerability that is not ignored

    Exit 0 when no locked version has a known, non-ignored advisory in the snapshot; 1 when
    one has (each listed with its ids and fixed versions); 2 on a usage error.
    """
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
    """rebuild the vendored snapshot from a checkout of the live database

    Copies, unchanged, every advisory of a PyPA advisory-database checkout that affects a
    package of the lock into the snapshot folder, with snapshot.json (commit, date) and the
    CC-BY 4.0 attribution. Run online by the weekly sbom-refresh workflow, which opens the
    resulting diff as a pull request.
    """
    from spectramind.supply.osv import refresh_snapshot

    summary = refresh_snapshot(args.source, args.lock, args.commit, args.date, args.snapshot)
    sys.stdout.write(summary.line() + "\n")
    return 0
