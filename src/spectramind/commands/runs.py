"""``spectramind runs``: list, verify, prune, show and export recorded runs (ADR 0006 audit and
retention; the audit package: docs/audit.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_ROOT = "artifacts/runs"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "runs", help="list, verify, prune, show and export recorded runs (artifacts/runs)"
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

    register_audit(actions)


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


# --- the audit package: show, export, validate-crate (docs/audit.md) -------------------------


def register_audit(actions: argparse._SubParsersAction) -> None:
    show = actions.add_parser(
        "show",
        help="human-readable audit summary of a run",
        description=(
            "What ran (jobs per stage, status, timings), with which config (snapshot SHA-256 "
            "checked against the records), commit, software versions, data (file count, size, "
            "digest), checkpoint and output hashes, and every job that did not end ok. The same "
            "facts `runs export` puts in the RO-Crate."
        ),
    )
    show.add_argument("run_id", nargs="?", help="run id YYYYMMDD_HHMMSS (default: latest)")
    show.add_argument("--json", action="store_true", help="the summary as one JSON object")
    _add_root(show)
    show.set_defaults(func=run_show)

    export = actions.add_parser(
        "export",
        help="export a run as a Provenance Run Crate (RO-Crate), zip or folder",
        description=(
            "Writes a Workflow Run RO-Crate (Provenance Run Crate 0.5 on RO-Crate 1.1) of one "
            "run: the workflow (Snakefile and rules, from the recorded commit), one action per "
            "job with its input and output files (SHA-256, size), the config snapshot, the run "
            "manifests, dvc.yaml/dvc.lock, the SBOMs, the environment and the offline CVE gate "
            "result. Data files are referenced by hash, not copied, unless --include-data "
            "(which re-hashes them first). OUT ending in .zip gives a zip, else a folder; OUT "
            "must not exist. Nothing is left behind on failure."
        ),
    )
    export.add_argument("run_id", nargs="?", help="run id YYYYMMDD_HHMMSS (default: latest)")
    export.add_argument(
        "--ro-crate",
        dest="out",
        type=Path,
        required=True,
        metavar="OUT",
        help="crate to write: OUT.zip or a folder",
    )
    export.add_argument(
        "--include-data",
        action="store_true",
        help="copy every input and output file into the crate (re-hashed first)",
    )
    export.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        help="workflow folder (Snakefile, dvc.yaml, git repository; default .)",
    )
    export.add_argument(
        "--sbom-dir",
        type=Path,
        default=None,
        help="SBOM folder to include (default REPO/artifacts/sbom)",
    )
    export.add_argument(
        "--validate",
        action="store_true",
        help="then validate it with roc-validator (offline); exit 1 on issues",
    )
    _add_root(export)
    export.set_defaults(func=run_export)

    validate = actions.add_parser(
        "validate-crate",
        help="validate an RO-Crate with roc-validator, offline",
        description=(
            "Runs roc-validator on a crate (folder or zip) against a profile, in its offline "
            "mode with the RO-Crate 1.1 JSON-LD context served from a copy shipped with "
            "SpectraMind (no network needed). Prints every issue; exit 1 if there is one."
        ),
    )
    validate.add_argument("crate", type=Path, help="crate folder or zip")
    validate.add_argument(
        "--profile",
        default=None,
        help="roc-validator profile id (default provenance-run-crate-0.5)",
    )
    validate.add_argument(
        "--severity",
        default="required",
        choices=("required", "recommended", "optional"),
        help="lowest requirement level checked (default required)",
    )
    validate.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="keep the primed HTTP cache here (for rocrate-validator --offline "
        "--cache-path DIR/http_cache)",
    )
    validate.add_argument("--json", type=Path, default=None, help="also write the result as JSON")
    validate.set_defaults(func=run_validate_crate)


def run_show(args: argparse.Namespace) -> int:
    from spectramind.repro.runview import load_run, summary_dict, summary_lines

    facts = load_run(args.root, args.run_id)
    if args.json:
        sys.stdout.write(json.dumps(summary_dict(facts), sort_keys=True) + "\n")
    else:
        sys.stdout.write("\n".join(summary_lines(facts)) + "\n")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from spectramind.crate.export import export_run_crate
    from spectramind.repro.runview import load_run

    facts = load_run(args.root, args.run_id)
    export = export_run_crate(
        facts,
        args.out,
        repo=args.repo,
        sbom_dir=args.sbom_dir,
        include_data=args.include_data,
        cve_ignore=_ignore_file(args.repo),
    )
    sys.stdout.write("\n".join(export.lines()) + "\n")
    if not args.validate:
        return 0
    from spectramind.crate.validation import validate_crate

    result = validate_crate(export.path)
    sys.stdout.write("\n".join(result.lines()) + "\n")
    return 0 if result.passed else 1


def _ignore_file(repo: Path) -> Path | None:
    ignore = Path(repo) / "config/sbom-ignore.yaml"
    return ignore if ignore.is_file() else None


def run_validate_crate(args: argparse.Namespace) -> int:
    from spectramind.crate.validation import DEFAULT_PROFILE, validate_crate
    from spectramind.io import atomic_path

    result = validate_crate(
        args.crate, args.profile or DEFAULT_PROFILE, args.severity, cache_dir=args.cache_dir
    )
    sys.stdout.write("\n".join(result.lines()) + "\n")
    if args.json is not None:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0 if result.passed else 1
