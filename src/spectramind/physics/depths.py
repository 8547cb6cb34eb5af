"""A visit's second stage: the 283 depths with the geometry of the white-light fit fixed.

:func:`fit_visit_depths` fits the AIRS limb darkening on wavelength bins and smooths it in
wavelength (:mod:`.spectrum`), then the batched Gauss-Newton depths of FGS1 and the 282 AIRS
channels, optionally refits AIRS with a drift smooth in wavelength, widens the FGS1 error by
the white-light fit's geometry and limb-darkening uncertainty, and replaces channels whose fit
cannot be trusted by flux-ratio depths (:mod:`.fallback`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from spectramind.artifacts.calibrated import CalibratedVisit
from spectramind.data.layout import N_WAVELENGTHS
from spectramind.physics import fallback as fb
from spectramind.physics.config import FitConfig
from spectramind.physics.limb_darkening import LimbDarkeningPrior, clip_physical
from spectramind.physics.spectrum import (
    BinnedLimbDarkening,
    ChannelDepths,
    LimbDarkeningLaw,
    fit_binned_limb_darkening,
    fit_channel_depths,
    smooth_drift,
    smooth_limb_darkening,
)
from spectramind.physics.transit import TransitCurve
from spectramind.physics.white_light import WhiteLightFit

# (wavelengths [micron] (m,), flux shares (m,)) -> the grey-atmosphere prior of a band
BinPrior = Callable[[np.ndarray, np.ndarray], LimbDarkeningPrior]


@dataclass(frozen=True)
class VisitDepths:
    """The visit's spectrum and the limb darkening it was fitted with.

    ``depth``, ``depth_err``: (283,) (Rp/Rs)^2, finite; ``channel_fallback``: (283,) bool, True
    where the flux-ratio fallback replaced the fit; ``fgs_u``, ``fgs_prior_u``: FGS1 (u1, u2)
    used and its grey-atmosphere prior; ``law``: AIRS (u1, u2) polynomials in wavelength;
    ``bins``: the per-bin limb-darkening fits the law smooths.
    """

    depth: np.ndarray
    depth_err: np.ndarray
    channel_fallback: np.ndarray
    fgs_u: tuple[float, float]
    fgs_prior_u: tuple[float, float]
    law: LimbDarkeningLaw
    bins: BinnedLimbDarkening

    def limb_darkening_record(self, fgs_wavelength_um: float) -> dict[str, Any]:
        """What the fit meta records of the limb darkening (quadratic law throughout)."""
        return {
            "law": "quadratic",
            "fgs": [float(self.fgs_u[0]), float(self.fgs_u[1])],
            "fgs_prior": list(self.fgs_prior_u),
            "airs_model": "polynomial in x = (lambda_um - center_um) / scale_um",
            "airs_center_um": self.law.center_um,
            "airs_scale_um": self.law.scale_um,
            "airs_u1_coeffs": list(self.law.u1_coeffs),
            "airs_u2_coeffs": list(self.law.u2_coeffs),
            "airs_bins_um": self.bins.wavelength_um.tolist(),
            "airs_bins_u1": self.bins.u1.tolist(),
            "airs_bins_u2": self.bins.u2.tolist(),
            "fgs_wavelength_um": float(fgs_wavelength_um),
        }


def fit_visit_depths(
    lc: CalibratedVisit,
    time_h: np.ndarray,
    valid: np.ndarray,
    white_fit: WhiteLightFit,
    star: Mapping[str, float],
    wavelengths: np.ndarray,
    config: FitConfig,
    reasons: list[str],
    diagnostics: dict[str, float],
) -> VisitDepths:
    """Depths of the 283 channels of one visit (see module docstring).

    ``time_h`` (n_bins,) [h] finite; ``valid`` (n_bins, 283) bool; ``wavelengths`` (283,)
    [micron]; ``star["Ts"]`` [K] sets the limb-darkening priors. Appends to ``reasons`` what
    fell back and fills ``diagnostics``.
    """
    curve, white, k_ref = white_fit.curve, white_fit.white, white_fit.k_ref
    teff = float(star.get("Ts", float("nan")))

    def bin_prior(wl: np.ndarray, share: np.ndarray) -> LimbDarkeningPrior:
        return LimbDarkeningPrior.grey(wl, teff, config.ld_prior_sigma, share)

    ld_priors = white_fit.ld_priors
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
        white_fit.airs_basis,
        config.ld_bins,
        k_ref,
        ld_prior=bin_prior if min(config.ld_prior_sigma) > 0 else None,
    )
    law = smooth_limb_darkening(bins, config.ld_degree, airs_u_default)
    if bins.wavelength_um.size < min(config.ld_bins, max(white_fit.airs_full.size, 1)):
        reasons.append(f"limb darkening from {bins.wavelength_um.size} of {config.ld_bins} bins")
    # The smooth law may leave the physical region between or beyond its bins.
    u1_airs, u2_airs = clip_physical(*law.evaluate(wavelengths[1:]))
    u1 = np.concatenate([[fgs_u[0]], u1_airs])
    u2 = np.concatenate([[fgs_u[1]], u2_airs])

    channels = _fit_channels(lc, valid, white_fit, u1, u2, wavelengths, config)
    depth_err_channels = channels.depth_err.copy()
    if "fgs" in white and np.isfinite(white["fgs"].depth_err) and channels.ok[0]:
        # FGS1 is one band: its limb darkening is fitted from its own light curve, so the
        # geometry and limb-darkening uncertainty of the white-light fit belongs in its error.
        depth_err_channels[0] = max(depth_err_channels[0], white["fgs"].depth_err)
    depth = np.where(channels.ok, channels.depth, np.nan)
    err = np.where(channels.ok, depth_err_channels, np.nan)
    bad = ~channels.ok
    if bad.any():
        fd, fe = fb.ratio_depth(
            time_h, lc.flux, lc.flux_err, valid, white_fit.geometry.t0_h, white_fit.t14_h
        )
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
        supersample=float(white_fit.supersample),
    )
    diagnostics.update(
        _consistency(lc, white_fit.airs_full, channels, white, bins, bin_prior, config)
    )
    return VisitDepths(
        depth=depth,
        depth_err=err,
        channel_fallback=bad,
        fgs_u=fgs_u,
        fgs_prior_u=(grey_fgs.u1, grey_fgs.u2),
        law=law,
        bins=bins,
    )


def _fit_channels(
    lc: CalibratedVisit,
    valid: np.ndarray,
    white_fit: WhiteLightFit,
    u1: np.ndarray,
    u2: np.ndarray,
    wavelengths: np.ndarray,
    config: FitConfig,
) -> ChannelDepths:
    """FGS1 (with its own drift basis) and the AIRS channels side by side, (283,) each.

    ``u1``, ``u2``: (283,) the quadratic limb darkening of each channel. The depths start at the
    white curves' (rp/R*)^2.
    """
    depth_init = np.full(N_WAVELENGTHS, white_fit.k_ref**2)
    if "fgs" in white_fit.white:
        depth_init[0] = white_fit.white["fgs"].rp_over_rs ** 2
    fgs_channel = fit_channel_depths(
        white_fit.curve,
        lc.flux[:, :1],
        lc.flux_err[:, :1],
        valid[:, :1],
        white_fit.fgs_basis,
        u1[:1],
        u2[:1],
        depth_init[:1],
        iterations=config.gn_iterations,
    )
    airs_channels = fit_channel_depths(
        white_fit.curve,
        lc.flux[:, 1:],
        lc.flux_err[:, 1:],
        valid[:, 1:],
        white_fit.airs_basis,
        u1[1:],
        u2[1:],
        depth_init[1:],
        iterations=config.gn_iterations,
    )
    if config.drift_wavelength_degree >= 0 and airs_channels.drift_coef is not None:
        airs_channels = _refit_with_smooth_drift(
            white_fit.curve,
            lc,
            valid,
            white_fit.airs_basis,
            u1[1:],
            u2[1:],
            airs_channels,
            wavelengths[1:],
            config,
        )
    return _concatenate_channels(fgs_channel, airs_channels)


def _consistency(
    lc: CalibratedVisit,
    airs_full: np.ndarray,
    channels: ChannelDepths,
    white: Mapping[str, Any],
    bins: BinnedLimbDarkening,
    bin_prior: BinPrior,
    config: FitConfig,
) -> dict[str, float]:
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


def _refit_with_smooth_drift(
    curve: TransitCurve,
    lc: CalibratedVisit,
    valid: np.ndarray,
    basis: np.ndarray,
    u1: np.ndarray,
    u2: np.ndarray,
    channels: ChannelDepths,
    wavelengths: np.ndarray,
    config: FitConfig,
) -> ChannelDepths:
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
