"""Noise-limited ceiling: the transit-depth precision of an ideal estimator on simulated data.

The simulator knows every planet's noise-free light curves (:func:`spectramind.simulate.
expected_light_curves`) and its noise model (:mod:`spectramind.simulate.detector`): per pixel
and CDS frame, Poisson noise on the charge integrated between the two reads (star + sky
background, seen through the flat field), read noise on each of the two reads and the ADC
quantisation of each read; dark current is deterministic in the simulator (no shot noise) and
cancels. After flat-fielding, the variance of one pixel's CDS value is

    var = (S + B t_int) / flat + (2 read^2 + 2 q^2 / 12) / flat^2      [e-^2]

(S: the pixel's photo-electrons, B: sky background [e-/s], q = 1 / gain the ADC step), summed
over the extraction aperture of :mod:`spectramind.calibrate.steps.extract` (AIRS rows 10:22 of
each column; the FGS 14 x 14 box) with the PSF/trace profile moved by the pointing jitter.

For a model ``m_t(depth)`` whose shape is known, the Fisher information of the depth is
``I = sum_t (dm_t/d depth)^2 / var_t`` and no unbiased estimator beats ``std = I^(-1/2)``
(Cramer-Rao). With ``free_normalisation`` the stellar flux level is a second unknown (every
real estimator must measure it from the out-of-transit baseline) and the depth's std is the
marginal one, ``sqrt((I^-1)_dd)`` of the 2 x 2 Fisher matrix. Visits add their information.

Not included (so the ceiling is optimistic): dead/hot pixels, cosmic rays, the uncertainty of
the background, geometry, limb darkening and drift (all known here), and time binning.

The ceiling prediction is ``mu = truth + std * N(0, 1)`` and ``sigma = std``: the score of an
estimator that reaches the Cramer-Rao bound and reports it honestly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectramind.data import layout, reader
from spectramind.data.layout import AIRS, FGS

# Relative step of the central difference in depth (the transit is nearly linear in depth).
_DEPTH_STEP = 1e-3


@dataclass(frozen=True)
class Aperture:
    """Extraction aperture in detector pixels, [start, stop) (the calibration's defaults)."""

    airs_rows: tuple[int, int] = (10, 22)
    fgs_rows: tuple[int, int] = (9, 23)
    fgs_cols: tuple[int, int] = (9, 23)


def fisher_depth_std(
    dmodel_ddepth: np.ndarray, variance: np.ndarray, nuisance: np.ndarray | None = None
) -> np.ndarray:
    """Cramer-Rao std of the depth per channel.

    Args:
        dmodel_ddepth: (n_time, n_channels) derivative of the expected signal w.r.t. the depth.
        variance: (n_time, n_channels) noise variance of each sample (independent Gaussian).
        nuisance: optional (n_time, n_channels, k) derivatives w.r.t. k other free parameters
            (e.g. the expected signal itself for a free normalisation); marginalised over.

    Returns:
        (n_channels,) std of the depth, ``sqrt((I^-1)_00)``.
    """
    d = np.asarray(dmodel_ddepth, dtype=np.float64)
    w = 1.0 / np.asarray(variance, dtype=np.float64)
    if nuisance is None:
        return 1.0 / np.sqrt(np.sum(d * d * w, axis=0))
    g = np.concatenate([d[:, :, None], np.asarray(nuisance, dtype=np.float64)], axis=2)
    info = np.einsum("tci,tc,tcj->cij", g, w, g)  # (n_channels, k+1, k+1)
    return np.sqrt(np.linalg.inv(info)[:, 0, 0])


def fisher_information(
    dmodel_ddepth: np.ndarray, variance: np.ndarray, nuisance: np.ndarray | None = None
) -> np.ndarray:
    """(n_channels,) marginal Fisher information of the depth, ``1 / std^2``; adds over visits."""
    return fisher_depth_std(dmodel_ddepth, variance, nuisance) ** -2.0


def _pixel_variance(
    electrons: np.ndarray, background_e: float, flat: np.ndarray, read: np.ndarray, gain: float
) -> np.ndarray:
    """Variance of flat-fielded CDS values; electrons (n, rows, cols), maps (rows, cols)."""
    quant = 2.0 / (12.0 * gain * gain)
    return (electrons + background_e) / flat + (2.0 * read * read + quant) / (flat * flat)


def visit_information(
    data_dir: Path | str,
    split: str,
    planet_id: int,
    visit: int = 0,
    free_normalisation: bool = True,
    aperture: Aperture = Aperture(),
) -> np.ndarray:
    """(283,) Fisher information of the depth (wl_1..wl_283) from one visit's CDS frames."""
    from spectramind.simulate import detector, physics
    from spectramind.simulate.truth import expected_light_curves, planet_truth

    truth = planet_truth(data_dir, split, planet_id)
    curves = expected_light_curves(data_dir, split, planet_id, visit)
    vt = truth.visits[visit]
    star = truth.star
    adc = reader.read_adc_info(data_dir)
    out = np.empty(layout.N_WAVELENGTHS)

    # --- AIRS: per detector column, rows of the aperture ------------------------------------
    maps = reader.read_calibration(data_dir, split, planet_id, AIRS, visit)
    r0, r1 = aperture.airs_rows
    cols = np.arange(AIRS.cols)[layout.AIRS_CROP]
    depth = truth.depth_airs[cols]
    ld = truth.ld_airs[cols]
    t = curves.airs_time_h
    up, down = (
        physics.transit_light_curves(t, vt.t0_h, star.P, star.sma, star.i, depth * f, ld)
        for f in (1.0 + _DEPTH_STEP, 1.0 - _DEPTH_STEP)
    )
    dtransit = (up - down) / (2.0 * _DEPTH_STEP * depth)  # (n, 282)
    profile = detector.airs_row_profile(
        truth.airs_trace_row, truth.airs_trace_sigma, curves.airs_jitter_px[:, 1]
    )[:, r0:r1][:, :, cols]  # (n, rows, 282)
    flux = curves.airs_flux[:, cols]  # (n, 282) e- per CDS, all rows
    t_int = AIRS.dark_dt_end_s - AIRS.dark_dt_start_s
    var = _pixel_variance(
        flux[:, None, :] * profile,
        vt.airs_background * t_int,
        maps.flat[r0:r1][:, cols],
        maps.read[r0:r1][:, cols],
        adc[AIRS.name].gain,
    ).sum(axis=1)  # (n, 282)
    captured = profile.sum(axis=1)  # (n, 282) aperture fraction
    signal = flux * captured
    dsignal = truth.airs_flux[cols] * curves.airs_systematics[:, cols] * dtransit * captured
    nuisance = signal[:, :, None] if free_normalisation else None
    out[1:] = fisher_information(dsignal, var, nuisance)[::-1]  # ascending wavelength

    # --- FGS1: the aperture box -------------------------------------------------------------
    maps = reader.read_calibration(data_dir, split, planet_id, FGS, visit)
    (a0, a1), (b0, b1) = aperture.fgs_rows, aperture.fgs_cols
    t = curves.fgs_time_h
    dfgs = np.array([truth.depth_fgs])
    up, down = (
        physics.transit_light_curves(
            t, vt.t0_h, star.P, star.sma, star.i, dfgs * f, truth.ld_fgs[None]
        )
        for f in (1.0 + _DEPTH_STEP, 1.0 - _DEPTH_STEP)
    )
    dtransit = ((up - down) / (2.0 * _DEPTH_STEP * dfgs))[:, 0]
    psf = detector.fgs_psf(truth.fgs_psf_sigma, curves.fgs_jitter_px, FGS.rows)[:, a0:a1, b0:b1]
    t_int = FGS.dark_dt_end_s - FGS.dark_dt_start_s
    var = _pixel_variance(
        curves.fgs_flux[:, None, None] * psf,
        vt.fgs_background * t_int,
        maps.flat[a0:a1, b0:b1],
        maps.read[a0:a1, b0:b1],
        adc[FGS.name].gain,
    ).sum(axis=(1, 2))
    captured = psf.sum(axis=(1, 2))
    signal = curves.fgs_flux * captured
    dsignal = truth.fgs_flux * curves.fgs_systematics * dtransit * captured
    nuisance = signal[:, None, None] if free_normalisation else None
    out[0] = fisher_information(dsignal[:, None], var[:, None], nuisance)[0]
    return out


def planet_depth_std(
    data_dir: Path | str,
    split: str,
    planet_id: int,
    free_normalisation: bool = True,
    aperture: Aperture = Aperture(),
) -> np.ndarray:
    """(283,) Cramer-Rao std of the depths of one simulated planet, all its visits combined."""
    from spectramind.simulate.truth import planet_truth

    n_visits = len(planet_truth(data_dir, split, planet_id).visits)
    info = sum(
        visit_information(data_dir, split, planet_id, v, free_normalisation, aperture)
        for v in range(n_visits)
    )
    return 1.0 / np.sqrt(info)


def ceiling_predictions(
    truth: np.ndarray, std: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma), each like ``truth`` (n, 283): truth + std x N(0, 1) (seeded) and std."""
    rng = np.random.default_rng(seed)
    truth = np.asarray(truth, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    return np.clip(truth + std * rng.standard_normal(truth.shape), 0.0, None), std


def depth_std_table(
    data_dir: Path | str,
    split: str,
    planet_ids: Sequence[int],
    free_normalisation: bool = True,
) -> np.ndarray:
    """(n, 283) :func:`planet_depth_std` for several planets, rows in the given order."""
    return np.stack(
        [planet_depth_std(data_dir, split, int(p), free_normalisation) for p in planet_ids]
    ).reshape(len(planet_ids), layout.N_WAVELENGTHS)
