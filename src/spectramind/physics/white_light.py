"""A visit's first stage: white light curves -> transit detection -> geometry and drift.

:func:`fit_white_light` makes the FGS1 and AIRS white light curves, finds the transit with a
box search, fits the shared geometry (t0, a/R*, inclination) with the star info as priors and
physical limb darkening with a grey-atmosphere prior (:mod:`.limb_darkening`), lets the data
choose each instrument's drift degree (:mod:`.drift`) and refits the geometry with it. The
result, :class:`WhiteLightFit`, fixes everything the per-channel depths (:mod:`.depths`) need.

It raises :class:`~spectramind.physics.fallback.VisitFailure` when the visit has no usable
white curve, no detectable transit or an unphysical geometry; the caller falls back to
flux-ratio depths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from spectramind.artifacts.calibrated import CalibratedVisit
from spectramind.physics.config import FitConfig
from spectramind.physics.drift import select_drift_degree
from spectramind.physics.fallback import VisitFailure
from spectramind.physics.geometry import (
    Detection,
    GeometryFit,
    GeometryPrior,
    WhiteCurve,
    WhiteFit,
    detect_transit,
    fit_geometry,
)
from spectramind.physics.lightcurves import drift_basis
from spectramind.physics.limb_darkening import LimbDarkeningPrior
from spectramind.physics.transit import (
    TransitCurve,
    TransitGeometry,
    supersample_for,
    transit_duration_h,
)

# White curves need this many valid time bins to be fitted at all.
MIN_WHITE_BINS = 20
# Detections weaker than this box S/N [sigma] do not even locate t0 for the fallback.
MIN_LOCATING_SNR = 3.0
# Finite-difference steps of (rp/R*, u1, u2) for the transit columns of the drift selection.
TRANSIT_DERIVATIVE_STEPS = (1e-4, 1e-3, 1e-3)


@dataclass(frozen=True)
class WhiteLightFit:
    """The geometry a visit's depths are fitted with, and what was learned on the way.

    ``white``: each white curve's fit (rp/R*, u1, u2, errors) by name (``"fgs"``,
    ``"airs_white"``); ``fgs_basis``, ``airs_basis``: the drift bases (n_bins, n_terms) the
    depths of each instrument are fitted with (a missing curve's: the other's, else the start);
    ``airs_full``: indices (into the 283 columns) of the AIRS channels valid in every bin, the
    ones summed into the AIRS white curve; ``t14_h`` [h] and ``k_ref`` (rp/R* of the AIRS white
    curve, else of the first curve) describe the transit the fallback and checks use.
    """

    geometry: TransitGeometry
    white: dict[str, WhiteFit]
    fgs_basis: np.ndarray
    airs_basis: np.ndarray
    ld_priors: dict[str, LimbDarkeningPrior | None]
    airs_full: np.ndarray
    curve: TransitCurve
    t14_h: float
    k_ref: float
    supersample: int


def white_curves(lc: CalibratedVisit, valid: np.ndarray) -> tuple[list[WhiteCurve], np.ndarray]:
    """FGS1 and AIRS white curves (normalised to unit median) and the AIRS channels summed.

    ``valid``: (n_bins, 283) bool. Returns the curves (FGS1 first when usable) and the column
    indices of the AIRS channels valid in every bin.
    """
    curves = []
    if valid[:, 0].sum() >= MIN_WHITE_BINS:
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


def white_ld_priors(
    lc: CalibratedVisit,
    star: Mapping[str, float],
    wavelengths: np.ndarray,
    airs_full: np.ndarray,
    config: FitConfig,
) -> dict[str, LimbDarkeningPrior | None]:
    """Grey-atmosphere (u1, u2) priors of the FGS1 and AIRS white curves (None: no prior).

    The AIRS prior is the flux-weighted mean over the summed channels at their wavelengths
    [micron]; ``star["Ts"]`` [K] sets the temperature.
    """
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


def detect(
    time_h: np.ndarray,
    white: WhiteCurve,
    basis: np.ndarray,
    regressors: np.ndarray | None,
    t14_prior: float,
    auto_drift: bool,
    config: FitConfig,
) -> Detection:
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


def select_bases(
    time_h: np.ndarray,
    curves: list[WhiteCurve],
    geo: GeometryFit,
    exposure: float,
    supersample: int,
    regressors: np.ndarray | None,
    config: FitConfig,
    diagnostics: dict[str, float],
) -> dict[str, np.ndarray]:
    """Per-curve drift bases with the degree chosen by cross-validation (:mod:`.drift`).

    The transit columns (derivatives in rp/R*, u1, u2 at the fitted geometry) stay free while
    the degrees are compared, so a drift cannot be chosen for absorbing the transit shape.
    """
    curve = TransitCurve(time_h, geo.geometry, exposure, supersample)
    steps = np.array(TRANSIT_DERIVATIVE_STEPS)
    bases = {}
    for c, white in zip(curves, geo.curves, strict=True):
        theta = np.array([white.rp_over_rs, white.u1, white.u2])
        model = curve.flux(*theta)
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


def _record_geometry(
    geo: GeometryFit,
    prior: GeometryPrior,
    ld_priors: Mapping[str, LimbDarkeningPrior | None],
    diagnostics: dict[str, float],
) -> None:
    """The white-light fit's quality, errors and prior pulls into ``diagnostics``."""
    geometry = geo.geometry
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


def fit_white_light(
    lc: CalibratedVisit,
    time_h: np.ndarray,
    valid: np.ndarray,
    prior: GeometryPrior,
    t14_prior: float,
    star: Mapping[str, float],
    wavelengths: np.ndarray,
    config: FitConfig,
    diagnostics: dict[str, float],
) -> WhiteLightFit:
    """The visit's geometry, limb darkening of the white curves and drift bases.

    ``time_h`` (n_bins,) [h], all finite; ``valid`` (n_bins, 283) bool; ``t14_prior`` [h] the
    duration the star info implies; ``wavelengths`` (283,) [micron]. Fills ``diagnostics``;
    raises :class:`VisitFailure` (with the best t0 and T14 known) when the visit cannot be fitted.
    """
    t_mid = 0.5 * (time_h.min() + time_h.max())
    regressors = lc.regressors if config.use_regressors else None
    auto_drift = config.drift_degree < 0
    start_degree = config.drift_degree_max if auto_drift else config.drift_degree
    basis = drift_basis(time_h, regressors, start_degree, None, config.regressor_order)
    bin_width = float(np.median(np.diff(np.sort(time_h)))) if time_h.size > 1 else 0.0
    supersample = supersample_for(bin_width, t14_prior / 240.0)
    exposure = bin_width if supersample > 1 else 0.0

    curves, airs_full = white_curves(lc, valid)
    if not curves:
        raise VisitFailure("no valid FGS1 or AIRS white light curve", t_mid, t14_prior)
    detection = detect(time_h, curves[-1], basis, regressors, t14_prior, auto_drift, config)
    diagnostics["detection_snr"] = detection.snr
    diagnostics["detected_t0_h"] = detection.t0_h
    if not detection.snr >= config.min_detection_snr:
        raise VisitFailure(
            f"no transit detected (box S/N {detection.snr:.1f} < {config.min_detection_snr})",
            detection.t0_h if detection.snr >= MIN_LOCATING_SNR else t_mid,
            t14_prior,
        )
    ld_priors = white_ld_priors(lc, star, wavelengths, airs_full, config)
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
    for c in curves:
        # The degree in use, fixed by config unless cross-validated below (which overwrites).
        diagnostics[f"{c.name}_drift_degree"] = float(start_degree)
    if auto_drift:
        bases = select_bases(
            time_h, curves, geo, exposure, supersample, regressors, config, diagnostics
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
    geometry = geo.geometry
    white = {c.name: c for c in geo.curves}
    k_ref = white.get("airs_white", geo.curves[0]).rp_over_rs
    t14 = transit_duration_h(geometry, k_ref)
    _record_geometry(geo, prior, ld_priors, diagnostics)
    span = time_h.max() - time_h.min()
    if not (
        geometry.impact_parameter < 1.0 + k_ref
        and time_h.min() - 0.25 * t14 < geometry.t0_h < time_h.max() + 0.25 * t14
        and 0.02 * span < t14 < 2.0 * span
        and np.isfinite(geo.chi2_red)
    ):
        raise VisitFailure(
            f"unphysical geometry (b={geometry.impact_parameter:.3f}, k={k_ref:.3f}, "
            f"t0={geometry.t0_h:.3f} h, T14={t14:.3f} h)",
            detection.t0_h,
            t14_prior,
        )
    return WhiteLightFit(
        geometry=geometry,
        white=white,
        fgs_basis=bases.get("fgs", airs_basis),
        airs_basis=airs_basis,
        ld_priors=ld_priors,
        airs_full=airs_full,
        curve=TransitCurve(time_h, geometry, exposure, supersample),
        t14_h=t14,
        k_ref=k_ref,
        supersample=supersample,
    )
