"""``spectramind train``: learn the depth correction and sigmas from physics fits and labels."""

from __future__ import annotations

import argparse
import logging

from spectramind.commands._common import add_command

log = logging.getLogger(__name__)


def add_feature_arguments(parser: argparse.ArgumentParser) -> None:
    """``--features-dir DIR`` or ``--features FILE ...`` (shared with ``spectramind predict``)."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--features-dir", help="folder of physics fit files <planet_id>.npz (spectramind fit)"
    )
    group.add_argument("--features", nargs="+", metavar="FILE", help="physics fit files")


def feature_paths(args: argparse.Namespace) -> list:
    from spectramind.model.data import feature_files_in

    return feature_files_in(args.features_dir) if args.features_dir else list(args.features)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "train", run)
    add_feature_arguments(parser)
    parser.add_argument("--labels", required=True, help="train.csv (planet_id, wl_1..wl_283)")
    parser.add_argument("--star-info", required=True, help="train_star_info.csv")
    parser.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    parser.add_argument("--config", help="YAML of TrainConfig fields (optionally under 'train:')")
    parser.add_argument("--seed", type=int, help="overrides the config seed")
    parser.add_argument("--holdout-fraction", type=float, help="overrides the config value")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="overrides the config")
    parser.add_argument(
        "--threads",
        type=int,
        help="host threads of a CUDA run (on CPU always 1: same bytes for any thread count)",
    )
    parser.add_argument(
        "--n-folds",
        type=int,
        help="cross-fitted members (default 5; <= 1: one model with the hold-out calibration)",
    )
    parser.add_argument(
        "--spectral-prior",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="combine with a spectral prior learned from the train labels (default on)",
    )


def run(args: argparse.Namespace) -> int:
    """learn a correction of the physics depths and per-wavelength sigmas (torch)

    Train the learned stage on the physics fits of labelled planets: K cross-fitted models
    (each trained on K - 1 folds, predicting the fold it did not see), a spectral prior learned
    from the labels, and sigmas calibrated on the out-of-fold predictions, which 'spectramind
    predict --planets holdout' reproduces. With --n-folds 1, one model whose seeded hold-out
    fraction gives early stopping and the calibration.
    """
    from spectramind.model.config import load_config
    from spectramind.model.crossfit import train_model
    from spectramind.model.data import load_planets
    from spectramind.model.train import save_checkpoint

    cfg = load_config(
        args.config,
        {
            "seed": args.seed,
            "holdout_fraction": args.holdout_fraction,
            "device": args.device,
            "threads": args.threads,
            "n_folds": args.n_folds,
            "spectral_prior": args.spectral_prior,
        },
    )
    table = load_planets(feature_paths(args), args.star_info, args.labels)
    checkpoint = train_model(cfg, table)
    sha256 = save_checkpoint(checkpoint, args.out)
    log.info("wrote %s (sha256 %s, device %s)", args.out, sha256, checkpoint["device"])
    return 0
