"""The fit configuration chosen by the train planets: candidates scored against their labels.

Some choices of the physics fit cannot be settled visit by visit. The drift model is the
example: when a transit covers much of a visit, a drift one degree too low is absorbed by the
limb darkening of the white-light fit and passes any predictive check, yet shifts every
channel's depth once the limb darkening is tied across wavelength; a degree too high trades
against the depth instead. Which way a dataset leans depends on its instrument, not on one
light curve. The train planets say it: each candidate configuration fits a seeded subset of
them, and the candidate whose depths lie closest to the labels (the metric's weighting: FGS1
counts 57.846 AIRS channels) is the dataset's configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spectramind.data.layout import FGS_WEIGHT, N_WAVELENGTHS

log = logging.getLogger(__name__)

# The per-visit cross-validated drift, and the fixed low degrees it competes with.
DEFAULT_CANDIDATES: tuple[dict[str, Any], ...] = (
    {"drift_degree": -1},
    {"drift_degree": 1},
    {"drift_degree": 2},
    {"drift_degree": 3},
)


def weighted_mse(depth: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared error (n, W) -> float with FGS1 weighted like the metric."""
    err2 = (np.asarray(depth) - np.asarray(labels)) ** 2
    weights = np.concatenate([[FGS_WEIGHT], np.ones(N_WAVELENGTHS - 1)])
    return float(np.sum(err2.mean(axis=0) * weights) / weights.sum())


@dataclass(frozen=True)
class Selection:
    """The chosen candidate (index and overrides) and every candidate's weighted RMSE [ppm]."""

    index: int
    overrides: dict[str, Any]
    rmse_ppm: tuple[float, ...]
    planets: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.index,
            "overrides": self.overrides,
            "weighted_rmse_ppm": list(self.rmse_ppm),
            "planets": list(self.planets),
        }


def choose(
    candidates: Sequence[Mapping[str, Any]],
    depths: Sequence[np.ndarray],
    labels: np.ndarray,
    planets: Sequence[int],
) -> Selection:
    """The candidate whose depths (n, W) lie closest to ``labels`` (n, W); ties: the first."""
    rmse = tuple(float(np.sqrt(weighted_mse(d, labels)) * 1e6) for d in depths)
    index = int(np.argmin(rmse))
    log.info(
        "fit configuration from %d train planets: %s",
        len(planets),
        "; ".join(f"{dict(c)} {r:.1f} ppm" for c, r in zip(candidates, rmse, strict=True)),
    )
    return Selection(index, dict(candidates[index]), rmse, tuple(int(p) for p in planets))
