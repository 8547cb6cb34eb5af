"""Hold-out validation: split the train planets, score held-out predictions, write score.json.

(Checking a dataset folder against the format is :mod:`spectramind.data.validate`; this module
is about the model's score on train planets it did not see.)

:func:`holdout_split` ranks planets by a SHA-256 hash of ``(seed, planet_id)``, so the split
depends only on the seed and the set of ids (not on their order), and adding planets moves
none of the existing ones between the two sides except through the size of the hold-out.

:func:`write_validation_report` scores a predictions ``.npz`` (CONTRACTS.md "Predictions") of
held-out train planets against their train.csv labels, with the naive mean/std taken from all
train label values as the metric prescribes, and writes ``score.json`` atomically.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spectramind.artifacts.predictions import read_predictions
from spectramind.artifacts.scores import write_score_json
from spectramind.artifacts.tables import align_on_planet_id, read_labels
from spectramind.errors import ConfigError
from spectramind.metric import NaiveReference, ScoreBreakdown, score_tables

log = logging.getLogger(__name__)


def _split_key(seed: int, planet_id: int) -> bytes:
    return hashlib.sha256(f"{int(seed)}:{int(planet_id)}".encode()).digest()


def holdout_split(
    planet_ids: Sequence[int] | np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split planet ids into (train_ids, val_ids), both int64 and ascending.

    ``round(fraction * n)`` planets (at least 1 and at most n - 1) are held out: those with the
    smallest SHA-256 of ``"<seed>:<planet_id>"``. Deterministic and independent of input order.
    """
    ids = np.asarray(planet_ids, dtype=np.int64)
    unique = np.unique(ids)
    if unique.size != ids.size:
        n_dup = ids.size - unique.size
        raise ConfigError(f"holdout_split: expected unique planet ids, found {n_dup} duplicates")
    if not 0.0 < float(fraction) < 1.0:
        raise ConfigError(f"holdout_split: expected 0 < fraction < 1, found {fraction}")
    if unique.size < 2:
        raise ConfigError(f"holdout_split: expected at least 2 planets, found {unique.size}")
    n_val = min(max(round(float(fraction) * unique.size), 1), unique.size - 1)
    order = sorted(unique.tolist(), key=lambda pid: _split_key(seed, pid))
    val = np.array(sorted(order[:n_val]), dtype=np.int64)
    train = np.array(sorted(order[n_val:]), dtype=np.int64)
    return train, val


def score_predictions(
    pred_npz: Path | str,
    labels_csv: Path | str,
    train_labels_for_naive: Path | str | None = None,
) -> ScoreBreakdown:
    """Score the planets of ``pred_npz`` against their rows of ``labels_csv``.

    Args:
        pred_npz: predictions of held-out train planets (planet_id, mu, sigma).
        labels_csv: labels (planet_id, wl_1..wl_283) containing every predicted planet.
        train_labels_for_naive: train.csv whose *all* label values give the naive mean/std;
            defaults to ``labels_csv`` (normally the full train.csv).
    """
    predictions = read_predictions(pred_npz)
    labels = read_labels(labels_csv)
    naive_source = labels if train_labels_for_naive is None else read_labels(train_labels_for_naive)
    naive = NaiveReference.from_labels(naive_source.values)
    ids = predictions.planet_id
    rows = align_on_planet_id(
        ids, labels.planet_ids, source=str(labels_csv), expected="labels for every predicted planet"
    )
    return score_tables(
        ids, labels.values[rows], ids, predictions.mu, predictions.sigma, naive, str(pred_npz)
    )


def write_validation_report(
    pred_npz: Path | str,
    labels_csv: Path | str,
    out_json: Path | str | None,
    train_labels_for_naive: Path | str | None = None,
) -> ScoreBreakdown:
    """Score held-out predictions (see :func:`score_predictions`) and write ``out_json``.

    The JSON holds the score, per-instrument scores, z-score RMS, fraction within +-1 sigma,
    the number of planets, the naive reference and the per-planet scores. ``out_json=None``
    only scores.
    """
    breakdown = score_predictions(pred_npz, labels_csv, train_labels_for_naive)
    if out_json is not None:
        write_score_json(
            out_json,
            breakdown.to_dict(),
            inputs={
                "predictions": str(pred_npz),
                "labels": str(labels_csv),
                "train_labels_for_naive": str(train_labels_for_naive or labels_csv),
            },
        )
    log.info("validation score %.6f over %d planets", breakdown.score, breakdown.n_planets)
    return breakdown
