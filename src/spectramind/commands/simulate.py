"""``spectramind simulate``: write a synthetic ADC 2025 dataset (and its truth beside it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spectramind.commands._common import add_command

# The embedded default dataset: small enough that simulate + calibrate + fit + train + predict
# runs in a few minutes on 2 cores (see README), large enough to train on.
DEFAULT_TRAIN = 24
DEFAULT_TEST = 8
DEFAULT_FRAMES_SCALE = 0.05
DEFAULT_SEED = 2025
# Kept in step with spectramind.simulate.variants.VARIANTS (a test checks); spelled out here so
# that --help does not import numpy.
VARIANT_NAMES = (
    "limb-darkening",
    "systematics",
    "wavelengths",
    "cosmics",
    "star-info",
    "spectra",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "simulate", run)
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DATA_DIR", help="dataset folder to create"
    )
    parser.add_argument(
        "--train",
        type=int,
        default=DEFAULT_TRAIN,
        metavar="N",
        help=f"train planets (default {DEFAULT_TRAIN})",
    )
    parser.add_argument(
        "--test",
        type=int,
        default=DEFAULT_TEST,
        metavar="M",
        help=f"test planets (default {DEFAULT_TEST})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        metavar="S",
        help=f"root seed (default {DEFAULT_SEED})",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--frames-scale",
        type=float,
        default=DEFAULT_FRAMES_SCALE,
        metavar="F",
        help="fraction of the real 11250 AIRS / 135000 FGS frames, at the real "
        f"cadence (default {DEFAULT_FRAMES_SCALE})",
    )
    size.add_argument("--full-size", action="store_true", help="write the real frame counts")
    parser.add_argument(
        "--second-visit-fraction",
        type=float,
        default=0.1,
        metavar="X",
        help="probability that a planet has a second visit (default 0.1)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="W",
        help="worker processes over planets; does not change the output",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        choices=VARIANT_NAMES,
        metavar="NAME",
        help="simulate a variant that differs from the default simulator in one respect "
        "(repeatable; docs/simulate-variants.md): limb-darkening (4-parameter non-linear law "
        "outside the default range), systematics (stronger, higher-order drift, ramp at visit "
        "start, coloured pointing jitter), wavelengths (perturbed AIRS wavelength grid in "
        "axis_info, wavelengths.csv and the spectra), cosmics (10x cosmic rays, 4x hot pixels), "
        "star-info (catalogue errors in the star-info csv), spectra (shifted and broadened bands, "
        "cloud decks: spectra off a fixed low-dimensional span). Default: none, the default "
        "simulator",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing DATA_DIR (and its truth files)",
    )


def run(args: argparse.Namespace) -> int:
    """write a synthetic dataset in the exact ADC 2025 layout

    Simulate planets into DATA_DIR in the Kaggle layout (FORMAT.md). The test planets' true
    spectra go to DATA_DIR.truth.csv and per-planet truth to DATA_DIR.truth/, beside the
    folder, never inside it. Same arguments give byte-identical files.
    """
    from spectramind.simulate import SimulationConfig, simulate_dataset
    from spectramind.simulate.variants import parse_variants

    config = SimulationConfig(
        n_train=args.train,
        n_test=args.test,
        seed=args.seed,
        frames_scale=1.0 if args.full_size else args.frames_scale,
        second_visit_fraction=args.second_visit_fraction,
        workers=args.workers,
        variants=parse_variants(args.variant),
    )
    simulate_dataset(args.out, config, overwrite=args.overwrite)
    return 0
