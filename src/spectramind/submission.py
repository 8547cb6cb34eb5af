"""Build ``submission.csv`` from predictions, in the sample submission's planet order.

The submission has one row per planet of ``sample_submission.csv``, in that file's order,
built from a predictions ``.npz``. The file format, its checks (metric value rules, then the
Frictionless Table Schema on the bytes before the file is renamed into place) and its writer are
:mod:`spectramind.artifacts.submission`; this module only selects and orders the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spectramind.artifacts.predictions import read_predictions
from spectramind.artifacts.submission import (
    DEFAULT_SCHEMA_PATH,
    Submission,
    validate_submission_csv,
    write_submission_csv,
)
from spectramind.artifacts.tables import align_on_planet_id, read_sample_submission
from spectramind.data.reader import check_unique_ids
from spectramind.errors import SubmissionFormatError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SCHEMA_PATH",
    "order_like_sample",
    "validate_submission_csv",
    "write_submission",
    "write_submission_from_files",
]


def order_like_sample(
    pred_ids: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    sample_ids: Sequence[int],
    source: str = "predictions",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder predictions into the sample submission's planet order.

    Returns (planet_id (m,), mu (m, 283), sigma (m, 283)) for the m sample planets. Planets
    predicted but absent from the sample are dropped with a warning; a sample planet without a
    prediction, or a planet predicted twice, raises :class:`SubmissionFormatError`.
    """
    sample = [int(p) for p in sample_ids]
    check_unique_ids("sample submission", sample)
    index = align_on_planet_id(
        sample,
        pred_ids,
        source=source,
        expected="a prediction for every sample-submission planet",
        extra="warn",
        error=SubmissionFormatError,
    )
    return (
        np.array(sample, dtype=np.int64),
        np.asarray(mu, dtype=np.float64)[index],
        np.asarray(sigma, dtype=np.float64)[index],
    )


def write_submission(
    out_csv: Path | str,
    pred_ids: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    sample_ids: Sequence[int],
    schema_path: Path | str = DEFAULT_SCHEMA_PATH,
    source: str = "predictions",
) -> Path:
    """Order, check, schema-validate and atomically write a submission; returns ``out_csv``.

    Nothing is written at ``out_csv`` unless every check passes.
    """
    ids, mu, sigma = order_like_sample(pred_ids, mu, sigma, sample_ids, source)
    return write_submission_csv(out_csv, Submission(ids, mu, sigma, source), schema_path)


def write_submission_from_files(
    predictions_npz: Path | str,
    sample_submission_csv: Path | str,
    out_csv: Path | str,
    schema_path: Path | str = DEFAULT_SCHEMA_PATH,
) -> Path:
    """:func:`write_submission` from a predictions ``.npz`` and a ``sample_submission.csv``."""
    predictions = read_predictions(predictions_npz)
    sample = read_sample_submission(sample_submission_csv)
    return write_submission(
        out_csv,
        predictions.planet_id,
        predictions.mu,
        predictions.sigma,
        sample.planet_ids.tolist(),
        schema_path,
        str(predictions_npz),
    )
