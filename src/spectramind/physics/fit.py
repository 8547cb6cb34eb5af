"""Per-planet physics fit: every visit fitted, combined, and described (``spectramind fit``).

The fit is layered by responsibility:

- :mod:`.visit`: one visit, in two stages with a flux-ratio fallback (:mod:`.fallback`):
  :mod:`.white_light` (white light curves, transit detection, the joint geometry fit with the
  star info as priors and physical limb darkening with a grey-atmosphere prior at the
  dataset's wavelengths, drift degrees chosen by cross-validation) and :mod:`.depths` (AIRS
  limb darkening on wavelength bins smoothed in wavelength, batched Gauss-Newton depths of FGS1
  and the 282 AIRS channels with the geometry fixed; the FGS1 error includes the white-light
  fit's geometry and limb-darkening uncertainty);
- :mod:`.features`: the planet-level feature vector;
- this module: visits combined by inverse-variance weighting per wavelength
  (:func:`combine_visits`) into the :class:`~spectramind.artifacts.fits.PlanetFit` record.

Priors, bounds and switches live in :class:`~spectramind.physics.config.FitConfig`.
Wavelengths come from the dataset (``wavelengths.csv``), times from the calibrated visit
(the ``axis_info`` clock).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spectramind import __version__
from spectramind.artifacts.calibrated import CalibratedVisit
from spectramind.artifacts.fits import PlanetFit
from spectramind.physics.config import FitConfig
from spectramind.physics.features import FEATURE_NAMES, finite_float, planet_features
from spectramind.physics.visit import VisitFit, check_wavelengths, fit_visit

__all__ = ["combine_visits", "fit_planet"]


def combine_visits(fits: Sequence[VisitFit]) -> tuple[np.ndarray, np.ndarray, float]:
    """Inverse-variance weighted depth per wavelength over visits.

    Returns depth (283,), depth_err (283,) and the reduced chi2 of the visits about the mean
    (NaN for a single visit), a consistency feature.
    """
    depth = np.stack([f.depth for f in fits])
    err = np.stack([f.depth_err for f in fits])
    w = 1.0 / err**2
    mean = (w * depth).sum(axis=0) / w.sum(axis=0)
    mean_err = 1.0 / np.sqrt(w.sum(axis=0))
    if len(fits) < 2:
        return mean, mean_err, float("nan")
    chi2 = float(np.sum(w * (depth - mean) ** 2) / (depth.shape[1] * (len(fits) - 1)))
    return mean, mean_err, chi2


def fit_planet(
    visits: Sequence[CalibratedVisit],
    star: Mapping[str, float],
    config: FitConfig | None = None,
    planet_id: int | None = None,
    split: str | None = None,
    wavelengths_um: np.ndarray | None = None,
) -> PlanetFit:
    """Fit every visit of one planet and combine them (the ``spectramind fit`` logic).

    Args:
        visits: one or more calibrated visits of the same planet.
        star: the planet's star-info row (Rs, Ms, Ts, Mp, e, P [days], sma [R*], i [deg]).
        wavelengths_um: (283,) the dataset's wl_1..wl_283 [micron] (``wavelengths.csv``);
            None: FORMAT.md's documented grid.

    Returns:
        :class:`PlanetFit` with finite depth/depth_err (283,) and features
        (len(:data:`FEATURE_NAMES`),).
    """
    config = config or FitConfig()
    if not visits:
        raise ValueError("fit_planet needs at least one visit")
    wavelengths = check_wavelengths(wavelengths_um)
    fits = [fit_visit(lc, star, config, wavelengths) for lc in visits]
    depth, depth_err, visit_chi2 = combine_visits(fits)
    features = planet_features(fits, depth, depth_err, visit_chi2, star)
    if planet_id is None:
        planet_id = visits[0].planet_id
    split = split if split is not None else visits[0].split
    reasons = [f"visit {f.visit}: {r}" for f in fits for r in f.reasons]
    first = next((f for f in fits if "a_over_rs" in f.geometry), fits[0])
    meta = {
        "planet_id": planet_id,
        "split": split,
        "fallback": any(f.fallback for f in fits),
        "reasons": reasons,
        "geometry": first.geometry,
        "limb_darkening": first.limb_darkening,
        "visits": [
            {
                "visit": f.visit,
                "fallback": f.fallback,
                "reasons": list(f.reasons),
                "fallback_channels": [int(i) for i in np.flatnonzero(f.channel_fallback)],
                "geometry": f.geometry,
                "limb_darkening": f.limb_darkening,
                "diagnostics": {k: finite_float(v, float("nan")) for k, v in f.diagnostics.items()},
            }
            for f in fits
        ],
        "feature_names": list(FEATURE_NAMES),
        "config": config.to_dict(),
        "wavelengths_um": [float(v) for v in wavelengths],
        "spectramind_version": __version__,
    }
    meta = _json_safe(meta)
    return PlanetFit(depth, depth_err, features, meta)


def _json_safe(value: Any) -> Any:
    """Replace NaN/inf floats by None so that the meta JSON is strict."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
