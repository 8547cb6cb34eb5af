"""The calibrated visit file (docs/CONTRACTS.md, "Calibrated visit file") and its quality bits.

One ``.npz`` per planet visit, written byte-stable and atomically by
:func:`spectramind.io.save_arrays`:

``time_h`` (n_bins,) float64, ``flux`` (n_bins, 283) float64 (column 0 FGS1, columns 1..282
AIRS in ascending wavelength = wl_2..wl_283), ``flux_err`` (n_bins, 283) float64,
``quality`` (283,) uint16 (bits below, 0 = good), ``regressors`` (n_bins, n_regressors)
float64 and ``meta`` (JSON: planet_id, split, visit, regressor_names, steps,
spectramind_version, plus the time-bin size and preset).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from pathlib import Path
from typing import Any

import numpy as np

from spectramind.data.layout import N_WAVELENGTHS
from spectramind.errors import DataFormatError
from spectramind.io import load_arrays, save_arrays


class Quality(IntFlag):
    """Per-channel quality bits of ``quality`` (uint16)."""

    GOOD = 0
    MASKED_MANY = 1  # more than mask.max_masked_fraction of the extraction pixels were masked
    FLAT_INVALID = 2  # an extraction pixel had a NaN/inf/zero/negative flat (masked)
    SATURATED = 4  # more than adc.max_saturated_fraction of pixel-frames saturated (rejected)
    COSMIC_MANY = 8  # more than cosmic.max_flagged_fraction of pixel-frames rejected
    BIN_EMPTY = 16  # an extraction pixel had a time bin with no good frame (filled)
    ROW_FILLED = 32  # a masked pixel's whole row was masked: filled across rows instead
    GEOMETRY = 64  # trace / PSF location looked odd (see the locate step record): fallback used


@dataclass(frozen=True)
class CalibratedVisit:
    """In-memory form of the calibrated visit file (shapes as in the module docstring)."""

    time_h: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    quality: np.ndarray
    regressors: np.ndarray
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        n_bins = self.time_h.shape[0]
        expected = {
            "flux": (n_bins, N_WAVELENGTHS),
            "flux_err": (n_bins, N_WAVELENGTHS),
            "quality": (N_WAVELENGTHS,),
        }
        for key, shape in expected.items():
            if getattr(self, key).shape != shape:
                raise ValueError(f"{key}: expected shape {shape}, found {getattr(self, key).shape}")
        if self.regressors.shape[0] != n_bins:
            raise ValueError(f"regressors: expected {n_bins} rows, found {self.regressors.shape}")

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "time_h": np.ascontiguousarray(self.time_h, dtype=np.float64),
            "flux": np.ascontiguousarray(self.flux, dtype=np.float64),
            "flux_err": np.ascontiguousarray(self.flux_err, dtype=np.float64),
            "quality": np.ascontiguousarray(self.quality, dtype=np.uint16),
            "regressors": np.ascontiguousarray(self.regressors, dtype=np.float64),
        }


def save(path: Path | str, visit: CalibratedVisit) -> None:
    """Write ``visit`` to ``path`` (byte-stable, atomic)."""
    save_arrays(path, visit.arrays(), visit.meta)


def load(path: Path | str) -> CalibratedVisit:
    """Read a calibrated visit file, checking its keys."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: calibrated visit file not found")
    arrays, meta = load_arrays(path)
    missing = {"time_h", "flux", "flux_err", "quality", "regressors"} - set(arrays)
    if missing or not meta:
        raise DataFormatError(
            f"{path}: expected a calibrated visit file, missing {sorted(missing) or ['meta']}"
        )
    return CalibratedVisit(meta=meta, **arrays)


def describe_quality(bits: int) -> list[str]:
    """Names of the quality bits set in ``bits`` (for logs and reports)."""
    return [flag.name for flag in Quality if flag and bits & flag]
