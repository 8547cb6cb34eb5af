"""``spectramind export-model``: a trained checkpoint with its training record, ready to ship."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-model",
        help="write a checkpoint's model folder: model.pt, training-record.json, config snapshot",
        description=(
            "Finds the run-manifest record of the train job that produced CKPT (its hash must "
            "still match), and writes OUT/model.pt, OUT/training-record.json and "
            "OUT/config-snapshot.yaml. Point the config key model at OUT/model.pt for a "
            "predict-only run; spectramind bundle ships the same folder."
        ),
    )
    parser.add_argument(
        "--ckpt",
        default="artifacts/ckpt/model.pt",
        help="checkpoint trained by the workflow (default: artifacts/ckpt/model.pt)",
    )
    parser.add_argument("--out", required=True, help="model folder to write")
    add_runs_root_argument(parser)
    parser.set_defaults(func=run)


def add_runs_root_argument(parser: argparse.ArgumentParser) -> None:
    """``--runs-root``: where the train job's record is looked up (also ``spectramind bundle``)."""
    parser.add_argument(
        "--runs-root",
        default=None,
        help="run manifests (default: $SPECTRAMIND_RUNS_ROOT or artifacts/runs)",
    )


def run(args: argparse.Namespace) -> int:
    import logging

    from spectramind.repro.shipped import export_model

    path = export_model(args.ckpt, args.out, args.runs_root)
    logging.getLogger(__name__).info("wrote %s with its training record", path)
    return 0
