"""``spectramind predict``: a trained checkpoint applied to physics fits -> Predictions file."""

from __future__ import annotations

import argparse

from spectramind.commands.train import add_feature_arguments, feature_paths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict depths and sigmas for planets from their physics fits",
        description=(
            "Writes the Predictions file (planet_id, mu, sigma; CONTRACTS.md). --planets holdout "
            "predicts the checkpoint's hold-out train planets for validation scoring."
        ),
    )
    parser.add_argument("--ckpt", required=True, help="checkpoint from spectramind train")
    add_feature_arguments(parser)
    parser.add_argument("--star-info", required=True, help="<split>_star_info.csv")
    parser.add_argument("--out", required=True, help="predictions file to write (.npz)")
    parser.add_argument(
        "--planets",
        choices=("all", "holdout"),
        default="all",
        help="all planets with fit files (default) or the checkpoint's hold-out planets",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto (default): CUDA when torch sees a GPU, else CPU; recorded in the manifest",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spectramind.model.predict import run_predict
    from spectramind.repro.determinism import set_deterministic

    # Inference draws no random numbers; this pins one thread and the kernels.
    set_deterministic(0, threads=1)
    run_predict(args.ckpt, feature_paths(args), args.star_info, args.out, args.planets, args.device)
    return 0
