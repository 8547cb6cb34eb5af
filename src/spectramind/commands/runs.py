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

    listing = actions.add_parser(
        "list",
        help="runs with their stages and status",
        description=(
            "One line per run: id, status (ok, failed, interrupted: a job was killed and left "
            "no result, running), git branch, and per stage the records by status. Damaged "
            "record lines are reported as PATH:LINE: damaged record and skipped."
        ),
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_root(listing)
    listing.set_defaults(func=run_list)

    verify = actions.add_parser(
        "verify",
        help="re-hash what a run produced and consumed, along its lineage; exit 1 on a mismatch",
        description=(
            "Re-hash every artifact of the run and of the earlier runs whose outputs it "
            "reused (each against the record that produced it), every consumed file no job "
            "produced (the data), check that each consumed file had the hash its producer "
            "recorded, and re-hash the config snapshots. Exit 1 on any problem."
        ),
    )
    verify.add_argument("run_id", nargs="?", help="run id YYYYMMDD_HHMMSS (default: latest)")
    verify.add_argument("--base", default=".", help="folder recorded paths are relative to")
    _add_root(verify)
    verify.set_defaults(func=run_verify)

    prune = actions.add_parser(
        "prune",
        help="keep the last N runs per git branch",
        description=(
            "Remove the records of all but the newest N runs of each git branch. The record "
            "of an artifact that is still current (the latest record of a file that exists) "
            "is always kept, with the run's config snapshot."
        ),
    )
    prune.add_argument("--keep", type=int, required=True, help="runs to keep per git branch")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.add_argument("--base", default=".", help="folder recorded paths are relative to")
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
                "branch": summary.branch,
                "stages": summary.stages,
                "snapshot": summary.has_snapshot,
            }
            sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
            continue
        stages = ", ".join(
            f"{stage} ({' '.join(f'{n} {status}' for status, n in sorted(counts.items()))})"
            for stage, counts in summary.stages.items()
        )
        sys.stdout.write(f"{summary.run_id}  {summary.status:11}  {summary.branch}  {stages}\n")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from spectramind.repro.audit import verify_run

    report = verify_run(args.root, args.run_id, base=args.base)
    for problem in report.problems:
        sys.stdout.write(f"{problem}\n")
    verdict = "OK" if report.ok else f"FAILED ({len(report.problems)} problems)"
    reused = ""
    if report.reused_runs:
        reused = f" (with outputs of runs {', '.join(report.reused_runs)})"
    sys.stdout.write(f"run {report.run_id}{reused}: {report.checked} files checked: {verdict}\n")
    return 0 if report.ok else 1


def run_prune(args: argparse.Namespace) -> int:
    from spectramind.repro.audit import prune_runs

    removed = prune_runs(args.root, args.keep, dry_run=args.dry_run, base=args.base)
    verb = "would remove" if args.dry_run else "removed"
    for folder in removed:
        sys.stdout.write(f"{verb} {folder}\n")
    return 0
