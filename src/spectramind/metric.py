"""The ADC 2025 competition score: a weighted Gaussian log-likelihood (FORMAT.md section 5).

For planet i and wavelength j (j = 1 is the FGS1 photometer)::

    logN(y; m, s) = -0.5 log(2 pi) - log(s) - (y - m)^2 / (2 s^2)
    L_pred = logN(y; mu, max(sigma, 1e-15))
    L_true = logN(y; y, sigma_true_j)           1e-6 for FGS1, 1e-5 for AIRS
    L_ref  = logN(y; naive_mean, naive_sigma)   mean and std of all train.csv label values
    s_ij   = (L_pred - L_ref) / (L_true - L_ref)
    score  = clip(sum_ij w_j s_ij / sum_ij w_j, 0, 1)     w_1 = 57.846, else 1

A submission is rejected before scoring if any value is negative, a value column is not
numeric, or it does not have exactly 566 value columns; rows are matched on ``planet_id``.
Value columns are taken by position (283 depths, then 283 sigmas) as the Kaggle metric does;
a header that differs from ``wl_1..wl_283, sigma_1..sigma_283`` is logged as a warning.
Non-finite values are rejected too (Kaggle would return a NaN score for them).

``naive_sigma`` is the population standard deviation (``numpy.std``, ddof = 0) of all label
values; with ~3e5 values the ddof choice changes the score by less than 1e-6.

Besides the score, :class:`ScoreBreakdown` reports the same formula restricted to the FGS and
the AIRS columns, and the calibration of the sigmas: the RMS of ``z = (y - mu) / sigma``
(1 for honest Gaussian sigmas) and the fraction of truths within +-1 sigma (0.683 if honest).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spectramind.artifacts.predictions import check_prediction_values
from spectramind.artifacts.submission import N_VALUE_COLUMNS, submission_from_table
from spectramind.artifacts.tables import (
    PlanetIdTable,
    align_on_planet_id,
    read_planet_table,
    table_from_frame,
)
from spectramind.data import layout
from spectramind.errors import SubmissionFormatError

log = logging.getLogger(__name__)

SIGMA_FLOOR = 1e-15  # the metric clips submitted sigmas from below at this value
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class NaiveReference:
    """The reference prediction of the metric: one mean and one std for every element."""

    mean: float  # mean of all train label values, (Rp/Rs)^2
    sigma: float  # population std of all train label values, (Rp/Rs)^2

    @classmethod
    def from_labels(cls, labels: np.ndarray) -> NaiveReference:
        """Naive mean/std of every value in ``labels`` (n_planets, 283) from train.csv."""
        values = np.asarray(labels, dtype=np.float64)
        if values.size < 2 or not np.all(np.isfinite(values)):
            raise SubmissionFormatError(
                f"train labels: expected at least 2 finite values, found {values.size} "
                f"({int(np.count_nonzero(~np.isfinite(values)))} non-finite)"
            )
        sigma = float(np.std(values))
        if sigma <= 0:
            raise SubmissionFormatError("train labels: expected a positive std, found 0")
        return cls(mean=float(np.mean(values)), sigma=sigma)


def sigma_true() -> np.ndarray:
    """The metric's ideal sigma per wavelength, shape (283,): 1e-6 for FGS1, 1e-5 for AIRS."""
    out = np.full(layout.N_WAVELENGTHS, layout.SIGMA_TRUE_AIRS)
    out[0] = layout.SIGMA_TRUE_FGS
    return out


def wavelength_weights() -> np.ndarray:
    """The metric's weight per wavelength, shape (283,): 57.846 for FGS1, 1 for AIRS."""
    out = np.ones(layout.N_WAVELENGTHS)
    out[0] = layout.FGS_WEIGHT
    return out


def log_normal(y: np.ndarray, mean: np.ndarray | float, sigma: np.ndarray | float) -> np.ndarray:
    """Gaussian log-density logN(y; mean, sigma), element-wise (as scipy.stats.norm.logpdf)."""
    z = (np.asarray(y, dtype=np.float64) - mean) / sigma
    return -_HALF_LOG_2PI - np.log(sigma) - 0.5 * z * z


def element_scores(
    truth: np.ndarray, mu: np.ndarray, sigma: np.ndarray, naive: NaiveReference
) -> np.ndarray:
    """Per-element normalised log-likelihood s_ij, shape (n_planets, 283); 1 = ideal, 0 = naive.

    Rows of ``truth``, ``mu`` and ``sigma`` (all (n_planets, 283)) must already be aligned.
    ``sigma`` is floored at :data:`SIGMA_FLOOR` as the metric does.
    """
    truth = np.asarray(truth, dtype=np.float64)
    l_pred = log_normal(truth, mu, np.maximum(sigma, SIGMA_FLOOR))
    l_true = log_normal(truth, truth, sigma_true())
    l_ref = log_normal(truth, naive.mean, naive.sigma)
    return (l_pred - l_ref) / (l_true - l_ref)


@dataclass(frozen=True)
class ScoreBreakdown:
    """The competition score and diagnostics of one set of predictions.

    ``fgs_score`` / ``airs_score`` apply the score formula to that instrument's columns only
    and are *not* clipped (they can be negative or exceed 1). ``z_rms*`` is the RMS of
    ``(truth - mu) / max(sigma, 1e-15)``; ``within_1sigma*`` the fraction with ``|z| <= 1``.
    """

    score: float
    score_unclipped: float
    fgs_score: float
    airs_score: float
    z_rms: float
    z_rms_fgs: float
    z_rms_airs: float
    within_1sigma: float
    within_1sigma_fgs: float
    within_1sigma_airs: float
    n_planets: int
    naive: NaiveReference
    planet_ids: tuple[int, ...] = field(default=())
    per_planet_score: tuple[float, ...] = field(default=())  # weighted, unclipped, per row

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (per-planet scores keyed by planet id as a string)."""
        return {
            "score": self.score,
            "score_unclipped": self.score_unclipped,
            "fgs_score": self.fgs_score,
            "airs_score": self.airs_score,
            "z_rms": self.z_rms,
            "z_rms_fgs": self.z_rms_fgs,
            "z_rms_airs": self.z_rms_airs,
            "within_1sigma": self.within_1sigma,
            "within_1sigma_fgs": self.within_1sigma_fgs,
            "within_1sigma_airs": self.within_1sigma_airs,
            "n_planets": self.n_planets,
            "naive_mean": self.naive.mean,
            "naive_sigma": self.naive.sigma,
            "per_planet_score": {
                str(pid): s for pid, s in zip(self.planet_ids, self.per_planet_score, strict=True)
            },
        }


def score_arrays(
    truth: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    naive: NaiveReference,
    planet_ids: Sequence[int] | None = None,
    source: str = "submission",
) -> ScoreBreakdown:
    """Score row-aligned arrays (n_planets, 283) of truth, predicted depth and sigma.

    Applies the value rules of :func:`check_prediction_values` first (``source`` names the
    predictions in messages).
    """
    truth = np.asarray(truth, dtype=np.float64)
    check_prediction_values(mu, sigma, source=source, planet_ids=planet_ids)
    if truth.shape != np.shape(mu) or truth.shape != np.shape(sigma):
        raise SubmissionFormatError(
            f"expected truth, mu and sigma of one shape, found {truth.shape}, "
            f"{np.shape(mu)}, {np.shape(sigma)}"
        )
    if truth.shape[0] == 0:
        raise SubmissionFormatError("expected at least one planet to score, found none")
    if not np.all(np.isfinite(truth)):
        raise SubmissionFormatError("truth: expected finite transit depths, found NaN/inf")
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    s = element_scores(truth, mu, sigma, naive)
    w = wavelength_weights()
    weighted = float(np.sum(s * w) / (w.sum() * s.shape[0]))
    z = (truth - mu) / np.maximum(sigma, SIGMA_FLOOR)
    inside = np.abs(z) <= 1.0
    ids = tuple(int(p) for p in planet_ids) if planet_ids is not None else tuple(range(len(s)))
    return ScoreBreakdown(
        score=float(np.clip(weighted, 0.0, 1.0)),
        score_unclipped=weighted,
        fgs_score=float(np.mean(s[:, 0])),
        airs_score=float(np.mean(s[:, 1:])),
        z_rms=float(np.sqrt(np.mean(z * z))),
        z_rms_fgs=float(np.sqrt(np.mean(z[:, 0] ** 2))),
        z_rms_airs=float(np.sqrt(np.mean(z[:, 1:] ** 2))),
        within_1sigma=float(np.mean(inside)),
        within_1sigma_fgs=float(np.mean(inside[:, 0])),
        within_1sigma_airs=float(np.mean(inside[:, 1:])),
        n_planets=int(s.shape[0]),
        naive=naive,
        planet_ids=ids,
        per_planet_score=tuple(float(v) for v in (s @ w) / w.sum()),
    )


def planet_z2(truth: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Each planet's mean z^2 over its 283 values (n,), z as in :func:`score_arrays`."""
    z = (np.asarray(truth) - np.asarray(mu)) / np.maximum(np.asarray(sigma), SIGMA_FLOOR)
    return np.mean(z * z, axis=1)


def calibrated_z_rms_interval(
    planet_z2_unseen: np.ndarray,
    n_calibration: int,
    n_test: int,
    resamples: int = 4000,
    seed: int = 0,
) -> tuple[float, float]:
    """5th and 95th percentile of the test z RMS that a perfectly calibrated model shows.

    Errors of transit spectra are largely planet-level (the level of a spectrum moves as one)
    and heavy-tailed, so a z RMS measured on a few planets is uncertain twice over: the sigma
    scale is itself the RMS z of ``n_calibration`` planets the model did not see (out of fold),
    and the test z RMS averages ``n_test`` others. Both sets are drawn, with replacement, from
    ``planet_z2_unseen`` (n,): the mean z^2 of each of n planets the model did not see (any
    overall scale, :func:`planet_z2`); each resample gives sqrt(mean(test) / mean(calibration)).
    A model whose planet errors follow that distribution lands outside the interval 10 % of
    the time, so a z RMS outside it is evidence of miscalibration and one inside it is not.
    """
    values = np.asarray(planet_z2_unseen, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("planet_z2_unseen: expected a non-empty 1-D array of finite values")
    if np.any(values < 0) or not values.sum() > 0:
        raise ValueError("planet_z2_unseen: expected mean z^2 values >= 0, not all zero")
    if n_calibration < 1 or n_test < 1:
        raise ValueError(f"expected n_calibration, n_test >= 1, found {n_calibration}, {n_test}")
    rng = np.random.default_rng(seed)
    calibration = values[rng.integers(0, values.size, (resamples, n_calibration))].mean(axis=1)
    test = values[rng.integers(0, values.size, (resamples, n_test))].mean(axis=1)
    ratio = np.sqrt(test / np.maximum(calibration, np.finfo(float).tiny))
    low, high = np.percentile(ratio, [5, 95])
    return float(low), float(high)


def score_tables(
    truth_ids: np.ndarray,
    truth: np.ndarray,
    pred_ids: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    naive: NaiveReference,
    source: str = "submission",
) -> ScoreBreakdown:
    """Score predictions whose rows are matched to the truth rows on planet_id."""
    index = align_on_planet_id(
        truth_ids,
        pred_ids,
        source=source,
        expected="a row for every truth planet",
        extra="error",
        error=SubmissionFormatError,
    )
    mu = np.asarray(mu)[index]
    sigma = np.asarray(sigma)[index]
    ids = np.asarray(truth_ids).tolist()
    return score_arrays(truth, mu, sigma, naive, planet_ids=ids, source=source)


# --- tables: CSV files (spectramind.artifacts) and DataFrame-like objects -------------------

__all__ = [
    "N_VALUE_COLUMNS",
    "NaiveReference",
    "ScoreBreakdown",
    "SubmissionFormatError",
    "check_prediction_values",
    "element_scores",
    "log_normal",
    "score_arrays",
    "score_dataframes",
    "score_files",
    "score_submission_table",
    "score_tables",
    "sigma_true",
    "truth_values",
    "wavelength_weights",
]


def truth_values(table: PlanetIdTable) -> np.ndarray:
    """Depths (n, 283) of a truth/labels table with columns planet_id, wl_1..wl_283."""
    expected = ("planet_id", *layout.WL_COLUMNS)
    if table.header != expected:
        raise SubmissionFormatError(
            f"{table.source}: expected columns planet_id, wl_1..wl_283 ({len(expected)}), "
            f"found {len(table.header)} starting {list(table.header[:3])}"
        )
    return table.values


def score_submission_table(
    truth: PlanetIdTable, submission: PlanetIdTable, naive: NaiveReference
) -> ScoreBreakdown:
    """Score a submission table against a truth table (rows matched on planet_id)."""
    rows = submission_from_table(submission)
    return score_tables(
        truth.planet_ids,
        truth_values(truth),
        rows.planet_id,
        rows.mu,
        rows.sigma,
        naive,
        source=submission.source,
    )


def read_truth(path: Path | str) -> PlanetIdTable:
    """A truth or labels CSV (planet_id, wl_1..wl_283) for scoring."""
    table = read_planet_table(path, error=SubmissionFormatError)
    truth_values(table)
    return table


def score_files(
    truth_csv: Path | str, submission_csv: Path | str, train_csv: Path | str
) -> ScoreBreakdown:
    """Score ``submission_csv`` against ``truth_csv``; naive mean/std from all of ``train_csv``."""
    naive = NaiveReference.from_labels(truth_values(read_truth(train_csv)))
    return score_submission_table(
        read_truth(truth_csv), read_planet_table(submission_csv, error=SubmissionFormatError), naive
    )


def score_dataframes(solution: Any, submission: Any, naive: NaiveReference) -> ScoreBreakdown:
    """Score DataFrame-like ``submission`` against ``solution`` (both with planet_id columns)."""
    return score_submission_table(
        table_from_frame(solution, "solution", SubmissionFormatError),
        table_from_frame(submission, "submission", SubmissionFormatError),
        naive,
    )
