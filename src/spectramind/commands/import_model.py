"""``spectramind import-model``: a shipped checkpoint, verified, copied into the workflow."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-model",
        help="verify a shipped checkpoint against its training record and copy it (predict-only)",
        description=(
            "Checks that CKPT has the size and SHA-256 listed by the training-record.json beside "
            "it (and config-snapshot.yaml, when present, the recorded config hash), then copies "
            "it to --out. Exit 1 naming the file and both hashes when they differ. The "
            "predict-only workflow (config key model) runs it as rule import_model."
        ),
    )
    parser.add_argument("--ckpt", required=True, help="shipped checkpoint (model.pt)")
    parser.add_argument("--out", required=True, help="where the workflow expects the checkpoint")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spectramind.repro.shipped import import_model

    import_model(args.ckpt, args.out)
    return 0
