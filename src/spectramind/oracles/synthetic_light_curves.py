"""Calibrated-like synthetic visits with a known truth, for tests and benchmarks.

Independent of the detector simulator: light curves are drawn straight from batman with a
known geometry, a banded depth spectrum, wavelength-dependent quadratic limb darkening and a
smooth multiplicative drift (quadratic in time, varying with wavelength) plus one jitter
regressor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.data.layout import N_WAVELENGTHS, target_wavelengths_um
from spectramind.physics.lightcurves import VisitLightCurves, legendre_time
from spectramind.physics.transit import TransitCurve, TransitGeometry

BANDS_UM = ((2.0, 0.05), (2.3, 0.06), (2.7, 0.08), (3.3, 0.07))  # centre, width [micron]


@dataclass(frozen=True)
class SyntheticTruth:
    """The injected planet: geometry, depth (283,), u1, u2 (283,)."""

    geometry: TransitGeometry
    depth: np.ndarray
    u1: np.ndarray
    u2: np.ndarray

    def star_info(self) -> dict[str, float]:
        g = self.geometry
        return {
            "Rs": 1.0, "Ms": 1.0, "Ts": 5800.0, "Mp": 1.0, "e": 0.0,
            "P": g.period_days, "sma": g.a_over_rs, "i": g.inc_deg,
        }  # fmt: skip


def make_truth(
    continuum: float = 0.012,
    band_amplitude: float = 3e-4,
    geometry: TransitGeometry | None = None,
) -> SyntheticTruth:
    """A banded spectrum (Gaussian bands of ``band_amplitude``) with u1, u2 linear in lambda."""
    wl = target_wavelengths_um()
    depth = np.full(N_WAVELENGTHS, continuum)
    for centre, width in BANDS_UM:
        depth += band_amplitude * np.exp(-0.5 * ((wl - centre) / width) ** 2)
    depth[0] = continuum * 0.98
    u1 = 0.45 - 0.12 * (wl - 2.9)
    u2 = 0.20 - 0.03 * (wl - 2.9)
    u1[0], u2[0] = 0.6, 0.18
    geometry = geometry or TransitGeometry(t0_h=3.6, period_days=4.2, a_over_rs=9.5, inc_deg=88.2)
    return SyntheticTruth(geometry, depth, u1, u2)


def make_visit(
    truth: SyntheticTruth,
    n_bins: int = 1125,
    duration_h: float = 7.5,
    relative_noise: float = 0.0,
    quoted_noise: float = 2e-3,
    seed: int = 0,
    visit: int = 0,
    planet_id: int = 1,
) -> VisitLightCurves:
    """One visit: flux = stellar spectrum x drift x transit (+ Gaussian noise).

    Args:
        relative_noise: per-bin noise std as a fraction of the flux (0 = noise-free).
        quoted_noise: relative ``flux_err`` written in the file (equal to ``relative_noise``
            when that is > 0).
    """
    rng = np.random.default_rng(seed)
    wl = target_wavelengths_um()
    time_h = (np.arange(n_bins) + 0.5) * duration_h / n_bins
    x = legendre_time(time_h)
    curve = TransitCurve(time_h, truth.geometry)
    transit = np.stack(
        [
            curve.flux(np.sqrt(d), a, b)
            for d, a, b in zip(truth.depth, truth.u1, truth.u2, strict=True)
        ],
        axis=1,
    )
    stellar = 1e5 * (wl / 2.5) ** -2 * (1.0 + 0.1 * np.sin(3 * wl))
    jitter = np.sin(2 * np.pi * time_h / 0.9) + 0.5 * np.sin(2 * np.pi * time_h / 2.3 + 1.0)
    c1 = 2e-3 + 1e-3 * (wl - 2.9)
    c2 = -1.5e-3 + 5e-4 * (wl - 2.9)
    beta = 4e-4 * (1 + 0.2 * (wl - 2.9))
    drift = 1.0 + c1 * x[:, None] + c2 * (1.5 * x[:, None] ** 2 - 0.5) + beta * jitter[:, None]
    flux = stellar * drift * transit
    sigma = relative_noise if relative_noise > 0 else quoted_noise
    flux_err = sigma * stellar * np.ones_like(flux)
    if relative_noise > 0:
        flux = flux + rng.normal(size=flux.shape) * flux_err
    return VisitLightCurves(
        time_h=time_h,
        flux=flux,
        flux_err=flux_err,
        quality=np.zeros(N_WAVELENGTHS, np.uint16),
        regressors=jitter[:, None],
        planet_id=planet_id,
        split="train",
        visit=visit,
        regressor_names=("jitter",),
    )
