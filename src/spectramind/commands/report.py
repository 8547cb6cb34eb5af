"""``spectramind report``: the figures of the Snakemake report."""

from __future__ import annotations

import argparse
from pathlib import Path

from spectramind.commands._common import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "report", run)
    parser.add_argument("--data-dir", type=Path, required=True, help="ADC 2025 dataset folder")
    parser.add_argument(
        "--calibrated", type=Path, required=True, help="one calibrated visit (.npz) to show"
    )
    parser.add_argument(
        "--holdout", type=Path, required=True, help="hold-out predictions (.npz) of train planets"
    )
    parser.add_argument("--labels", type=Path, required=True, help="train.csv with the truth")
    parser.add_argument(
        "--score", type=Path, help="score.json of the hold-out (its score titles spectra.png)"
    )
    parser.add_argument(
        "--benchmarks", type=Path, required=True, help="folder of Snakemake benchmark .tsv files"
    )
    parser.add_argument("--out-dir", type=Path, required=True, help="where the PNGs go")


def run(args: argparse.Namespace) -> int:
    """write the report figures (light curves, spectra vs truth, stage timings)

    Write light_curves.png (raw vs calibrated white light curves of one planet visit),
    spectra.png (hold-out predictions with 1-sigma bands against the truth, titled with the
    validation score of --score and the files it was computed on) and timings.png (wall time
    per stage from the benchmark files) into --out-dir.
    """
    from spectramind.report import write_report_figures

    write_report_figures(
        args.data_dir,
        args.calibrated,
        args.holdout,
        args.labels,
        args.benchmarks,
        args.out_dir,
        score_json=args.score,
    )
    return 0
