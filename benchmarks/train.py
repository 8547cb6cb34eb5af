"""Training wall time on a synthetic set of 1100 planets (the real train set size), CPU.

    python benchmarks/train.py [--planets 1100] [--threads 1] [--device cpu]

Prints the time to read the fit files and the time of ``train(cfg)``, plus the hold-out
diagnostics, so the Kaggle budget impact (9 h, 4 CPU cores) is known.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from spectramind.model.config import TrainConfig
from spectramind.model.data import feature_files_in, load_planets
from spectramind.model.train import save_checkpoint, train
from spectramind.oracles.synthetic_fits import write_synthetic_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planets", type=int, default=1100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    with tempfile.TemporaryDirectory() as tmp:
        synthetic = write_synthetic_set(Path(tmp), args.planets, seed=0)
        start = time.perf_counter()
        table = load_planets(
            feature_files_in(synthetic.features_dir), synthetic.star_info_csv, synthetic.labels_csv
        )
        load_s = time.perf_counter() - start
        cfg = TrainConfig(seed=0, threads=args.threads, device=args.device)
        start = time.perf_counter()
        checkpoint = train(cfg, table)
        train_s = time.perf_counter() - start
        sha256 = save_checkpoint(checkpoint, Path(tmp) / "model.pt")

    epochs = len(checkpoint["history"]["train_loss"])
    print(f"planets: {args.planets}  device: {checkpoint['device']}  threads: {args.threads}")
    print(f"read fit files: {load_s:.2f} s")
    print(f"train: {train_s:.2f} s ({epochs} epochs, best {checkpoint['best_epoch']})")
    for key, value in checkpoint["holdout_diagnostics"].items():
        print(f"hold-out {key}: {value:.4f}")
    print(f"checkpoint sha256: {sha256}")


if __name__ == "__main__":
    main()
