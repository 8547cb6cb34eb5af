"""``spectramind score``: the competition metric of a submission or predictions vs a truth."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from spectramind.commands._common import add_command

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "score", run)
    parser.add_argument(
        "--truth",
        "--labels",
        dest="truth",
        type=Path,
        required=True,
        help="CSV with planet_id, wl_1..wl_283 (e.g. train.csv or <data_dir>.truth.csv)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--submission", type=Path, help="submission CSV to score")
    source.add_argument(
        "--predictions",
        type=Path,
        help="predictions .npz (planet_id, mu, sigma) to score, e.g. of held-out train planets",
    )
    parser.add_argument(
        "--train",
        type=Path,
        help=(
            "train.csv whose label values give the naive mean/std; required with --submission, "
            "defaults to --truth with --predictions (held-out train planets of train.csv)"
        ),
    )
    parser.add_argument("--json", type=Path, help="write the score and breakdown to this JSON file")


def run(args: argparse.Namespace) -> int:
    """score a submission.csv or predictions .npz with the ADC 2025 metric

    Gaussian log-likelihood score of FORMAT.md section 5. Rows are matched on planet_id; the
    naive mean/std come from all label values of --train. Prints the score and its breakdown;
    --json also writes them (atomically).
    """
    from spectramind import holdout, metric
    from spectramind.artifacts.scores import write_score_json
    from spectramind.errors import ConfigError

    if args.submission is not None and args.train is None:
        raise ConfigError("spectramind score: --train TRAIN_CSV is required with --submission")
    if args.predictions is not None:
        breakdown = holdout.write_validation_report(
            args.predictions, args.truth, args.json, train_labels_for_naive=args.train
        )
    else:
        breakdown = metric.score_files(args.truth, args.submission, args.train)
        if args.json is not None:
            write_score_json(
                args.json,
                breakdown.to_dict(),
                inputs={
                    "truth": str(args.truth),
                    "submission": str(args.submission),
                    "train": str(args.train),
                },
            )
    log.info(
        "score %.6f (FGS %.4f, AIRS %.4f; z-RMS %.3f, within 1 sigma %.3f; %d planets)",
        breakdown.score,
        breakdown.fgs_score,
        breakdown.airs_score,
        breakdown.z_rms,
        breakdown.within_1sigma,
        breakdown.n_planets,
    )
    # The score on stdout (one number) so that shells and the workflow can capture it.
    print(repr(breakdown.score))  # noqa: T201
    return 0
