"""``spectramind bundle``: the offline Kaggle bundle of a trained checkpoint (docs/kaggle.md)."""

from __future__ import annotations

import argparse

from spectramind.commands.export_model import add_runs_root_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bundle",
        help="write an offline bundle (wheelhouse, model, SBOMs, run.sh, notebook) for Kaggle",
        description=(
            "Writes OUT: wheels/ (the project wheel and every runtime dependency at its "
            "requirements.lock pin), model/ (checkpoint, training record, config snapshot), "
            "sbom/, run.sh [INPUT_DIR] [WORKING_DIR], spectramind-submit.ipynb and BUNDLE.json "
            "(commit, dirty flag, lock and checkpoint hashes, every file's hash). Run in the "
            "checkout that trained the checkpoint. The same inputs give the same bytes; the "
            "SHA-256 of BUNDLE.json, printed at the end, names the bundle. Dependency wheels "
            "are fetched once through pip's configured indexes into --cache (pass "
            "--pip-arg=--no-index --pip-arg=--find-links=DIR to stay offline)."
        ),
    )
    parser.add_argument("--out", required=True, help="bundle folder to create (must not exist)")
    parser.add_argument(
        "--ckpt",
        default="artifacts/ckpt/model.pt",
        help="checkpoint trained by the workflow here (default: artifacts/ckpt/model.pt)",
    )
    parser.add_argument(
        "--repo",
        default=".",
        help="the checkout whose source becomes the project wheel (default: the current folder)",
    )
    parser.add_argument(
        "--cache",
        default=None,
        help="wheel and SBOM cache (default: $XDG_CACHE_HOME/spectramind or ~/.cache/spectramind)",
    )
    parser.add_argument(
        "--pip-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for pip download / pip wheel (repeatable)",
    )
    add_runs_root_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    from spectramind.bundle import build_bundle, bundle_digest

    info = build_bundle(
        args.out,
        args.ckpt,
        repo=args.repo,
        cache=args.cache,
        pip_args=args.pip_arg,
        runs_root=args.runs_root,
    )
    logging.getLogger(__name__).info(
        "bundle %s: %d files, commit %s%s",
        args.out,
        len(info["files"]) + 1,
        info["git_commit"],
        " (dirty)" if info["git_dirty"] else "",
    )
    sys.stdout.write(f"{bundle_digest(args.out)}  {args.out}/BUNDLE.json\n")
    return 0
