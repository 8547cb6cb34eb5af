"""Hold-out validation: split the train planets, score held-out predictions, write score.json.

:func:`holdout_split` ranks planets by a SHA-256 hash of ``(seed, planet_id)``, so the split
depends only on the seed and the set of ids (not on their order), and adding planets moves
none of the existing ones between the two sides except through the size of the hold-out.

:func:`write_validation_report` scores a predictions ``.npz`` (CONTRACTS.md "Predictions") of
held-out train planets against their train.csv labels, with the naive mean/std taken from all
train label values as the metric prescribes, and writes ``score.json`` atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectramind.errors import ConfigError, DataFormatError
from spectramind.io import atomic_path, load_arrays
from spectramind.metric import (
    NaiveReference,
    ScoreBreakdown,
    read_numeric_csv,
    score_tables,
    truth_values,
)

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


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def write_score_json(
    out_json: Path | str, breakdown: ScoreBreakdown, inputs: Mapping[str, Any] | None = None
) -> None:
    """Write ``breakdown`` (plus ``inputs``, e.g. file names) as sorted JSON, atomically."""
    report = {
        key: (_json_float(value) if isinstance(value, float) else value)
        for key, value in breakdown.to_dict().items()
    }
    if inputs:
        report["inputs"] = dict(inputs)
    text = json.dumps(report, sort_keys=True, indent=2) + "\n"
    with atomic_path(out_json, ".json") as tmp:
        tmp.write_text(text)


def load_predictions(path: Path | str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(planet_id (n,) int64, mu (n, 283), sigma (n, 283)) of a predictions ``.npz``."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    arrays, _ = load_arrays(path)
    missing = [k for k in ("planet_id", "mu", "sigma") if k not in arrays]
    if missing:
        raise DataFormatError(
            f"{path}: expected arrays planet_id, mu, sigma, missing {missing} "
            f"(found {sorted(arrays)})"
        )
    ids, mu, sigma = arrays["planet_id"], arrays["mu"], arrays["sigma"]
    n = ids.shape[0] if ids.ndim == 1 else -1
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise DataFormatError(
            f"{path}: expected planet_id of shape (n,) int, found {ids.shape} {ids.dtype}"
        )
    for name, values in (("mu", mu), ("sigma", sigma)):
        if values.shape != (n, 283):
            raise DataFormatError(
                f"{path}: expected {name} of shape ({n}, 283), found {values.shape}"
            )
    return ids.astype(np.int64), mu.astype(np.float64), sigma.astype(np.float64)


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
    ids, mu, sigma = load_predictions(pred_npz)
    labels = read_numeric_csv(labels_csv)
    depths = truth_values(labels)
    naive_source = (
        labels if train_labels_for_naive is None else read_numeric_csv(train_labels_for_naive)
    )
    naive = NaiveReference.from_labels(truth_values(naive_source))
    row_of = {int(pid): row for row, pid in enumerate(labels.planet_ids.tolist())}
    missing = [int(p) for p in ids if int(p) not in row_of]
    if missing:
        raise DataFormatError(
            f"{labels_csv}: planet {missing[0]}: expected labels for every predicted planet, "
            f"found {len(missing)} missing"
        )
    truth = depths[[row_of[int(p)] for p in ids]]
    return score_tables(ids, truth, ids, mu, sigma, naive, source=str(pred_npz))


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
            breakdown,
            inputs={
                "predictions": str(pred_npz),
                "labels": str(labels_csv),
                "train_labels_for_naive": str(train_labels_for_naive or labels_csv),
            },
        )
    log.info("validation score %.6f over %d planets", breakdown.score, breakdown.n_planets)
    return breakdown
