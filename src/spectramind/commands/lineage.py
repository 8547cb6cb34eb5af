"""``spectramind lineage``: derive dvc.yaml from the workflow; check or write it."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lineage",
        help="derive dvc.yaml from the Snakemake workflow (--check it or --write it)",
        description=(
            "Derive the DVC lineage (dvc.yaml) from the workflow: one stage per rule of the "
            "default target, its outputs, the job inputs, the Snakefiles and schemas, the "
            "import closure of the spectramind code it runs, and the config keys it reads "
            "(docs/dvc.md). Probes the job graph in a scratch copy of the repository with the "
            "overlay in pyproject.toml [tool.spectramind.lineage] (runs its checkpoints, "
            "seconds). --check exits 1 with a diff when the committed dvc.yaml differs."
        ),
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail (exit 1) if dvc.yaml differs")
    mode.add_argument("--write", action="store_true", help="write the derived dvc.yaml")
    mode.add_argument("--print", action="store_true", help="print the derived dvc.yaml")
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository (default: .)")
    parser.add_argument(
        "--dvc-yaml",
        type=Path,
        default=None,
        help="the dvc.yaml to check or write (default: REPO/dvc.yaml)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spectramind.io import atomic_path
    from spectramind.lineage import compare, derive

    repo = args.repo.resolve()
    target = args.dvc_yaml or repo / "dvc.yaml"
    derived = derive(repo)
    if args.print:
        sys.stdout.write(derived)
        return 0
    if args.write:
        with atomic_path(target) as tmp:
            Path(tmp).write_text(derived, encoding="utf-8")
        log.info("wrote %s", target)
        return 0
    committed = target.read_text(encoding="utf-8") if target.is_file() else ""
    problems = compare(committed, derived, str(target))
    if problems:
        sys.stdout.write("\n".join(problems) + "\n")
        return 1
    log.info("%s is the derived lineage", target)
    return 0
