"""One visit's fit: white-light geometry, then the 283 depths; a flux-ratio fallback on failure.

:func:`fit_visit` runs the two stages, :func:`~spectramind.physics.white_light.fit_white_light`
(transit detection, geometry, limb darkening of the white curves, drift degrees) and
:func:`~spectramind.physics.depths.fit_visit_depths` (per-channel depths with the geometry
fixed). Nothing raises on bad data: a stage that fails leaves flux-ratio depths with a large
sigma (:mod:`.fallback`), and the reason is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spectramind.artifacts.calibrated import CalibratedVisit
from spectramind.data.layout import N_WAVELENGTHS, target_wavelengths_um
from spectramind.errors import DataFormatError
from spectramind.physics import fallback as fb
from spectramind.physics.config import FitConfig
from spectramind.physics.depths import fit_visit_depths
from spectramind.physics.geometry import GeometryPrior, prior_duration_h
from spectramind.physics.lightcurves import valid_bins
from spectramind.physics.white_light import fit_white_light

log = logging.getLogger(__name__)

# Fewer distinct finite times than this and no light curve can be fitted.
MIN_FINITE_TIMES = 20


@dataclass(frozen=True)
class VisitFit:
    """One visit's spectrum: depth, depth_err (283,), per-channel fallback mask and diagnostics."""

    visit: int
    depth: np.ndarray
    depth_err: np.ndarray
    channel_fallback: np.ndarray
    fallback: bool
    reasons: tuple[str, ...]
    geometry: dict[str, float] = field(default_factory=dict)
    limb_darkening: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, float] = field(default_factory=dict)


def check_wavelengths(wavelengths_um: np.ndarray | None, source: str = "wavelengths") -> np.ndarray:
    """The 283 target wavelengths [micron] the fit uses; None: FORMAT.md's documented grid.

    Raises :class:`DataFormatError` unless there are 283 finite positive values with the AIRS
    part (wl_2..wl_283) strictly ascending.
    """
    if wavelengths_um is None:
        return target_wavelengths_um()
    wl = np.asarray(wavelengths_um, dtype=np.float64)
    if wl.shape != (N_WAVELENGTHS,) or not np.all(np.isfinite(wl)) or not np.all(wl > 0):
        raise DataFormatError(
            f"{source}: expected {N_WAVELENGTHS} finite positive wavelengths [micron], "
            f"found shape {wl.shape}"
        )
    if not np.all(np.diff(wl[1:]) > 0):
        raise DataFormatError(f"{source}: expected wl_2..wl_283 strictly ascending")
    return wl


def fit_visit(
    lc: CalibratedVisit,
    star: Mapping[str, float],
    config: FitConfig | None = None,
    wavelengths_um: np.ndarray | None = None,
) -> VisitFit:
    """Fit one visit (see module docstring). Never raises on bad data; never returns NaN.

    ``wavelengths_um``: (283,) wl_1..wl_283 [micron] of the dataset (``wavelengths.csv``);
    None uses FORMAT.md's documented grid.
    """
    config = config or FitConfig()
    wavelengths = check_wavelengths(wavelengths_um)
    time_h = np.where(np.isfinite(lc.time_h), lc.time_h, np.nan)
    with np.errstate(all="ignore"):
        valid = valid_bins(lc, config.bad_quality_bits)
    reasons: list[str] = []
    diagnostics: dict[str, float] = {}
    prior = GeometryPrior.from_star_info(star, config.a_prior_frac, config.inc_prior_deg)
    finite_t = np.isfinite(time_h)
    span = float(np.ptp(time_h[finite_t])) if finite_t.any() else 1.0
    t14_prior = prior_duration_h(prior, span)
    t_mid = float(np.mean(time_h[finite_t])) if finite_t.any() else 0.0
    if finite_t.sum() < MIN_FINITE_TIMES or not span > 0:
        reason = f"fewer than {MIN_FINITE_TIMES} distinct finite times"
        return _fallback_visit(lc, valid, t_mid, t14_prior, [reason], {})
    time_h = np.where(finite_t, time_h, t_mid)
    try:
        white_fit = fit_white_light(
            lc, time_h, valid, prior, t14_prior, star, wavelengths, config, diagnostics
        )
        depths = fit_visit_depths(
            lc, time_h, valid, white_fit, star, wavelengths, config, reasons, diagnostics
        )
    except fb.VisitFailure as err:
        reasons.append(str(err))
        return _fallback_visit(lc, valid, err.t0_h, err.t14_h, reasons, diagnostics)
    except Exception as err:  # any optimizer/linear-algebra failure must not stop the run
        log.debug("fit failed", exc_info=True)
        reasons.append(f"fit error: {type(err).__name__}: {err}")
        t0 = diagnostics.get("detected_t0_h", t_mid)
        return _fallback_visit(lc, valid, t0, t14_prior, reasons, diagnostics)
    geometry = white_fit.geometry
    return VisitFit(
        visit=lc.visit,
        depth=depths.depth,
        depth_err=depths.depth_err,
        channel_fallback=depths.channel_fallback,
        fallback=bool(depths.channel_fallback.any()),
        reasons=tuple(reasons),
        geometry={
            "t0_h": geometry.t0_h,
            "period_days": geometry.period_days,
            "a_over_rs": geometry.a_over_rs,
            "inc_deg": geometry.inc_deg,
            "impact_parameter": geometry.impact_parameter,
            "t14_h": white_fit.t14_h,
        },
        limb_darkening=depths.limb_darkening_record(wavelengths[0]),
        diagnostics=diagnostics,
    )


def _fallback_visit(
    lc: CalibratedVisit,
    valid: np.ndarray,
    t0_h: float,
    t14_h: float,
    reasons: list[str],
    diagnostics: dict[str, float],
) -> VisitFit:
    """Flux-ratio depths of every channel in the window (t0_h, t14_h) [h], large sigmas."""
    depth, err = fb.ratio_depth(lc.time_h, lc.flux, lc.flux_err, valid, t0_h, t14_h)
    white = float(np.nanmedian(depth[1:])) if np.isfinite(depth[1:]).any() else None
    depth, err = fb.fill_missing(depth, err, white)
    log.warning("%s: fallback depths (%s)", lc.source, "; ".join(reasons))
    return VisitFit(
        visit=lc.visit,
        depth=depth,
        depth_err=err,
        channel_fallback=np.ones(N_WAVELENGTHS, bool),
        fallback=True,
        reasons=tuple(reasons),
        geometry={"t0_h": float(t0_h), "t14_h": float(t14_h)},
        diagnostics=diagnostics,
    )
