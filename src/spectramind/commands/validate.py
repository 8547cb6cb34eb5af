"""``spectramind validate``: read and check a dataset (or one planet) against FORMAT.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from spectramind.commands._common import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "validate", run)
    parser.add_argument("--data-dir", type=Path, required=True, metavar="D")
    parser.add_argument("--split", choices=("train", "test"), help="only this split")
    parser.add_argument("--planet", type=int, metavar="ID", help="only this planet id")


def run(args: argparse.Namespace) -> int:
    """check that a data folder follows the ADC 2025 layout

    Load the shared tables and every planet visit (signals and calibration maps) and check
    names, shapes, dtypes and frame counts. Exit 2 with a one-line message naming the file,
    what was expected and what was found on the first problem.
    """
    from spectramind.data.validate import validate_dataset

    validate_dataset(args.data_dir, split=args.split, planet_id=args.planet)
    return 0
