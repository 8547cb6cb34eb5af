"""Physics fit: ``artifacts/fit/{split}/{planet_id}.npz``, one per planet (visits combined).

The output of ``spectramind fit`` and the input of train and predict. Arrays: ``depth`` (283,)
float64 (Rp/Rs)^2 for wl_1..wl_283, ``depth_err`` (283,) float64 [same unit], ``features``
(n_features,) float64 planet-level features; a JSON ``meta`` with ``planet_id``, ``split``,
``feature_names``, the geometry and limb darkening, the fit flags (``fallback``, ``reasons``),
per-visit records and the fit config. Written byte-stable and atomically
(:func:`spectramind.io.save_arrays`); the writer and the reader check the same rules (shapes,
finite values, ``depth_err > 0``), so a file that exists can be trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spectramind.data.layout import N_WAVELENGTHS
from spectramind.artifacts._npz import open_npz
from spectramind.errors import DataFormatError
from spectramind.io import load_arrays, save_arrays

ARRAYS = ("depth", "depth_err", "features")


@dataclass(frozen=True)
class PlanetFit:
    """One planet's physics fit: depth, depth_err (283,) [(Rp/Rs)^2], features (F,), meta.

    Construction validates shapes and values; ``source`` names the file in messages.
    """

    depth: np.ndarray
    depth_err: np.ndarray
    features: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = "physics fit"

    def __post_init__(self) -> None:
        for name in ARRAYS:
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        for name in ("depth", "depth_err"):
            shape = getattr(self, name).shape
            if shape != (N_WAVELENGTHS,):
                raise DataFormatError(
                    f"{self.source}: expected {name} of shape ({N_WAVELENGTHS},), found {shape}"
                )
        if self.features.ndim != 1:
            raise DataFormatError(
                f"{self.source}: expected 1-D features, found shape {self.features.shape}"
            )
        for name in ARRAYS:
            values = getattr(self, name)
            if not np.all(np.isfinite(values)):
                bad = int(np.flatnonzero(~np.isfinite(values))[0])
                raise DataFormatError(f"{self.source}: non-finite {name} (first at index {bad})")
        if np.any(self.depth_err <= 0):
            raise DataFormatError(
                f"{self.source}: expected depth_err > 0, found {self.depth_err.min():g}"
            )
        if not isinstance(self.meta, dict):
            raise DataFormatError(f"{self.source}: expected a JSON object as meta")

    @property
    def planet_id(self) -> int | None:
        """``meta['planet_id']``, else the file name ``<planet_id>.npz``, else None."""
        if self.meta.get("planet_id") is not None:
            return int(self.meta["planet_id"])
        stem = Path(self.source).stem
        return int(stem) if stem.isdigit() else None

    @property
    def feature_names(self) -> list[str]:
        """``meta['feature_names']`` when it names every feature, else ``feature_<k>``."""
        names = [str(n) for n in self.meta.get("feature_names", [])]
        if len(names) != self.features.size:
            names = [f"feature_{k}" for k in range(self.features.size)]
        return names


def write_planet_fit(path: Path | str, fit: PlanetFit) -> None:
    """Write ``fit`` to ``path`` (byte-stable, atomic: nothing on a failure)."""
    save_arrays(path, {name: getattr(fit, name) for name in ARRAYS}, fit.meta)


def read_planet_fit(path: Path | str) -> PlanetFit:
    """Read and validate one physics fit file; a bad file raises naming it and the problem."""
    path = Path(path)
    arrays, meta = open_npz(path, "physics fit", ARRAYS)
    fit = PlanetFit(**{name: arrays[name] for name in ARRAYS}, meta=meta, source=str(path))
    if fit.planet_id is None:
        raise DataFormatError(
            f"{path}: no planet_id in meta and the file name is not <planet_id>.npz"
        )
    return fit
