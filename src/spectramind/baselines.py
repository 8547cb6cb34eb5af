"""The public non-ML baseline (FORMAT.md section 7): one white-light depth for all wavelengths.

Per calibrated visit (CONTRACTS.md "Calibrated visit file"):

1. white light curve: the sum of the good AIRS channels (optionally plus FGS1), in electrons,
   so that each channel counts in proportion to its photons (photon-noise weighting);
2. ingress and egress: the steepest fall and rise of the smoothed white curve before and
   after its minimum; each zone extends while the gradient stays above ``edge_fraction`` of
   its peak, plus ``margin_h``;
3. a joint linear least-squares fit, on the points outside the ingress/egress zones, of a
   polynomial baseline in time (cubic by default) minus one box-shaped dip inside the transit:
   ``white(t) / median = P(t) - D * in_transit(t)``; the depth is ``D / mean(P(t_in))``.

The depth is the same for all 283 wavelengths and sigma is one configurable constant. The
flat-bottom dip of a limb-darkened star is deeper than (Rp/Rs)^2 near the centre of the disk,
so this estimate is biased high by up to ~20 %; :func:`calibrate_baseline` fits a depth scale
and the constant sigma on train planets (least squares and RMS residual) to absorb that.
Visits of one planet are combined by averaging their depths.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spectramind.artifacts.calibrated import read_calibrated_visit
from spectramind.artifacts.predictions import write_predictions
from spectramind.data import layout
from spectramind.errors import DataFormatError, SpectraMindError

log = logging.getLogger(__name__)


class BaselineFitError(SpectraMindError):
    """The white light curve of a visit has no detectable transit window."""


@dataclass(frozen=True)
class BaselineConfig:
    """Settings of the public baseline; defaults suit 7.5 h visits binned to <= a few minutes."""

    poly_degree: int = 3  # degree of the out-of-transit baseline polynomial in time
    smooth_h: float = 0.25  # moving-average window of the white curve for edge finding [h]
    edge_fraction: float = 0.2  # ingress/egress zone: |gradient| above this fraction of its peak
    margin_h: float = 0.05  # extra time excluded on both sides of each zone [h]
    include_fgs: bool = False  # add the FGS1 flux (column 0) to the white curve
    # Constant sigma for every wavelength [(Rp/Rs)^2]. Molecular features are a few 1e-4, but
    # the limb-darkening bias of the box depth is ~10 % of the depth (~2e-3 for a typical 0.015)
    # and over-confidence costs far more than caution; prefer calibrate_baseline's RMS residual.
    sigma: float = 2e-3
    depth_scale: float = 1.0  # multiplies the white depth (calibrate_baseline fits it)
    # Used for a planet whose visits all fail: the train-label mean and std of FORMAT.md
    # section 4, which score 0 (the naive prediction) instead of crashing the run.
    fallback_depth: float = 0.0146890
    fallback_sigma: float = 0.0106613


@dataclass(frozen=True)
class TransitWindow:
    """Ingress and egress zones of one visit [hours, on the visit's time_h axis]."""

    ingress_start_h: float
    ingress_end_h: float
    egress_start_h: float
    egress_end_h: float

    def out_of_transit(self, time_h: np.ndarray) -> np.ndarray:
        """Boolean mask (n_bins,) of points before ingress or after egress."""
        return (time_h < self.ingress_start_h) | (time_h > self.egress_end_h)

    def in_transit(self, time_h: np.ndarray) -> np.ndarray:
        """Boolean mask (n_bins,) of points between the end of ingress and the start of egress."""
        return (time_h > self.ingress_end_h) & (time_h < self.egress_start_h)


@dataclass(frozen=True)
class WhiteDepthFit:
    """Result of :func:`fit_white_depth` for one visit."""

    depth: float  # fractional dip of the white light curve, ~(Rp/Rs)^2
    depth_err: float  # 1-sigma statistical error of ``depth`` from the residual scatter
    window: TransitWindow
    baseline_coeffs: np.ndarray  # (poly_degree + 1,) in powers of normalised time, low first
    residual_rms: float  # RMS of the fit residuals, relative flux


@dataclass(frozen=True)
class PlanetBaseline:
    """Baseline prediction of one planet: the same depth at all 283 wavelengths."""

    planet_id: int
    depth: np.ndarray  # (283,) (Rp/Rs)^2
    sigma: np.ndarray  # (283,) constant
    visit_depths: tuple[float, ...]  # white depth of each visit that fitted
    fallback: bool = False  # True if no visit fitted and the fallback values were used
    reasons: tuple[str, ...] = field(default=())


def white_light_curve(
    flux: np.ndarray, quality: np.ndarray | None = None, include_fgs: bool = False
) -> np.ndarray:
    """Sum of the good channels of ``flux`` (n_bins, 283), shape (n_bins,), in electrons.

    Channels with a non-zero ``quality`` (283,) bit or any non-finite value are left out.
    Column 0 (FGS1) is included only with ``include_fgs``.
    """
    flux = np.asarray(flux, dtype=np.float64)
    if flux.ndim != 2 or flux.shape[1] != layout.N_WAVELENGTHS:
        raise DataFormatError(
            f"flux: expected shape (n_bins, {layout.N_WAVELENGTHS}), found {flux.shape}"
        )
    good = np.all(np.isfinite(flux), axis=0)
    if quality is not None:
        good &= np.asarray(quality) == 0
    if not include_fgs:
        good[0] = False
    if not good[1:].any():
        raise BaselineFitError(
            "white light curve: expected at least one good AIRS channel, found 0"
        )
    return flux[:, good].sum(axis=1)


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` samples (odd), edges reflected; shape kept."""
    width = max(1, int(width) | 1)
    if width == 1 or values.size < 3:
        return np.asarray(values, dtype=np.float64).copy()
    half = min(width // 2, values.size - 1)
    padded = np.pad(np.asarray(values, dtype=np.float64), half, mode="reflect")
    kernel = np.full(2 * half + 1, 1.0 / (2 * half + 1))
    return np.convolve(padded, kernel, mode="valid")


def _zone(gradient: np.ndarray, peak: int, threshold: float, lo: int, hi: int) -> tuple[int, int]:
    """Contiguous index range [start, end] around ``peak`` where gradient/peak > threshold."""
    level = threshold * gradient[peak]
    start = peak
    while start > lo and gradient[start - 1] / level > 1.0:
        start -= 1
    end = peak
    while end < hi and gradient[end + 1] / level > 1.0:
        end += 1
    return start, end


def find_transit_window(
    time_h: np.ndarray, white: np.ndarray, config: BaselineConfig = BaselineConfig()
) -> TransitWindow:
    """Ingress/egress zones from the gradient of the smoothed white curve.

    Args:
        time_h: (n_bins,) ascending bin times [h].
        white: (n_bins,) white light curve (any units).
    """
    time_h = np.asarray(time_h, dtype=np.float64)
    n = time_h.size
    if n < 4 * (config.poly_degree + 2) or white.shape != time_h.shape:
        raise BaselineFitError(
            f"white light curve: expected >= {4 * (config.poly_degree + 2)} bins matching time_h, "
            f"found {white.size} values for {n} times"
        )
    cadence_h = float(np.median(np.diff(time_h)))
    width = round(config.smooth_h / cadence_h) if cadence_h > 0 else 1
    smooth = moving_average(white / np.median(white), width)
    gradient = np.gradient(smooth, time_h)
    edge = max(width // 2, 1)
    if n - 2 * edge < 3:
        raise BaselineFitError(
            f"white light curve: the {config.smooth_h} h smoothing window spans "
            f"{width} of {n} bins; expected a longer observation or a shorter smooth_h"
        )
    bottom = edge + int(np.argmin(smooth[edge : n - edge]))
    if bottom <= edge or bottom >= n - edge - 1:
        raise BaselineFitError("white light curve: its minimum lies at the edge, no transit found")
    ingress = edge + int(np.argmin(gradient[edge:bottom]))
    egress = bottom + int(np.argmax(gradient[bottom : n - edge]))
    if not (gradient[ingress] < 0 < gradient[egress]):
        raise BaselineFitError("white light curve: expected a fall then a rise, found neither")
    in_start, in_end = _zone(gradient, ingress, config.edge_fraction, 0, bottom)
    eg_start, eg_end = _zone(gradient, egress, config.edge_fraction, bottom, n - 1)
    margin = config.margin_h
    return TransitWindow(
        ingress_start_h=float(time_h[in_start] - margin),
        ingress_end_h=float(time_h[in_end] + margin),
        egress_start_h=float(time_h[eg_start] - margin),
        egress_end_h=float(time_h[eg_end] + margin),
    )


def fit_white_depth(
    time_h: np.ndarray, white: np.ndarray, window: TransitWindow, poly_degree: int = 3
) -> WhiteDepthFit:
    """Joint least squares of a polynomial baseline and one box dip (see module docstring).

    Args:
        time_h: (n_bins,) bin times [h].
        white: (n_bins,) white light curve (any units; normalised by its median here).
        window: ingress/egress zones; points inside them are not fitted.
        poly_degree: degree of the baseline polynomial in time.
    """
    time_h = np.asarray(time_h, dtype=np.float64)
    relative = np.asarray(white, dtype=np.float64) / np.median(white)
    outside = window.out_of_transit(time_h)
    inside = window.in_transit(time_h)
    if outside.sum() < poly_degree + 2 or inside.sum() < 3:
        raise BaselineFitError(
            f"white light curve: expected >= {poly_degree + 2} out-of-transit and >= 3 "
            f"in-transit bins, found {int(outside.sum())} and {int(inside.sum())}"
        )
    used = outside | inside
    # Normalised time in [-1, 1] keeps the Vandermonde matrix well conditioned.
    t0, half = 0.5 * (time_h[0] + time_h[-1]), 0.5 * (time_h[-1] - time_h[0])
    x = (time_h - t0) / half
    powers = np.vander(x, poly_degree + 1, increasing=True)
    design = np.column_stack([powers, -inside.astype(np.float64)])[used]
    coeffs, *_ = np.linalg.lstsq(design, relative[used], rcond=None)
    residual = relative[used] - design @ coeffs
    dof = max(int(used.sum()) - design.shape[1], 1)
    rms = float(np.sqrt(residual @ residual / dof))
    cov = np.linalg.inv(design.T @ design) * rms**2
    baseline_in = float(np.mean(powers[inside] @ coeffs[:-1]))
    return WhiteDepthFit(
        depth=float(coeffs[-1] / baseline_in),
        depth_err=float(np.sqrt(cov[-1, -1]) / baseline_in),
        window=window,
        baseline_coeffs=coeffs[:-1],
        residual_rms=rms,
    )


def fit_visit(
    time_h: np.ndarray,
    flux: np.ndarray,
    quality: np.ndarray | None = None,
    config: BaselineConfig = BaselineConfig(),
) -> WhiteDepthFit:
    """White-light depth of one calibrated visit: flux (n_bins, 283), time_h (n_bins,) [h]."""
    white = white_light_curve(flux, quality, config.include_fgs)
    window = find_transit_window(time_h, white, config)
    return fit_white_depth(time_h, white, window, config.poly_degree)


def baseline_spectrum(
    white_depth: float, config: BaselineConfig = BaselineConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma), each (283,): the scaled white depth and the constant sigma everywhere."""
    mu = np.full(layout.N_WAVELENGTHS, max(config.depth_scale * white_depth, 0.0))
    return mu, np.full(layout.N_WAVELENGTHS, config.sigma)


def planet_baseline(
    calibrated_paths: Sequence[Path | str],
    config: BaselineConfig = BaselineConfig(),
    planet_id: int | None = None,
) -> PlanetBaseline:
    """Baseline prediction of one planet from its calibrated visit files (depths averaged).

    A visit whose fit fails is skipped with a warning; if none fits the planet gets
    ``config.fallback_depth`` / ``config.fallback_sigma`` and ``fallback=True``.
    """
    depths, reasons = [], []
    for path in calibrated_paths:
        visit = read_calibrated_visit(path)
        if planet_id is None:
            planet_id = visit.planet_id
        try:
            fit = fit_visit(visit.time_h, visit.flux, visit.quality, config)
        except BaselineFitError as err:
            log.warning("%s: baseline fit failed (%s); visit skipped", path, err)
            reasons.append(f"{Path(path).name}: {err}")
            continue
        depths.append(fit.depth)
    if planet_id is None:
        raise DataFormatError(f"{list(calibrated_paths)}: no planet_id given or found in meta")
    if depths:
        mu, sigma = baseline_spectrum(float(np.mean(depths)), config)
        return PlanetBaseline(planet_id, mu, sigma, tuple(depths), False, tuple(reasons))
    log.warning("planet %d: no visit fitted; naive fallback used", planet_id)
    return PlanetBaseline(
        planet_id,
        np.full(layout.N_WAVELENGTHS, config.fallback_depth),
        np.full(layout.N_WAVELENGTHS, config.fallback_sigma),
        (),
        True,
        tuple(reasons),
    )


def predict_baseline(
    paths_by_planet: Mapping[int, Sequence[Path | str]], config: BaselineConfig = BaselineConfig()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(planet_id (n,) int64 ascending, mu (n, 283), sigma (n, 283)) for many planets."""
    ids = sorted(int(p) for p in paths_by_planet)
    fits = [planet_baseline(paths_by_planet[p], config, p) for p in ids]
    return (
        np.array(ids, dtype=np.int64),
        np.array([f.depth for f in fits]).reshape(len(ids), layout.N_WAVELENGTHS),
        np.array([f.sigma for f in fits]).reshape(len(ids), layout.N_WAVELENGTHS),
    )


def write_baseline_predictions(
    paths_by_planet: Mapping[int, Sequence[Path | str]],
    out_npz: Path | str,
    config: BaselineConfig = BaselineConfig(),
) -> None:
    """Write baseline predictions in the CONTRACTS.md "Predictions" layout (atomic, byte-stable)."""
    ids, mu, sigma = predict_baseline(paths_by_planet, config)
    meta = {"model": "public-baseline", "config": config.__dict__}
    write_predictions(out_npz, ids, mu, sigma, meta=meta)


def calibrate_baseline(white_depths: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(depth_scale, sigma) fitted on train planets.

    Args:
        white_depths: (n,) white-light depths of :func:`fit_visit` / visit averages.
        labels: (n, 283) true spectra of the same planets.

    Returns:
        The least-squares scale ``s`` minimising ``sum (labels - s * depth)^2`` and the RMS of
        ``labels - s * depth`` over all elements: the constant sigma that maximises the
        Gaussian log-likelihood of the scaled prediction.
    """
    depth = np.asarray(white_depths, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if depth.ndim != 1 or labels.shape != (depth.size, layout.N_WAVELENGTHS) or depth.size == 0:
        raise DataFormatError(
            f"calibrate_baseline: expected depths (n,) and labels (n, 283), "
            f"found {depth.shape} and {labels.shape}"
        )
    scale = float(np.sum(labels * depth[:, None]) / (layout.N_WAVELENGTHS * np.sum(depth**2)))
    residual = labels - scale * depth[:, None]
    return scale, float(np.sqrt(np.mean(residual**2)))
