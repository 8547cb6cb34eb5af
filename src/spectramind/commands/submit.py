"""``spectramind submit``: predictions .npz -> validated submission.csv in sample order."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="write submission.csv from a predictions .npz (validated before writing)",
        description=(
            "Order the predictions (planet_id, mu, sigma) like sample_submission.csv, check "
            "they are finite and non-negative, validate the CSV against the Frictionless Table "
            "Schema and write it atomically. Floats are written as Python repr (round-trip)."
        ),
    )
    parser.add_argument("--predictions", type=Path, required=True, help="predictions .npz")
    parser.add_argument(
        "--sample-submission", type=Path, required=True, help="sample_submission.csv (row order)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts/submission/submission.csv"),
        help="output CSV (default: %(default)s)",
    )
    parser.add_argument(
        "--schema",
        type=Path,
        default=None,
        help="Frictionless Table Schema of the submission "
        "(default: the repository's schemas/submission.tableschema.sample_id.json)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spectramind.submission import DEFAULT_SCHEMA_PATH, write_submission_from_files

    schema = args.schema if args.schema is not None else DEFAULT_SCHEMA_PATH
    write_submission_from_files(args.predictions, args.sample_submission, args.out, schema)
    return 0
