"""Per-planet physics fit: geometry, limb darkening, per-wavelength depths, visits combined.

Steps for each visit (:func:`fit_visit`):

1. valid bins (finite flux and error, good channel quality);
2. white light curves: FGS1 (column 0) and the sum of the fully valid AIRS channels;
3. box search for the transit (t0 start, S/N check), then the joint geometry fit
   (:mod:`.geometry`) with the star info as priors and physical limb darkening with a
   grey-atmosphere prior at the dataset's wavelengths (:mod:`.limb_darkening`);
4. the drift degree of each instrument chosen by cross-validation (:mod:`.drift`) and the
   geometry refitted with it;
5. AIRS limb darkening on wavelength bins, smoothed in wavelength (:mod:`.spectrum`);
6. batched Gauss-Newton depths of FGS1 and the 282 AIRS channels with the geometry fixed; the
   FGS1 error includes the white-light fit's geometry and limb-darkening uncertainty.

Wavelengths come from the dataset (``wavelengths.csv``), times from the calibrated visit
(the ``axis_info`` clock).

Visits are combined by inverse-variance weighting per wavelength (:func:`combine_visits`).
Nothing raises on bad data: a failed step falls back to flux-ratio depths with a large sigma
(:mod:`.fallback`), recorded in ``fallback`` and ``reasons``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from spectramind import __version__
from spectramind.artifacts.fits import PlanetFit
from spectramind.data.layout import N_WAVELENGTHS, target_wavelengths_um
from spectramind.errors import DataFormatError
from spectramind.physics import fallback as fb
from spectramind.physics.config import FitConfig
from spectramind.physics.drift import select_drift_degree
from spectramind.physics.geometry import (
    GeometryPrior,
    WhiteCurve,
    detect_transit,
    fit_geometry,
    prior_duration_h,
)
from spectramind.physics.lightcurves import VisitLightCurves, drift_basis, valid_bins
from spectramind.physics.limb_darkening import LimbDarkeningPrior, clip_physical
from spectramind.physics.spectrum import (
    ChannelDepths,
    fit_binned_limb_darkening,
    fit_channel_depths,
    smooth_drift,
    smooth_limb_darkening,
)
from spectramind.physics.transit import (
    TransitCurve,
    supersample_for,
    transit_duration_h,
)

__all__ = ["FEATURE_NAMES", "FitConfig", "PlanetFit", "VisitFit", "fit_planet", "fit_visit"]

log = logging.getLogger(__name__)

STAR_FEATURES = ("Rs", "Ms", "Ts", "P", "sma", "i")
FEATURE_NAMES = (
    "fgs_depth",
    "airs_white_depth",
    "airs_mean_depth",
    "t0_h",
    "a_over_rs",
    "inc_deg",
    "impact_parameter",
    "t14_h",
    "t0_err_h",
    "a_over_rs_err",
    "impact_err",
    "a_over_rs_prior_pull",
    "impact_prior_pull",
    "fgs_u1",
    "fgs_u2",
    "airs_u1_mid",
    "airs_u2_mid",
    "white_chi2_red",
    "fgs_residual_ppm",
    "airs_white_residual_ppm",
    "airs_channel_residual_ppm_median",
    "channel_chi2_red_median",
    "airs_depth_err_median",
    "fgs_depth_err",
    "detection_snr",
    "n_visits",
    "visit_chi2_red",
    "fallback",
    "fallback_fraction",
    "airs_white_depth_err_marginal",
    "airs_white_depth_err_conditional",
    "fgs_depth_err_conditional",
    "fgs_drift_degree",
    "airs_drift_degree",
    "fgs_ld_prior_pull",
    "airs_ld_prior_pull",
    "fgs_u1_prior",
    "fgs_u2_prior",
    "airs_channel_white_offset",
    "airs_ld_bins_prior_pull",
    *(f"star_{name}" for name in STAR_FEATURES),
)


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


def _white_curves(lc: VisitLightCurves, valid: np.ndarray) -> tuple[list[WhiteCurve], np.ndarray]:
    """FGS1 and AIRS white curves (normalised to unit median) and the AIRS channels summed."""
    curves = []
    if valid[:, 0].sum() >= 20:
        scale = np.median(lc.flux[valid[:, 0], 0])
        if np.isfinite(scale) and scale > 0:
            curves.append(
                WhiteCurve("fgs", lc.flux[:, 0] / scale, lc.flux_err[:, 0] / scale, valid[:, 0])
            )
    airs_full = np.flatnonzero(valid[:, 1:].all(axis=0)) + 1
    if airs_full.size:
        flux = lc.flux[:, airs_full].sum(axis=1)
        err = np.sqrt((lc.flux_err[:, airs_full] ** 2).sum(axis=1))
        scale = np.median(flux)
        if np.isfinite(scale) and scale > 0:
            curves.append(
                WhiteCurve("airs_white", flux / scale, err / scale, np.ones(lc.n_bins, bool))
            )
    return curves, airs_full


def _fallback_visit(
    lc: VisitLightCurves,
    valid: np.ndarray,
    t0_h: float,
    t14_h: float,
    reasons: list[str],
    diagnostics: dict[str, float],
) -> VisitFit:
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
    lc: VisitLightCurves,
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
    if finite_t.sum() < 20 or not span > 0:
        return _fallback_visit(
            lc, valid, t_mid, t14_prior, ["fewer than 20 distinct finite times"], {}
        )
    time_h = np.where(finite_t, time_h, t_mid)
    try:
        return _fit_visit(
            lc, time_h, valid, prior, t14_prior, star, wavelengths, config, reasons, diagnostics
        )
    except _VisitFailure as err:
        reasons.append(str(err))
        return _fallback_visit(lc, valid, err.t0_h, err.t14_h, reasons, diagnostics)
    except Exception as err:  # any optimizer/linear-algebra failure must not stop the run
        log.debug("fit failed", exc_info=True)
        reasons.append(f"fit error: {type(err).__name__}: {err}")
        t0 = diagnostics.get("detected_t0_h", t_mid)
        return _fallback_visit(lc, valid, t0, t14_prior, reasons, diagnostics)


class _VisitFailure(Exception):
    def __init__(self, message: str, t0_h: float, t14_h: float) -> None:
        super().__init__(message)
        self.t0_h = t0_h
        self.t14_h = t14_h


def _ld_priors(
    lc: VisitLightCurves,
    star: Mapping[str, float],
    wavelengths: np.ndarray,
    airs_full: np.ndarray,
    config: FitConfig,
) -> dict[str, LimbDarkeningPrior | None]:
    """Grey-atmosphere (u1, u2) priors of the FGS1 and AIRS white curves (None: no prior)."""
    if min(config.ld_prior_sigma) <= 0:
        return {"fgs": None, "airs_white": None}
    teff = float(star.get("Ts", float("nan")))
    fgs = LimbDarkeningPrior.grey(wavelengths[:1], teff, config.ld_prior_sigma)
    if airs_full.size:
        with np.errstate(all="ignore"):
            share = np.nanmedian(lc.flux[:, airs_full], axis=0)
        airs = LimbDarkeningPrior.grey(wavelengths[airs_full], teff, config.ld_prior_sigma, share)
    else:
        airs = LimbDarkeningPrior.grey(wavelengths[1:], teff, config.ld_prior_sigma)
    return {"fgs": fgs, "airs_white": airs}


def _detect(
    time_h: np.ndarray,
    white: WhiteCurve,
    basis: np.ndarray,
    regressors: np.ndarray | None,
    t14_prior: float,
    auto_drift: bool,
    config: FitConfig,
):
    """Box search for the transit with a drift basis the data choose.

    A first search with the most flexible drift locates the dip; the drift degree is then
    cross-validated with that box as the transit model and the search repeated with it, so a
    curved drift cannot pass for a transit and a flexible polynomial does not eat the dip.
    """
    detection = detect_transit(time_h, white, basis, t14_prior)
    if not auto_drift:
        return detection
    box = (np.abs(time_h - detection.t0_h) < 0.4 * t14_prior).astype(np.float64)
    model = 1.0 - max(detection.depth, 0.0) * box
    choice = select_drift_degree(
        time_h,
        white.flux,
        white.flux_err,
        white.valid,
        model,
        regressors,
        config.drift_degree_max,
        regressor_order=config.regressor_order,
    )
    return detect_transit(time_h, white, choice.basis(time_h, regressors), t14_prior)


def _select_bases(
    time_h: np.ndarray,
    lc: VisitLightCurves,
    curves: list[WhiteCurve],
    geo,
    exposure: float,
    supersample: int,
    regressors: np.ndarray | None,
    config: FitConfig,
    diagnostics: dict[str, float],
) -> dict[str, np.ndarray]:
    """Per-curve drift bases with the degree chosen by cross-validation (:mod:`.drift`)."""
    curve = TransitCurve(time_h, geo.geometry, exposure, supersample)
    bases = {}
    for c, white in zip(curves, geo.curves, strict=True):
        theta = np.array([white.rp_over_rs, white.u1, white.u2])
        model = curve.flux(*theta)
        steps = np.array([1e-4, 1e-3, 1e-3])
        derivatives = np.column_stack(
            [
                (curve.flux(*(theta + step * np.eye(3)[i])) - model) / step
                for i, step in enumerate(steps)
            ]
        )  # (n, 3): d model / d (rp/R*, u1, u2)
        choice = select_drift_degree(
            time_h,
            c.flux,
            c.flux_err,
            c.valid,
            model,
            regressors,
            config.drift_degree_max,
            transit_columns=derivatives,
            regressor_order=config.regressor_order,
        )
        diagnostics[f"{c.name}_drift_degree"] = float(choice.degree)
        diagnostics[f"{c.name}_drift_ramp_tau_h"] = (
            float(choice.ramp_tau_h) if choice.ramp_tau_h is not None else 0.0
        )
        bases[c.name] = choice.basis(time_h, regressors)
    return bases


def _fit_visit(
    lc: VisitLightCurves,
    time_h: np.ndarray,
    valid: np.ndarray,
    prior: GeometryPrior,
    t14_prior: float,
    star: Mapping[str, float],
    wavelengths: np.ndarray,
    config: FitConfig,
    reasons: list[str],
    diagnostics: dict[str, float],
) -> VisitFit:
    t_mid = 0.5 * (time_h.min() + time_h.max())
    regressors = lc.regressors if config.use_regressors else None
    auto_drift = config.drift_degree < 0
    start_degree = config.drift_degree_max if auto_drift else config.drift_degree
    basis = drift_basis(time_h, regressors, start_degree, None, config.regressor_order)
    bin_width = float(np.median(np.diff(np.sort(time_h)))) if time_h.size > 1 else 0.0
    supersample = supersample_for(bin_width, t14_prior / 240.0)
    exposure = bin_width if supersample > 1 else 0.0

    curves, airs_full = _white_curves(lc, valid)
    if not curves:
        raise _VisitFailure("no valid FGS1 or AIRS white light curve", t_mid, t14_prior)
    detection = _detect(time_h, curves[-1], basis, regressors, t14_prior, auto_drift, config)
    diagnostics["detection_snr"] = detection.snr
    diagnostics["detected_t0_h"] = detection.t0_h
    if not detection.snr >= config.min_detection_snr:
        raise _VisitFailure(
            f"no transit detected (box S/N {detection.snr:.1f} < {config.min_detection_snr})",
            detection.t0_h if detection.snr >= 3 else t_mid,
            t14_prior,
        )
    ld_priors = _ld_priors(lc, star, wavelengths, airs_full, config)
    curve_priors = [ld_priors[c.name] for c in curves]
    geo = fit_geometry(
        time_h,
        curves,
        basis,
        prior,
        detection.t0_h,
        detection.depth,
        n_starts=config.n_starts,
        exposure_h=exposure,
        supersample=supersample,
        ld_priors=curve_priors,
    )
    bases = {c.name: basis for c in curves}
    if auto_drift:
        bases = _select_bases(
            time_h, lc, curves, geo, exposure, supersample, regressors, config, diagnostics
        )
        if any(not np.array_equal(b, basis) for b in bases.values()):
            geo = fit_geometry(
                time_h,
                curves,
                [bases[c.name] for c in curves],
                prior,
                detection.t0_h,
                detection.depth,
                exposure_h=exposure,
                supersample=supersample,
                ld_priors=curve_priors,
                start=geo.theta,
            )
    airs_basis = bases.get("airs_white", basis)
    fgs_basis = bases.get("fgs", airs_basis)
    geometry = geo.geometry
    white = {c.name: c for c in geo.curves}
    k_ref = white.get("airs_white", geo.curves[0]).rp_over_rs
    t14 = transit_duration_h(geometry, k_ref)
    diagnostics.update(
        white_chi2_red=geo.chi2_red,
        t0_err_h=geo.t0_err_h,
        a_over_rs_err=geo.a_err,
        impact_err=geo.impact_err,
        a_over_rs_prior_pull=(geometry.a_over_rs - prior.a_over_rs) / prior.a_sigma,
        impact_prior_pull=(geometry.impact_parameter - prior.impact) / prior.impact_sigma,
        geometry_evaluations=float(geo.n_evaluations),
    )
    for c in geo.curves:
        diagnostics[f"{c.name}_depth"] = c.rp_over_rs**2
        diagnostics[f"{c.name}_depth_err_marginal"] = c.depth_err
        diagnostics[f"{c.name}_depth_err_conditional"] = c.depth_err_conditional
        diagnostics[f"{c.name}_residual_ppm"] = c.residual_ppm
        diagnostics[f"{c.name}_u1"] = c.u1
        diagnostics[f"{c.name}_u2"] = c.u2
        p = ld_priors.get(c.name)
        if p is not None:
            diagnostics[f"{c.name}_ld_prior_pull"] = float(
                np.sqrt(np.sum(p.residuals(c.u1, c.u2) ** 2))
            )
    span = time_h.max() - time_h.min()
    if not (
        geometry.impact_parameter < 1.0 + k_ref
        and time_h.min() - 0.25 * t14 < geometry.t0_h < time_h.max() + 0.25 * t14
        and 0.02 * span < t14 < 2.0 * span
        and np.isfinite(geo.chi2_red)
    ):
        raise _VisitFailure(
            f"unphysical geometry (b={geometry.impact_parameter:.3f}, k={k_ref:.3f}, "
            f"t0={geometry.t0_h:.3f} h, T14={t14:.3f} h)",
            detection.t0_h,
            t14_prior,
        )

    curve = TransitCurve(time_h, geometry, exposure, supersample)
    teff = float(star.get("Ts", float("nan")))

    def bin_prior(wl: np.ndarray, share: np.ndarray) -> LimbDarkeningPrior:
        return LimbDarkeningPrior.grey(wl, teff, config.ld_prior_sigma, share)

    grey_airs = ld_priors["airs_white"] or bin_prior(wavelengths[1:], np.ones(N_WAVELENGTHS - 1))
    airs_u_default = (
        (white["airs_white"].u1, white["airs_white"].u2)
        if "airs_white" in white
        else (grey_airs.u1, grey_airs.u2)
    )
    grey_fgs = ld_priors["fgs"] or bin_prior(wavelengths[:1], np.ones(1))
    fgs_u = (white["fgs"].u1, white["fgs"].u2) if "fgs" in white else (grey_fgs.u1, grey_fgs.u2)
    bins = fit_binned_limb_darkening(
        curve,
        lc.flux[:, 1:],
        lc.flux_err[:, 1:],
        valid[:, 1:],
        wavelengths[1:],
        airs_basis,
        config.ld_bins,
        k_ref,
        ld_prior=bin_prior if min(config.ld_prior_sigma) > 0 else None,
    )
    law = smooth_limb_darkening(bins, config.ld_degree, airs_u_default)
    if bins.wavelength_um.size < min(config.ld_bins, max(airs_full.size, 1)):
        reasons.append(f"limb darkening from {bins.wavelength_um.size} of {config.ld_bins} bins")
    # The smooth law may leave the physical region between or beyond its bins.
    u1_airs, u2_airs = clip_physical(*law.evaluate(wavelengths[1:]))
    u1 = np.concatenate([[fgs_u[0]], u1_airs])
    u2 = np.concatenate([[fgs_u[1]], u2_airs])

    depth_init = np.full(N_WAVELENGTHS, k_ref**2)
    if "fgs" in white:
        depth_init[0] = white["fgs"].rp_over_rs ** 2
    fgs_channel = fit_channel_depths(
        curve,
        lc.flux[:, :1],
        lc.flux_err[:, :1],
        valid[:, :1],
        fgs_basis,
        u1[:1],
        u2[:1],
        depth_init[:1],
        iterations=config.gn_iterations,
    )
    airs_channels = fit_channel_depths(
        curve,
        lc.flux[:, 1:],
        lc.flux_err[:, 1:],
        valid[:, 1:],
        airs_basis,
        u1[1:],
        u2[1:],
        depth_init[1:],
        iterations=config.gn_iterations,
    )
    if config.drift_wavelength_degree >= 0 and airs_channels.drift_coef is not None:
        airs_channels = _refit_with_smooth_drift(
            curve, lc, valid, airs_basis, u1[1:], u2[1:], airs_channels, wavelengths[1:], config
        )
    channels = _concatenate_channels(fgs_channel, airs_channels)
    depth_err_channels = channels.depth_err.copy()
    if "fgs" in white and np.isfinite(white["fgs"].depth_err) and channels.ok[0]:
        # FGS1 is one band: its limb darkening is fitted from its own light curve, so the
        # geometry and limb-darkening uncertainty of the white-light fit belongs in its error.
        depth_err_channels[0] = max(depth_err_channels[0], white["fgs"].depth_err)
    depth = np.where(channels.ok, channels.depth, np.nan)
    err = np.where(channels.ok, depth_err_channels, np.nan)
    bad = ~channels.ok
    if bad.any():
        fd, fe = fb.ratio_depth(time_h, lc.flux, lc.flux_err, valid, geometry.t0_h, t14)
        depth = np.where(bad, fd, depth)
        err = np.where(bad, fe, err)
        fill = float(np.nanmedian(channels.depth[channels.ok])) if channels.ok.any() else None
        depth, err = fb.fill_missing(depth, err, fill)
        idx = np.flatnonzero(bad)
        reasons.append(
            f"{idx.size} channel(s) fell back to flux-ratio depths (wl index from 1: "
            f"{[int(i) + 1 for i in idx[:10]]}{'...' if idx.size > 10 else ''})"
        )
    airs_ok = channels.ok[1:]
    diagnostics.update(
        channel_chi2_red_median=float(np.median(channels.chi2_red[channels.ok]))
        if channels.ok.any()
        else float("nan"),
        airs_channel_residual_ppm_median=float(np.median(channels.residual_ppm[1:][airs_ok]))
        if airs_ok.any()
        else float("nan"),
        supersample=float(supersample),
    )
    diagnostics.update(_consistency(lc, airs_full, channels, white, bins, bin_prior, config))
    inc = geometry.inc_deg
    return VisitFit(
        visit=lc.visit,
        depth=depth,
        depth_err=err,
        channel_fallback=bad,
        fallback=bool(bad.any()),
        reasons=tuple(reasons),
        geometry={
            "t0_h": geometry.t0_h,
            "period_days": geometry.period_days,
            "a_over_rs": geometry.a_over_rs,
            "inc_deg": inc,
            "impact_parameter": geometry.impact_parameter,
            "t14_h": t14,
        },
        limb_darkening={
            "law": "quadratic",
            "fgs": [float(fgs_u[0]), float(fgs_u[1])],
            "fgs_prior": [grey_fgs.u1, grey_fgs.u2],
            "airs_model": "polynomial in x = (lambda_um - center_um) / scale_um",
            "airs_center_um": law.center_um,
            "airs_scale_um": law.scale_um,
            "airs_u1_coeffs": list(law.u1_coeffs),
            "airs_u2_coeffs": list(law.u2_coeffs),
            "airs_bins_um": bins.wavelength_um.tolist(),
            "airs_bins_u1": bins.u1.tolist(),
            "airs_bins_u2": bins.u2.tolist(),
            "fgs_wavelength_um": float(wavelengths[0]),
        },
        diagnostics=diagnostics,
    )


def _consistency(lc, airs_full, channels, white, bins, bin_prior, config) -> dict[str, float]:
    """Warning signs of a drift or limb-darkening model the visit does not fit.

    ``airs_channel_white_offset``: flux-weighted mean of the AIRS channel depths minus the AIRS
    white-light depth (the white curve is the sum of those channels, so the two agree when the
    per-channel model holds); ``airs_ld_bins_prior_pull``: RMS over the AIRS bins of their
    (u1, u2) distance from the prior in prior sigmas (bins absorbing a drift wander off).
    """
    out: dict[str, float] = {}
    ok = channels.ok[1:][airs_full - 1] if airs_full.size else np.zeros(0, bool)
    if "airs_white" in white and ok.any():
        with np.errstate(all="ignore"):
            share = np.nanmedian(lc.flux[:, airs_full], axis=0)
        share = np.where(ok & np.isfinite(share) & (share > 0), share, 0.0)
        if share.sum() > 0:
            mean = float(np.sum(share * channels.depth[airs_full]) / share.sum())
            out["airs_channel_white_offset"] = mean - white["airs_white"].rp_over_rs ** 2
    if bins.wavelength_um.size and min(config.ld_prior_sigma) > 0:
        pulls = [
            float(np.sum(bin_prior(np.array([w]), np.ones(1)).residuals(a, b) ** 2))
            for w, a, b in zip(bins.wavelength_um, bins.u1, bins.u2, strict=True)
        ]
        out["airs_ld_bins_prior_pull"] = float(np.sqrt(np.mean(pulls)))
    return out


def _concatenate_channels(first: ChannelDepths, second: ChannelDepths) -> ChannelDepths:
    """Channel results of two fits side by side (their drift bases may differ: no drift_coef)."""
    return ChannelDepths(
        *(
            np.concatenate([getattr(first, name), getattr(second, name)])
            for name in ("depth", "depth_err", "chi2_red", "residual_ppm", "ok")
        )
    )


def _refit_with_smooth_drift(curve, lc, valid, basis, u1, u2, channels, wavelengths, config):
    """AIRS depths refitted with the drift smooth in wavelength (see :func:`smooth_drift`).

    All arrays are the AIRS channels only (columns 1..282 of the visit). Channels whose refit
    fails keep the first fit.
    """
    airs = slice(1, None)
    ok = channels.ok
    weight = np.where(ok, 1.0 / np.where(ok, channels.depth_err, 1.0) ** 2, 0.0)
    drift = smooth_drift(
        basis, channels.drift_coef, weight, wavelengths, config.drift_wavelength_degree
    )  # (n, 282)
    if not np.all(np.isfinite(drift)) or np.any(drift <= 0):
        return channels
    refit = fit_channel_depths(
        curve,
        lc.flux[:, airs] / drift,
        lc.flux_err[:, airs] / drift,
        valid[:, airs],
        basis[:, :1],
        u1,
        u2,
        channels.depth,
        iterations=config.gn_iterations,
    )
    use = refit.ok
    merged = {
        name: np.where(use, getattr(refit, name), getattr(channels, name))
        for name in ("depth", "depth_err", "chi2_red", "residual_ppm")
    }
    return replace(channels, **merged, ok=channels.ok | use)


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


def _finite(value: Any, default: float = 0.0) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def planet_features(
    fits: Sequence[VisitFit],
    depth: np.ndarray,
    depth_err: np.ndarray,
    visit_chi2: float,
    star: Mapping[str, float],
) -> np.ndarray:
    """Planet-level feature vector in :data:`FEATURE_NAMES` order (non-finite -> 0)."""
    ok = [f for f in fits if "a_over_rs" in f.geometry] or list(fits)
    best = min(ok, key=lambda f: float(np.median(f.depth_err[1:])))
    g, d, ld = best.geometry, best.diagnostics, best.limb_darkening
    mid = None
    if "airs_center_um" in ld:
        x = 0.0  # the polynomial is centred on the AIRS band
        mid = (
            np.polynomial.polynomial.polyval(x, ld["airs_u1_coeffs"]),
            np.polynomial.polynomial.polyval(x, ld["airs_u2_coeffs"]),
        )
    values = {
        "fgs_depth": depth[0],
        "airs_white_depth": d.get("airs_white_depth"),
        "airs_mean_depth": float(np.mean(depth[1:])),
        "t0_h": g.get("t0_h"),
        "a_over_rs": g.get("a_over_rs"),
        "inc_deg": g.get("inc_deg"),
        "impact_parameter": g.get("impact_parameter"),
        "t14_h": g.get("t14_h"),
        "t0_err_h": d.get("t0_err_h"),
        "a_over_rs_err": d.get("a_over_rs_err"),
        "impact_err": d.get("impact_err"),
        "a_over_rs_prior_pull": d.get("a_over_rs_prior_pull"),
        "impact_prior_pull": d.get("impact_prior_pull"),
        "fgs_u1": ld.get("fgs", [None, None])[0],
        "fgs_u2": ld.get("fgs", [None, None])[1],
        "airs_u1_mid": None if mid is None else mid[0],
        "airs_u2_mid": None if mid is None else mid[1],
        "white_chi2_red": d.get("white_chi2_red"),
        "fgs_residual_ppm": d.get("fgs_residual_ppm"),
        "airs_white_residual_ppm": d.get("airs_white_residual_ppm"),
        "airs_channel_residual_ppm_median": d.get("airs_channel_residual_ppm_median"),
        "channel_chi2_red_median": d.get("channel_chi2_red_median"),
        "airs_depth_err_median": float(np.median(depth_err[1:])),
        "fgs_depth_err": depth_err[0],
        "detection_snr": d.get("detection_snr"),
        "n_visits": len(fits),
        "visit_chi2_red": visit_chi2,
        "fallback": float(any(f.fallback for f in fits)),
        "fallback_fraction": float(np.mean([f.channel_fallback.mean() for f in fits])),
        "airs_white_depth_err_marginal": d.get("airs_white_depth_err_marginal"),
        "airs_white_depth_err_conditional": d.get("airs_white_depth_err_conditional"),
        "fgs_depth_err_conditional": d.get("fgs_depth_err_conditional"),
        "fgs_drift_degree": d.get("fgs_drift_degree"),
        "airs_drift_degree": d.get("airs_drift_degree"),
        "fgs_ld_prior_pull": d.get("fgs_ld_prior_pull"),
        "airs_ld_prior_pull": d.get("airs_ld_prior_pull"),
        "fgs_u1_prior": ld.get("fgs_prior", [None, None])[0],
        "fgs_u2_prior": ld.get("fgs_prior", [None, None])[1],
        "airs_channel_white_offset": d.get("airs_channel_white_offset"),
        "airs_ld_bins_prior_pull": d.get("airs_ld_bins_prior_pull"),
    }
    for name in STAR_FEATURES:
        values[f"star_{name}"] = star.get(name)
    return np.array([_finite(values[name]) for name in FEATURE_NAMES], dtype=np.float64)


def fit_planet(
    visits: Sequence[VisitLightCurves],
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
                "diagnostics": {k: _finite(v, float("nan")) for k, v in f.diagnostics.items()},
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
