"""Calibrated visit: ``artifacts/calib/{split}/{planet_id}/visit_{visit}.npz``, calibrate's output.

One ``.npz`` per planet visit, written byte-stable and atomically
(:func:`spectramind.io.save_arrays`):

``time_h`` (n_bins,) float64 [h], ``flux`` (n_bins, 283) float64 (column 0 FGS1, columns 1..282
AIRS in ascending wavelength = wl_2..wl_283) [counts per CDS frame], ``flux_err`` (n_bins, 283)
float64, ``quality`` (283,) uint16 (bits in :class:`spectramind.calibrate.product.Quality`,
0 = good), ``regressors`` (n_bins, n_regressors) float64 and ``meta`` (JSON: planet_id, split,
visit, regressor_names, steps, spectramind_version, the time-bin size and preset).

The values are not judged here (non-finite flux or a flagged channel is the consumers' business,
through ``quality``); the reader and the writer check the layout: keys, shapes, dtypes, meta.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from spectramind.data.layout import N_WAVELENGTHS
from spectramind.artifacts._npz import open_npz
from spectramind.errors import DataFormatError
from spectramind.io import load_arrays, save_arrays

ARRAYS = ("time_h", "flux", "flux_err", "quality", "regressors")


@dataclass(frozen=True)
class CalibratedVisit:
    """One calibrated planet visit (shapes and units in the module docstring).

    Construction validates the shapes and the meta; ``source`` names the file in messages.
    ``planet_id``, ``split``, ``visit`` and ``regressor_names`` are read from ``meta``.
    """

    time_h: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    regressors: np.ndarray
    meta: dict[str, Any]
    source: str = "calibrated visit"

    def __post_init__(self) -> None:
        time_h = np.asarray(self.time_h)
        if time_h.ndim != 1 or time_h.size < 1:
            raise DataFormatError(
                f"{self.source}: expected time_h of shape (n_bins>=1,), found {time_h.shape}"
            )
        n_bins = time_h.size
        expected = {
            "flux": (n_bins, N_WAVELENGTHS),
            "flux_err": (n_bins, N_WAVELENGTHS),
            "quality": (N_WAVELENGTHS,),
        }
        for key, shape in expected.items():
            found = np.shape(getattr(self, key))
            if found != shape:
                raise DataFormatError(
                    f"{self.source}: expected {key} of shape {shape}, found {found}"
                )
        regressors = np.shape(self.regressors)
        if len(regressors) != 2 or regressors[0] != n_bins:
            raise DataFormatError(
                f"{self.source}: expected regressors of shape ({n_bins}, k), found {regressors}"
            )
        if not np.issubdtype(np.asarray(self.quality).dtype, np.integer):
            raise DataFormatError(
                f"{self.source}: expected integer quality bits, found {np.asarray(self.quality).dtype}"
            )
        if not isinstance(self.meta, dict):
            raise DataFormatError(f"{self.source}: expected a JSON object as meta")
        for key in ("planet_id", "visit"):
            value = self.meta.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise DataFormatError(
                    f"{self.source}: expected an integer meta {key}, found {value!r}"
                )

    @property
    def n_bins(self) -> int:
        return int(np.size(self.time_h))

    @property
    def planet_id(self) -> int | None:
        return self.meta.get("planet_id")

    @property
    def split(self) -> str | None:
        return self.meta.get("split")

    @property
    def visit(self) -> int:
        return int(self.meta.get("visit", 0))

    @property
    def regressor_names(self) -> tuple[str, ...]:
        return tuple(self.meta.get("regressor_names", ()))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays as written: float64 and uint16, C-contiguous."""
        return {
            "time_h": np.ascontiguousarray(self.time_h, dtype=np.float64),
            "flux": np.ascontiguousarray(self.flux, dtype=np.float64),
            "flux_err": np.ascontiguousarray(self.flux_err, dtype=np.float64),
            "quality": np.ascontiguousarray(self.quality, dtype=np.uint16),
            "regressors": np.ascontiguousarray(self.regressors, dtype=np.float64),
        }


def write_calibrated_visit(path: Path | str, visit: CalibratedVisit) -> None:
    """Write ``visit`` to ``path`` (byte-stable, atomic: nothing on a failure)."""
    save_arrays(path, visit.arrays(), visit.meta)


def read_calibrated_visit(path: Path | str) -> CalibratedVisit:
    """Read and validate a calibrated visit file; a bad file raises naming it and the problem."""
    path = Path(path)
    arrays, meta = open_npz(path, "calibrated visit", ARRAYS)
    visit = CalibratedVisit(meta=meta, source=str(path), **{key: arrays[key] for key in ARRAYS})
    return replace(visit, **visit.arrays())  # the written dtypes, whatever wrote the file
