"""Smoke version of benchmarks/science.py: simulate -> calibrate -> baseline / fit -> train.

Few planets and few frames: checks that the public baseline beats the naive prediction on
simulated data (issue 4 acceptance) and that the physics and physics + torch chain does too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectramind import metric
from spectramind.cli import main
from spectramind.data import reader

N_TRAIN, N_TEST = 8, 3


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from spectramind.simulate import SimulationConfig, read_truth_csv, simulate_dataset

    root = tmp_path_factory.mktemp("science")
    data = simulate_dataset(
        root / "data",
        SimulationConfig(
            n_train=N_TRAIN, n_test=N_TEST, seed=4, frames_scale=0.05, second_visit_fraction=0.2
        ),
    )
    for split in ("train", "test"):
        args = ["-q", "calibrate", "--data-dir", str(data), "--split", split]
        args += ["--out-dir", str(root / "cal" / split)]
        for pid in reader.discover_planets(data, split):
            args += ["--planet", str(pid)]
        assert main(args) == 0
    _, train_labels = reader.read_labels(data)
    test_ids, truth = read_truth_csv(data)
    order = np.argsort(test_ids)
    return {
        "root": root,
        "data": data,
        "naive": metric.NaiveReference.from_labels(train_labels),
        "test_ids": test_ids[order],
        "truth": truth[order],
    }


def _score(smoke: dict, mu: np.ndarray, sigma: np.ndarray) -> float:
    return metric.score_arrays(smoke["truth"], mu, sigma, smoke["naive"]).score_unclipped


def test_naive_scores_zero(smoke: dict) -> None:
    n = len(smoke["test_ids"])
    naive = smoke["naive"]
    mu, sigma = np.full((n, 283), naive.mean), np.full((n, 283), naive.sigma)
    assert _score(smoke, mu, sigma) == pytest.approx(0.0, abs=1e-12)


def test_baseline_command_beats_naive(smoke: dict) -> None:
    root, data = smoke["root"], smoke["data"]
    out = root / "baseline.npz"
    args = ["-q", "baseline", "--calibrated-dir", str(root / "cal" / "train")]
    args += ["--calibrated-dir", str(root / "cal" / "test")]
    args += ["--labels", str(data / "train.csv"), "--out", str(out)]
    assert main(args) == 0
    from spectramind.artifacts.predictions import read_predictions

    predictions = read_predictions(out)
    ids, mu, sigma = predictions.planet_id, predictions.mu, predictions.sigma
    np.testing.assert_array_equal(ids, smoke["test_ids"])  # only the unlabelled planets
    assert np.all(mu == mu[:, :1])  # one depth for all wavelengths
    assert _score(smoke, mu, sigma) > 0.1


def test_baseline_command_refuses_nothing_to_predict(smoke: dict) -> None:
    root, data = smoke["root"], smoke["data"]
    args = ["-q", "baseline", "--calibrated-dir", str(root / "cal" / "train")]
    args += ["--labels", str(data / "train.csv"), "--out", str(root / "none.npz")]
    assert main(args) != 0
    assert not (root / "none.npz").exists()


def test_physics_and_torch_chain_beat_naive(smoke: dict) -> None:
    from spectramind.model.config import TrainConfig
    from spectramind.model.data import DEPTH_UNIT, load_planets
    from spectramind.model.predict import predict
    from spectramind.model.train import train

    root, data = smoke["root"], smoke["data"]
    for split in ("train", "test"):
        (root / "fits" / split).mkdir(parents=True)
        cal = sorted((root / "cal" / split).glob("*.npz"))
        for pid in reader.discover_planets(data, split):
            visits = [str(p) for p in cal if p.name.startswith(f"{pid}_")]
            args = ["-q", "fit", "--calibrated", *visits, "--planet", str(pid)]
            args += ["--star-info", str(data / f"{split}_star_info.csv")]
            args += ["--out", str(root / "fits" / split / f"{pid}.npz")]
            assert main(args) == 0

    def files(split: str) -> list[Path]:
        return sorted((root / "fits" / split).glob("*.npz"))

    test = load_planets(files("test"), data / "test_star_info.csv")
    physics = _score(smoke, np.clip(test.depth / DEPTH_UNIT, 0, None), test.depth_err / DEPTH_UNIT)
    assert physics > 0.0

    table = load_planets(files("train"), data / "train_star_info.csv", data / "train.csv")
    # Early stopping on a quarter of the 8 train planets: with so few planets the sigma head
    # would otherwise over-fit (shrink) within a few dozen epochs.
    cfg = TrainConfig(holdout_fraction=0.25, max_epochs=60, patience=20, device="cpu")
    checkpoint = train(cfg, table)
    mu, sigma = predict(checkpoint, test)
    assert _score(smoke, mu, sigma) > 0.0
