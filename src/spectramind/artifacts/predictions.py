"""Predictions: ``artifacts/preds/{name}.npz``, the output of predict (and of the baseline).

Arrays: ``planet_id`` (n,) int64, ``mu`` (n, 283) and ``sigma`` (n, 283) float64 in
(Rp/Rs)^2, plus a JSON ``meta`` (which planets, the checkpoint's SHA-256, or the baseline's
settings). Written byte-stable and atomically (:func:`spectramind.io.save_arrays`); both the
writer and the reader apply the metric's value rules, so a file that exists is scoreable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spectramind.data import layout
from spectramind.artifacts._npz import open_npz
from spectramind.errors import DataFormatError, SubmissionFormatError
from spectramind.io import load_arrays, save_arrays
from spectramind.repro.hashing import sha256_file

ARRAYS = ("planet_id", "mu", "sigma")


def check_prediction_values(
    mu: np.ndarray,
    sigma: np.ndarray,
    source: str = "submission",
    planet_ids: Sequence[int] | None = None,
) -> None:
    """The metric's value rules for mu and sigma (n, 283): numeric, finite and non-negative.

    Raises :class:`SubmissionFormatError` naming ``source``, the first offending planet and
    column, and the value found.
    """
    for name, values, columns in (
        ("mu", mu, layout.WL_COLUMNS),
        ("sigma", sigma, layout.SIGMA_COLUMNS),
    ):
        values = np.asarray(values)
        if values.ndim != 2 or values.shape[1] != layout.N_WAVELENGTHS:
            raise SubmissionFormatError(
                f"{source}: expected {name} of shape (n_planets, {layout.N_WAVELENGTHS}), "
                f"found {values.shape}"
            )
        if not np.issubdtype(values.dtype, np.number) or np.issubdtype(
            values.dtype, np.complexfloating
        ):
            raise SubmissionFormatError(f"{source}: expected numeric {name}, found {values.dtype}")
        for problem, bad in (
            ("a finite value", ~np.isfinite(values)),
            ("a non-negative value", np.isfinite(values) & (values < 0)),
        ):
            if bad.any():
                row, col = (int(k) for k in np.argwhere(bad)[0])
                planet = planet_ids[row] if planet_ids is not None else f"row {row}"
                raise SubmissionFormatError(
                    f"{source}: planet {planet} column {columns[col]}: expected {problem}, "
                    f"found {float(values[row, col])!r} ({int(bad.sum())} such values)"
                )


@dataclass(frozen=True)
class Predictions:
    """One predictions file: planet_id (n,) int64, mu and sigma (n, 283) float64 [(Rp/Rs)^2].

    Construction validates: shapes, integer ids each once, values finite and non-negative
    (:func:`check_prediction_values`); ``source`` names the file in messages.
    """

    planet_id: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = "predictions"

    def __post_init__(self) -> None:
        ids = np.asarray(self.planet_id)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise DataFormatError(
                f"{self.source}: expected planet_id of shape (n,) int, found {ids.shape} "
                f"{ids.dtype}"
            )
        for name in ("mu", "sigma"):
            shape = np.shape(getattr(self, name))
            if shape != (ids.size, layout.N_WAVELENGTHS):
                raise DataFormatError(
                    f"{self.source}: expected {name} of shape ({ids.size}, "
                    f"{layout.N_WAVELENGTHS}), found {shape}"
                )
        seen: set[int] = set()
        for pid in ids.tolist():
            if pid in seen:
                raise DataFormatError(f"{self.source}: planet {pid}: expected one row, found two")
            seen.add(pid)
        object.__setattr__(self, "planet_id", ids.astype(np.int64))
        object.__setattr__(self, "mu", np.asarray(self.mu, dtype=np.float64))
        object.__setattr__(self, "sigma", np.asarray(self.sigma, dtype=np.float64))
        check_prediction_values(self.mu, self.sigma, self.source, self.planet_id.tolist())


def write_predictions(
    path: Path | str,
    planet_id: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    checkpoint_path: Path | str | None = None,
    planets: str = "all",
    meta: Mapping[str, Any] | None = None,
) -> Predictions:
    """Validate and write a predictions file (byte-stable, atomic: nothing on a refusal).

    ``meta`` records ``planets`` (``all`` / ``holdout``), the SHA-256 of ``checkpoint_path``
    when given, and any further ``meta`` entries (the baseline records its settings).
    """
    record: dict[str, Any] = {"planets": planets} if meta is None else dict(meta)
    if checkpoint_path is not None:
        record["checkpoint_sha256"] = sha256_file(checkpoint_path)
    predictions = Predictions(planet_id, mu, sigma, record, source=str(path))
    save_arrays(
        path,
        {"planet_id": predictions.planet_id, "mu": predictions.mu, "sigma": predictions.sigma},
        predictions.meta,
    )
    return predictions


def read_predictions(path: Path | str) -> Predictions:
    """Read and validate a predictions file; a bad file raises naming it (and the planet)."""
    arrays, meta = open_npz(Path(path), "predictions", ARRAYS)
    return Predictions(arrays["planet_id"], arrays["mu"], arrays["sigma"], meta, source=str(path))
