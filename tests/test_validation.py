"""Hold-out split and the validation report (score.json) of held-out train planets."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

from spectramind.errors import ConfigError, DataFormatError
from spectramind.holdout import holdout_split, write_validation_report
from spectramind.io import save_arrays

N_WL = 283


def test_holdout_split_deterministic_order_independent_and_complete():
    ids = np.arange(1000, 1100) * 7
    train, val = holdout_split(ids, 0.2, seed=42)
    assert val.size == 20 and train.size == 80
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(ids.tolist())
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    shuffled = np.random.default_rng(0).permutation(ids)
    again_train, again_val = holdout_split(list(shuffled), 0.2, seed=42)
    np.testing.assert_array_equal(again_val, val)
    np.testing.assert_array_equal(again_train, train)
    _, other_val = holdout_split(ids, 0.2, seed=43)
    assert not np.array_equal(other_val, val)


def test_holdout_split_is_not_just_the_first_ids():
    ids = np.arange(200)
    _, val = holdout_split(ids, 0.5, seed=0)
    # A seeded shuffle spreads the hold-out over the id range.
    assert 50 < val.mean() < 150 and val.min() < 20 and val.max() > 180


@pytest.mark.parametrize(
    ("ids", "fraction"), [([1, 2, 3], 0.0), ([1, 2, 3], 1.0), ([5], 0.5), ([1, 1, 2], 0.5)]
)
def test_holdout_split_rejects_bad_input(ids, fraction):
    with pytest.raises(ConfigError, match="holdout_split"):
        holdout_split(ids, fraction, seed=0)


@pytest.fixture
def holdout(tmp_path):
    rng = np.random.default_rng(3)
    ids = np.arange(30) + 500
    labels = rng.uniform(0.006, 0.046, (30, 1)) + rng.normal(0, 3e-4, (30, N_WL))
    path = tmp_path / "train.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["planet_id", *[f"wl_{j}" for j in range(1, N_WL + 1)]])
        for pid, row in zip(ids.tolist(), labels.tolist(), strict=True):
            writer.writerow([pid, *map(repr, row)])
    _, val = holdout_split(ids, 0.2, seed=1)
    truth = labels[np.searchsorted(ids, val)]
    sigma = np.full_like(truth, 2e-4)
    z = np.where(np.arange(truth.size).reshape(truth.shape) % 2 == 0, 0.5, -2.0)
    mu = truth + z * sigma
    pred = tmp_path / "pred.npz"
    save_arrays(pred, {"planet_id": val[::-1].copy(), "mu": mu[::-1], "sigma": sigma[::-1]})
    # Independent expectation: scipy log-pdfs, naive mean/std of ALL 30 planets' labels.
    l_pred = norm.logpdf(truth, mu, sigma)
    st = np.full_like(truth, 1e-5)
    st[:, 0] = 1e-6
    l_true = norm.logpdf(truth, truth, st)
    l_ref = norm.logpdf(truth, labels.mean(), labels.std())
    w = np.ones_like(truth)
    w[:, 0] = 57.846
    expected = float(np.average((l_pred - l_ref) / (l_true - l_ref), weights=w))
    return path, pred, val, expected


def test_write_validation_report(holdout, tmp_path):
    labels_csv, pred, val, expected = holdout
    out = tmp_path / "metrics" / "score.json"
    result = write_validation_report(pred, labels_csv, out, train_labels_for_naive=labels_csv)
    report = json.loads(out.read_text())
    assert report["score"] == pytest.approx(min(max(expected, 0), 1), rel=1e-12)
    assert report["n_planets"] == val.size == 6
    assert report["z_rms"] == pytest.approx(math.sqrt((0.25 + 4) / 2))
    assert report["within_1sigma"] == pytest.approx(0.5)
    for key in ("fgs_score", "airs_score", "z_rms_fgs", "z_rms_airs", "within_1sigma_airs"):
        assert isinstance(report[key], float)
    assert sorted(report["per_planet_score"]) == sorted(str(v) for v in val)
    assert result.score == report["score"]
    # Deterministic bytes.
    first = out.read_bytes()
    write_validation_report(pred, labels_csv, out, train_labels_for_naive=labels_csv)
    assert out.read_bytes() == first


def test_validation_report_names_missing_planet(holdout, tmp_path):
    labels_csv, _, _, _ = holdout
    pred = tmp_path / "unknown.npz"
    save_arrays(
        pred,
        {"planet_id": np.array([77777]), "mu": np.ones((1, N_WL)), "sigma": np.ones((1, N_WL))},
    )
    with pytest.raises(DataFormatError, match="planet 77777"):
        write_validation_report(pred, labels_csv, tmp_path / "score.json")
    assert not (tmp_path / "score.json").exists()


def test_cli_score_predictions(holdout, tmp_path):
    labels_csv, pred, _, expected = holdout
    out = tmp_path / "score.json"
    proc = subprocess.run(
        [sys.executable, "-m", "spectramind", "score", "--labels", str(labels_csv),
         "--predictions", str(pred), "--json", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["score"] == pytest.approx(max(expected, 0), rel=1e-12)
