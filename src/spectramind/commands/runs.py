"""``spectramind runs``: list, verify and prune recorded runs (ADR 0006 audit and retention)."""

from __future__ import annotations

import argparse
import json
import sys

DEFAULT_ROOT = "artifacts/runs"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "runs", help="list, verify and prune recorded runs (artifacts/runs)"
    )
    actions = parser.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="runs with their stages and status")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_root(listing)
    listing.set_defaults(func=run_list)

    verify = actions.add_parser(
        "verify", help="re-hash every artifact a run recorded; exit 1 on any mismatch"
    )
    verify.add_argument("run_id", nargs="?", help="run id YYYYMMDD_HHMMSS (default: latest)")
    verify.add_argument("--base", default=".", help="folder recorded paths are relative to")
    _add_root(verify)
    verify.set_defaults(func=run_verify)

    prune = actions.add_parser("prune", help="keep the last N runs per stage")
    prune.add_argument("--keep", type=int, required=True, help="runs to keep per stage")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    _add_root(prune)
    prune.set_defaults(func=run_prune)


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=DEFAULT_ROOT, help=f"runs root (default {DEFAULT_ROOT})")


def run_list(args: argparse.Namespace) -> int:
    from spectramind.repro.audit import list_runs

    for summary in list_runs(args.root):
        if args.json:
            row = {
                "run_id": summary.run_id,
                "status": summary.status,
                "stages": summary.stages,
                "snapshot": summary.has_snapshot,
            }
            sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
            continue
        stages = ", ".join(
            f"{stage} ({' '.join(f'{n} {status}' for status, n in sorted(counts.items()))})"
            for stage, counts in summary.stages.items()
        )
        sys.stdout.write(f"{summary.run_id}  {summary.status:6}  {stages}\n")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from spectramind.repro.audit import verify_run

    report = verify_run(args.root, args.run_id, base=args.base)
    for problem in report.problems:
        sys.stdout.write(f"{problem}\n")
    verdict = "OK" if report.ok else f"FAILED ({len(report.problems)} problems)"
    sys.stdout.write(f"run {report.run_id}: {report.checked} files checked: {verdict}\n")
    return 0 if report.ok else 1


def run_prune(args: argparse.Namespace) -> int:
    from spectramind.repro.audit import prune_runs

    removed = prune_runs(args.root, args.keep, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for folder in removed:
        sys.stdout.write(f"{verb} {folder}\n")
    return 0
