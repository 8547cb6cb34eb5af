"""The learned stage on synthetic physics fits: determinism, learning, calibration, checkpoint."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from spectramind.artifacts.checkpoint import read_checkpoint
from spectramind.artifacts.checkpoint import write_checkpoint as save_checkpoint
from spectramind.cli import main
from spectramind.io import load_arrays
from spectramind.model.config import TrainConfig
from spectramind.model.crossfit import train_model
from spectramind.model.data import feature_files_in, load_planets
from spectramind.model.net import SpectralCorrector
from spectramind.model.predict import predict
from spectramind.model.train import lr_at, train
from spectramind.oracles.synthetic_fits import write_synthetic_set
from spectramind.repro.hashing import sha256_file


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return write_synthetic_set(tmp_path_factory.mktemp("small"), 40, seed=3)


def _table(syn, labels=True):
    return load_planets(
        feature_files_in(syn.features_dir), syn.star_info_csv, syn.labels_csv if labels else None
    )


def test_lr_schedule_warms_up_then_decays_to_min():
    args = dict(max_iters=100, warmup_iters=10, lr=1e-2, min_lr=1e-4)
    assert lr_at(0, **args) == pytest.approx(1e-3)
    assert lr_at(9, **args) == pytest.approx(1e-2)
    assert lr_at(10, **args) == pytest.approx(1e-2)
    assert lr_at(55, **args) == pytest.approx(0.5 * (1e-2 + 1e-4))
    assert lr_at(100, **args) == pytest.approx(1e-4)
    assert lr_at(500, **args) == pytest.approx(1e-4)


def test_untrained_model_is_the_physics_estimate():
    basis = torch.eye(283)[:5]
    model = SpectralCorrector(
        4, basis, torch.ones(5), 8, sigma_floor_init_ppm=20.0, sigma_min_ppm=1.0
    )
    depth = torch.full((2, 283), 1.5e4)  # (B, W) [ppm]
    err = torch.full((2, 283), 100.0)
    mu, sigma = model(torch.randn(2, 4), depth, err)
    assert torch.equal(mu, depth)
    assert torch.allclose(sigma, torch.full_like(sigma, (100.0**2 + 20.0**2 + 1.0) ** 0.5))


def test_training_is_deterministic_and_seed_dependent(small_set, tmp_path):
    cfg = TrainConfig(seed=7, max_epochs=60)
    sha_a = save_checkpoint(train(cfg, _table(small_set)), tmp_path / "a.pt")
    sha_b = save_checkpoint(train(cfg, _table(small_set)), tmp_path / "sub" / "b.pt")
    assert sha_a == sha_b
    assert sha256_file(tmp_path / "a.pt") == sha_a
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "sub" / "b.pt").read_bytes()
    sha_c = save_checkpoint(
        train(TrainConfig(seed=8, max_epochs=60), _table(small_set)), tmp_path / "c.pt"
    )
    assert sha_c != sha_a


def test_checkpoint_loads_weights_only_and_carries_provenance(small_set, tmp_path):
    cfg = TrainConfig(seed=1, max_epochs=30, holdout_fraction=0.25)
    save_checkpoint(train(cfg, _table(small_set)), tmp_path / "m.pt")
    ckpt = torch.load(tmp_path / "m.pt", weights_only=True)
    assert ckpt["config"] == asdict(cfg)
    assert ckpt["device"] == "cpu"
    norm = ckpt["normalisation"]
    assert norm["x_mean"].shape == norm["x_std"].shape == ckpt["state_dict"]["x_mean"].shape
    assert torch.all(norm["x_std"] > 0)
    assert norm["input_names"][-8:] == ["Rs", "Ms", "Ts", "Mp", "e", "P", "sma", "i"]
    hashes = ckpt["data_sha256"]
    assert hashes["labels"] == hashlib.sha256(small_set.labels_csv.read_bytes()).hexdigest()
    assert hashes["star_info"] == sha256_file(small_set.star_info_csv)
    files = feature_files_in(small_set.features_dir)
    assert hashes["features"] == {f.name: sha256_file(f) for f in files}
    train_ids, hold_ids = set(ckpt["train_ids"]), set(ckpt["holdout_ids"])
    assert len(hold_ids) == 10 and not train_ids & hold_ids
    assert train_ids | hold_ids == set(small_set.planet_id.tolist())


def test_learns_bias_and_sigma_is_calibrated(tmp_path):
    """Physics depth = truth x (1 + smooth 1..4% bias) + noise 1.3x the reported error."""
    train_set = write_synthetic_set(tmp_path / "train", 150, seed=11)
    test_set = write_synthetic_set(tmp_path / "test", 150, seed=12, first_id=5000)
    ckpt = train(TrainConfig(seed=0), _table(train_set))
    table = _table(test_set, labels=False)
    mu, sigma = predict(ckpt, table)  # (n, W) [(Rp/Rs)^2]
    physics_rmse = np.sqrt(np.mean((table.depth / 1e6 - test_set.truth) ** 2))
    model_rmse = np.sqrt(np.mean((mu - test_set.truth) ** 2))
    noise_rmse = np.sqrt(np.mean(test_set.true_sigma**2))  # what an ideal de-biasing leaves
    assert model_rmse < 0.5 * physics_rmse
    assert model_rmse < 1.1 * noise_rmse
    z = (test_set.truth - mu) / sigma
    assert 0.8 < np.sqrt(np.mean(z**2)) < 1.2
    assert 0.8 < np.sqrt(np.mean(z[:, 0] ** 2)) < 1.25  # FGS1 alone (150 values)
    assert 0.6 < np.mean(np.abs(z) <= 1) < 0.76  # Gaussian: 0.683


@pytest.mark.parametrize("mode", ["single", "crossfit"])
def test_cli_train_then_predict_all_and_holdout(small_set, tmp_path, mode):
    ckpt = tmp_path / "model.pt"
    common = ["--star-info", str(small_set.star_info_csv)]
    config = tmp_path / "train.yaml"
    config.write_text("n_folds: 1\n" if mode == "single" else "n_folds: 5\n")
    rc = main(
        [
            "train",
            "--features-dir",
            str(small_set.features_dir),
            "--labels",
            str(small_set.labels_csv),
            *common,
            "--out",
            str(ckpt),
            "--seed",
            "3",
            "--holdout-fraction",
            "0.2",
            "--device",
            "cpu",
            "--config",
            str(config),
        ]
    )
    assert rc == 0
    checkpoint = read_checkpoint(ckpt)
    # single model: the seeded 20 % hold-out; cross-fit: every planet has an out-of-fold member
    n_holdout = 8 if mode == "single" else 40
    assert checkpoint["config"]["seed"] == 3 and len(checkpoint["holdout_ids"]) == n_holdout

    # A planet whose physics depth is negative must still get mu >= 0.
    files = feature_files_in(small_set.features_dir)
    arrays, meta = load_arrays(files[0])
    from spectramind.io import save_arrays

    odd = tmp_path / "extra" / "99.npz"
    save_arrays(odd, {**arrays, "depth": arrays["depth"] * 0 - 1e-3}, {**meta, "planet_id": 99})
    star = small_set.star_info_csv.read_text().splitlines()
    star_csv = tmp_path / "star.csv"
    star_csv.write_text("\n".join([*star, "99," + star[1].split(",", 1)[1]]) + "\n")

    out_all = tmp_path / "pred_all.npz"
    rc = main(
        [
            "predict",
            "--ckpt",
            str(ckpt),
            "--features",
            *map(str, files),
            str(odd),
            "--star-info",
            str(star_csv),
            "--out",
            str(out_all),
        ]
    )
    assert rc == 0
    pred, _ = load_arrays(out_all)
    assert set(pred) == {"planet_id", "mu", "sigma"}
    assert pred["planet_id"].dtype == np.int64 and pred["planet_id"].tolist() == sorted(
        [*small_set.planet_id.tolist(), 99]
    )
    assert pred["mu"].shape == pred["sigma"].shape == (41, 283)
    assert pred["mu"].dtype == pred["sigma"].dtype == np.float64
    assert np.all(np.isfinite(pred["mu"])) and np.all(np.isfinite(pred["sigma"]))
    assert np.all(pred["mu"] >= 0) and np.all(pred["sigma"] > 0)
    if mode == "single":  # the spectral prior may lift a negative measurement above zero
        assert np.all(pred["mu"][pred["planet_id"] == 99] == 0)

    out_hold = tmp_path / "pred_hold.npz"
    rc = main(
        [
            "predict",
            "--ckpt",
            str(ckpt),
            "--features-dir",
            str(small_set.features_dir),
            *common,
            "--out",
            str(out_hold),
            "--planets",
            "holdout",
        ]
    )
    assert rc == 0
    hold, _ = load_arrays(out_hold)
    assert hold["planet_id"].tolist() == checkpoint["holdout_ids"]
    rows = np.isin(pred["planet_id"], hold["planet_id"])
    if mode == "single":
        np.testing.assert_array_equal(hold["mu"], pred["mu"][rows])
    else:  # out of fold: each planet from the one member that did not train on it
        assert not np.allclose(hold["mu"], pred["mu"][rows], rtol=0, atol=1e-9)
        for seen in checkpoint["member_train_ids"]:
            assert len(seen) == 32
        covered = [
            sum(pid not in seen for seen in checkpoint["member_train_ids"])
            for pid in hold["planet_id"]
        ]
        assert covered == [1] * 40


@pytest.mark.parametrize("n_folds", [1, 3])
def test_a_planets_prediction_does_not_depend_on_the_batch(small_set, n_folds):
    """Alone, in a subset, or with all others: the same bytes (one planet per forward pass),
    for a single model and for cross-fitted members."""
    table = _table(small_set, labels=False)
    cfg = TrainConfig(seed=2, max_epochs=5, holdout_fraction=0.0, n_folds=n_folds)
    checkpoint = train_model(cfg, _table(small_set))
    mu_all, sigma_all = predict(checkpoint, table)
    ids = table.planet_id.tolist()
    for subset in ([ids[7]], ids[3:11], sorted(ids[::5])):
        rows = np.searchsorted(table.planet_id, subset)
        mu, sigma = predict(checkpoint, table.subset(subset))
        np.testing.assert_array_equal(mu, mu_all[rows])
        np.testing.assert_array_equal(sigma, sigma_all[rows])


def test_a_planet_unlike_every_training_planet_gets_finite_bounded_predictions(small_set):
    """Inputs far outside the train fold (another simulator, a failed fit, a checkpoint trained
    on smaller visits) must not overflow the sigma: the MLP sees them clipped at the edge of
    the training distribution, so 1e6x and 1e12x the inputs give the same prediction."""
    checkpoint = train(TrainConfig(seed=2, max_epochs=60, holdout_fraction=0.0), _table(small_set))
    table = _table(small_set, labels=False)
    _, sigma_in = predict(checkpoint, table)
    far = [replace(table, inputs=table.inputs * k) for k in (1e6, 1e12, -1e30)]
    predictions = [predict(checkpoint, t) for t in far]  # raises on non-finite output
    for mu, sigma in predictions:
        assert np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma)) and np.all(sigma > 0)
        # Bounded: no more than a few train-fold sigmas from the in-distribution answer.
        assert np.max(sigma / sigma_in) < 10 and np.min(sigma / sigma_in) > 0.01
    np.testing.assert_array_equal(predictions[0][0], predictions[1][0])
    np.testing.assert_array_equal(predictions[0][1], predictions[1][1])
