"""``spectramind validate``: read and check a dataset (or one planet) against FORMAT.md."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check that a data folder follows the ADC 2025 layout",
        description=(
            "Load the shared tables and every planet visit (signals and calibration maps) and "
            "check names, shapes, dtypes and frame counts. Exit 2 with a one-line message "
            "naming the file, what was expected and what was found on the first problem."
        ),
    )
    parser.add_argument("--data-dir", type=Path, required=True, metavar="D")
    parser.add_argument("--split", choices=("train", "test"), help="only this split")
    parser.add_argument("--planet", type=int, metavar="ID", help="only this planet id")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spectramind.data.validate import validate_dataset

    validate_dataset(args.data_dir, split=args.split, planet_id=args.planet)
    return 0
