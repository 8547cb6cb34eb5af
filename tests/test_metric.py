"""The ADC 2025 metric against FORMAT.md section 5, scipy's logpdf, and each rejection rule."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from spectramind.metric import (
    NaiveReference,
    SubmissionFormatError,
    calibrated_z_rms_interval,
    element_scores,
    planet_z2,
    score_arrays,
    score_dataframes,
    score_files,
    score_tables,
)

# FORMAT.md section 4: statistics of the real train.csv labels.
NAIVE = NaiveReference(mean=0.0146890, sigma=0.0106613)
N_WL = 283
WL = [f"wl_{j}" for j in range(1, N_WL + 1)]
SIGMA = [f"sigma_{j}" for j in range(1, N_WL + 1)]


def sigma_true_row() -> np.ndarray:
    out = np.full(N_WL, 1e-5)
    out[0] = 1e-6
    return out


def reference_score(truth, mu, sigma, naive=NAIVE, clip=True):
    """Independent re-implementation with scipy, as the Kaggle metric code does it."""
    sigma = np.clip(sigma, 1e-15, None)
    l_pred = norm.logpdf(truth, loc=mu, scale=sigma)
    l_true = norm.logpdf(truth, loc=truth, scale=sigma_true_row() * np.ones_like(truth))
    l_ref = norm.logpdf(truth, loc=naive.mean, scale=naive.sigma)
    s = (l_pred - l_ref) / (l_true - l_ref)
    w = np.ones_like(truth)
    w[:, 0] = 57.846  # FORMAT.md: "= 0.4 / 1.95 * 282" rounded; the metric uses 57.846
    value = np.average(s, weights=w)
    return float(np.clip(value, 0, 1)) if clip else float(value)


def random_spectra(rng, n):
    return rng.uniform(0.006, 0.046, (n, 1)) + rng.normal(0, 2e-4, (n, N_WL))


def test_matches_independent_scipy_implementation():
    rng = np.random.default_rng(0)
    truth = random_spectra(rng, 7)
    sigma = rng.uniform(5e-5, 5e-4, truth.shape)
    mu = truth + rng.normal(0, 1, truth.shape) * sigma
    result = score_arrays(truth, mu, sigma, NAIVE)
    expected = reference_score(truth, mu, sigma, clip=False)
    assert result.score_unclipped == pytest.approx(expected, rel=1e-12)
    assert result.score == pytest.approx(min(max(expected, 0), 1), rel=1e-12)


def test_exact_mu_with_sigma_true_scores_one():
    truth = random_spectra(np.random.default_rng(1), 5)
    sigma = np.tile(sigma_true_row(), (5, 1))
    result = score_arrays(truth, truth.copy(), sigma, NAIVE)
    assert result.score == pytest.approx(1.0, abs=1e-12)
    assert result.fgs_score == pytest.approx(1.0, abs=1e-12)
    assert result.airs_score == pytest.approx(1.0, abs=1e-12)


def test_naive_prediction_scores_zero():
    truth = random_spectra(np.random.default_rng(2), 5)
    mu = np.full_like(truth, NAIVE.mean)
    sigma = np.full_like(truth, NAIVE.sigma)
    assert score_arrays(truth, mu, sigma, NAIVE).score_unclipped == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("error", "expected_approx"), [(1e-4, 0.598), (3e-4, 0.02)])
def test_format_md_check_values_per_airs_element(error, expected_approx):
    # Truth at the naive mean makes the reference term's squared error vanish, so the score
    # of one AIRS element is (log(naive_sigma / s) - (e/s)^2 / 2) / log(naive_sigma / 1e-5).
    s = 1e-4
    closed_form = (math.log(NAIVE.sigma / s) - 0.5 * (error / s) ** 2) / math.log(
        NAIVE.sigma / 1e-5
    )
    assert closed_form == pytest.approx(expected_approx, abs=0.006)
    truth = np.full((1, N_WL), NAIVE.mean)
    scores = element_scores(truth, truth + error, np.full_like(truth, s), NAIVE)
    np.testing.assert_allclose(scores[0, 1:], closed_form, rtol=1e-10)
    # Over-confidence is punished hard: the same error with a 3x smaller sigma scores far worse.
    assert closed_form > 0 if error == 1e-4 else closed_form < 0.03


def test_fgs_weight_57_846():
    truth = random_spectra(np.random.default_rng(3), 4)
    mu = np.full_like(truth, NAIVE.mean)
    sigma = np.full_like(truth, NAIVE.sigma)
    mu[:, 0] = truth[:, 0]  # FGS perfect (score 1), AIRS naive (score 0)
    sigma[:, 0] = 1e-6
    result = score_arrays(truth, mu, sigma, NAIVE)
    assert result.score == pytest.approx(57.846 / (57.846 + 282), rel=1e-10)
    assert result.fgs_score == pytest.approx(1.0)
    assert result.airs_score == pytest.approx(0.0, abs=1e-12)


def test_clipping_and_elements_above_one():
    truth = random_spectra(np.random.default_rng(4), 3)
    # Narrower than sigma_true with exact mu: every element exceeds 1, the score is clipped to 1.
    result = score_arrays(truth, truth, np.full_like(truth, 1e-7), NAIVE)
    assert result.score_unclipped > 1 and result.score == 1.0
    # A confident wrong answer: below 0, clipped to 0.
    result = score_arrays(truth, truth + 1e-3, np.full_like(truth, 1e-5), NAIVE)
    assert result.score_unclipped < 0 and result.score == 0.0


def test_sigma_floor_1e_15():
    truth = random_spectra(np.random.default_rng(5), 2)
    mu = truth + 1e-20
    zero = score_arrays(truth, mu, np.zeros_like(truth), NAIVE)
    floor = score_arrays(truth, mu, np.full_like(truth, 1e-15), NAIVE)
    assert math.isfinite(zero.score_unclipped)
    assert zero.score_unclipped == floor.score_unclipped


def test_calibration_diagnostics():
    truth = random_spectra(np.random.default_rng(6), 4)
    sigma = np.full_like(truth, 2e-4)
    z = np.where(np.arange(truth.size).reshape(truth.shape) % 2 == 0, 0.5, -2.0)
    result = score_arrays(truth, truth + z * sigma, sigma, NAIVE)
    assert result.z_rms == pytest.approx(math.sqrt((0.25 + 4.0) / 2), rel=1e-9)
    assert result.within_1sigma == pytest.approx(0.5)
    assert result.n_planets == 4


def test_rows_matched_on_planet_id():
    rng = np.random.default_rng(7)
    truth = random_spectra(rng, 6)
    sigma = rng.uniform(1e-4, 3e-4, truth.shape)
    mu = truth + rng.normal(0, 1, truth.shape) * sigma
    ids = np.array([11, 5, 42, 7, 99, 3])
    order = rng.permutation(6)
    shuffled = score_tables(ids, truth, ids[order], mu[order], sigma[order], NAIVE)
    assert shuffled.score_unclipped == pytest.approx(reference_score(truth, mu, sigma, clip=False))
    with pytest.raises(SubmissionFormatError, match="planet 42"):
        score_tables(ids, truth, ids[ids != 42], mu[ids != 42], sigma[ids != 42], NAIVE)
    with pytest.raises(SubmissionFormatError, match="planet 1000"):
        score_tables(
            ids, truth, np.r_[ids, 1000], np.r_[mu, mu[:1]], np.r_[sigma, sigma[:1]], NAIVE
        )


def test_negative_and_non_finite_values_rejected():
    truth = random_spectra(np.random.default_rng(8), 3)
    sigma = np.full_like(truth, 1e-4)
    bad = sigma.copy()
    bad[1, 10] = -1e-5
    with pytest.raises(SubmissionFormatError, match=r"planet 1 column sigma_11.*non-negative"):
        score_arrays(truth, truth, bad, NAIVE, planet_ids=[0, 1, 2])
    mu = truth.copy()
    mu[2, 0] = np.nan
    with pytest.raises(SubmissionFormatError, match=r"planet 2 column wl_1.*finite"):
        score_arrays(truth, mu, sigma, NAIVE, planet_ids=[0, 1, 2])


# --- CSV files and the CLI ----------------------------------------------------------------


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(9)
    ids = [101, 7, 55, 3000]
    truth = random_spectra(rng, len(ids))
    train = random_spectra(rng, 20)
    sigma = rng.uniform(1e-4, 4e-4, truth.shape)
    mu = truth + rng.normal(0, 1, truth.shape) * sigma
    paths = {
        "truth": write_csv(
            tmp_path / "truth.csv",
            ["planet_id", *WL],
            [[p, *map(repr, r)] for p, r in zip(ids, truth.tolist(), strict=True)],
        ),
        "train": write_csv(
            tmp_path / "train.csv",
            ["planet_id", *WL],
            [[1000 + i, *map(repr, r)] for i, r in enumerate(train.tolist())],
        ),
    }
    rows = [
        [p, *map(repr, m), *map(repr, s)]
        for p, m, s in zip(ids, mu.tolist(), sigma.tolist(), strict=True)
    ][::-1]  # reversed row order: matched on planet_id
    paths["submission"] = write_csv(tmp_path / "sub.csv", ["planet_id", *WL, *SIGMA], rows)
    naive = NaiveReference(float(np.mean(train)), float(np.std(train)))
    expected = reference_score(truth, mu, sigma, naive)
    return paths, rows, expected


def test_score_files(tables):
    paths, _, expected = tables
    result = score_files(paths["truth"], paths["submission"], paths["train"])
    assert result.score == pytest.approx(expected, rel=1e-12)
    assert expected > 0.5  # honest sigmas of a few 1e-4 score well


def test_csv_rejections(tables, tmp_path):
    paths, rows, _ = tables
    non_numeric = [list(r) for r in rows]
    non_numeric[1][5] = "abc"
    path = write_csv(tmp_path / "non_numeric.csv", ["planet_id", *WL, *SIGMA], non_numeric)
    with pytest.raises(SubmissionFormatError, match=r"column wl_5 must be numeric.*'abc'"):
        score_files(paths["truth"], path, paths["train"])

    short = [r[:-1] for r in rows]
    path = write_csv(tmp_path / "short.csv", ["planet_id", *WL, *SIGMA[:-1]], short)
    with pytest.raises(SubmissionFormatError, match=r"exactly 566 value columns.*found 565"):
        score_files(paths["truth"], path, paths["train"])

    negative = [list(r) for r in rows]
    negative[0][1 + N_WL + 3] = "-0.0001"
    path = write_csv(tmp_path / "negative.csv", ["planet_id", *WL, *SIGMA], negative)
    with pytest.raises(SubmissionFormatError, match=rf"planet {rows[0][0]} column sigma_4"):
        score_files(paths["truth"], path, paths["train"])


def test_score_dataframes(tables):
    pd = pytest.importorskip("pandas")
    paths, _, expected = tables
    train = pd.read_csv(paths["train"]).drop(columns="planet_id").to_numpy()
    naive = NaiveReference(float(np.mean(train)), float(np.std(train)))
    solution = pd.read_csv(paths["truth"])
    submission = pd.read_csv(paths["submission"])
    assert score_dataframes(solution, submission, naive).score == pytest.approx(expected)
    submission["wl_9"] = submission["wl_9"].astype(str)
    with pytest.raises(SubmissionFormatError, match="column wl_9 must be numeric"):
        score_dataframes(solution, submission, naive)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "spectramind", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_score(tables, tmp_path):
    paths, rows, expected = tables
    out = tmp_path / "out" / "score.json"
    proc = run_cli(
        "score", "--truth", paths["truth"], "--submission", paths["submission"],
        "--train", paths["train"], "--json", out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.strip()) == pytest.approx(expected, rel=1e-12)
    report = json.loads(out.read_text())
    assert report["score"] == pytest.approx(expected, rel=1e-12)
    assert report["n_planets"] == 4
    assert set(report["per_planet_score"]) == {"101", "7", "55", "3000"}

    bad = [list(r) for r in rows]
    bad[2][200] = "-1"
    path = write_csv(tmp_path / "bad.csv", ["planet_id", *WL, *SIGMA], bad)
    proc = run_cli(
        "score", "--truth", paths["truth"], "--submission", path, "--train", paths["train"]
    )
    assert proc.returncode == 2
    assert f"bad.csv: planet {rows[2][0]} column wl_200" in proc.stderr


def _calibrated_model_errors(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 283) errors of a model whose planet-level offsets are heavy-tailed (Student t, 5
    degrees of freedom) on top of independent channel noise, in units of its raw sigma."""
    level = 0.8 * rng.standard_t(5, size=(n, 1))
    return level + 0.5 * rng.standard_normal((n, 283))


@pytest.mark.parametrize("n_calibration,n_test", [(40, 12), (40, 60), (160, 200)])
def test_calibrated_z_rms_interval_matches_a_simulated_calibration(n_calibration, n_test):
    # Independently of the resampling formula: calibrate the sigma scale as the RMS z of
    # n_calibration unseen planets, measure the z RMS on n_test fresh ones, many times.
    rng = np.random.default_rng(7)
    measured = []
    for _ in range(3000):
        calibration = _calibrated_model_errors(rng, n_calibration)
        scale = np.sqrt(np.mean(calibration**2))
        test = _calibrated_model_errors(rng, n_test)
        measured.append(np.sqrt(np.mean((test / scale) ** 2)))
    expected = np.percentile(measured, [5, 95])
    errors = _calibrated_model_errors(rng, 20000)
    z2 = planet_z2(errors, np.zeros_like(errors), np.ones_like(errors))
    low, high = calibrated_z_rms_interval(z2, n_calibration, n_test)
    assert low == pytest.approx(expected[0], abs=0.03)
    assert high == pytest.approx(expected[1], abs=0.03)
    # Both finite samples matter: the test sample alone gives a narrower interval.
    test_only = np.percentile(
        [np.sqrt(z2[rng.integers(0, z2.size, n_test)].mean() / z2.mean()) for _ in range(3000)],
        [5, 95],
    )
    assert high - low > (test_only[1] - test_only[0]) * 1.05


def test_calibrated_z_rms_interval_of_identical_planets_is_one():
    assert calibrated_z_rms_interval(np.full(30, 2.5), 40, 12) == pytest.approx((1.0, 1.0))


@pytest.mark.parametrize("values", [np.array([]), np.array([1.0, np.nan]), np.zeros(5)])
def test_calibrated_z_rms_interval_refuses_bad_input(values):
    with pytest.raises(ValueError, match="planet_z2_unseen"):
        calibrated_z_rms_interval(values, 40, 12)
