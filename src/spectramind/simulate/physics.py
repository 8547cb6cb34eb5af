"""Astrophysics of the simulator: stellar spectrum, transit spectrum, limb darkening, transits.

Pure numpy functions over arrays (batman for the transit itself). Wavelengths are in micron,
times in hours on the ``axis_info`` clock unless a name says otherwise.

References: Kreidberg (2015, PASP 127, 1161) for batman's quadratic limb-darkened transit
(Mandel & Agol 2002); Winn (2010, arXiv:1001.2010) eq. 14 for the total transit duration.
"""

from __future__ import annotations

import numpy as np

from spectramind.simulate import constants as c

# Molecular bands: (centre [micron], Gaussian width [micron], maximum amplitude [depth units]).
# Amplitudes of a few 1e-5 to a few 1e-4 (FORMAT.md section 8).
MOLECULAR_BANDS = {
    "H2O_1.9": (1.90, 0.08, 2.0e-4),
    "CO2_2.0": (2.01, 0.04, 1.5e-4),
    "CH4_2.3": (2.30, 0.06, 1.5e-4),
    "CO_2.35": (2.35, 0.03, 1.0e-4),
    "H2O_2.7": (2.70, 0.15, 4.0e-4),
    "CH4_3.3": (3.30, 0.10, 3.0e-4),
}


def photon_planck(wavelength_um: np.ndarray, temperature_k: float) -> np.ndarray:
    """Photon spectral radiance of a black body, up to a constant: lambda^-4 / (exp(hc/lkT) - 1).

    Shape follows ``wavelength_um``. Units arbitrary (photons per unit wavelength).
    """
    wl = np.asarray(wavelength_um, dtype=np.float64)
    return wl**-4 / np.expm1(c.HC_OVER_K_UM_K / (wl * temperature_k))


def airs_throughput(wavelength_um: np.ndarray) -> np.ndarray:
    """Smooth instrument throughput (optics x quantum efficiency), dimensionless, 0.35..1."""
    wl = np.asarray(wavelength_um, dtype=np.float64)
    return 0.35 + 0.65 * np.exp(-0.5 * ((wl - 2.9) / 1.0) ** 2)


def transit_spectrum(
    wavelength_um: np.ndarray,
    continuum_depth: float,
    rayleigh_amplitude: float,
    band_amplitudes: dict[str, float],
) -> np.ndarray:
    """Transit depth (Rp/Rs)^2 per wavelength: continuum + scattering slope + molecular bands.

    Args:
        wavelength_um: (n,) wavelengths [micron].
        continuum_depth: grey depth, 0.006..0.046.
        rayleigh_amplitude: extra depth at 0.7 micron from a lambda^-4 scattering slope.
        band_amplitudes: amplitude per :data:`MOLECULAR_BANDS` key (missing keys are 0).

    Returns:
        (n,) transit depth.
    """
    wl = np.asarray(wavelength_um, dtype=np.float64)
    depth = continuum_depth + rayleigh_amplitude * (wl / 0.7) ** -4
    for name, (centre, width, _) in MOLECULAR_BANDS.items():
        amplitude = band_amplitudes.get(name, 0.0)
        depth = depth + amplitude * np.exp(-0.5 * ((wl - centre) / width) ** 2)
    return depth


def limb_darkening(
    wavelength_um: np.ndarray, u1_ref: float, u2_ref: float, slope1: float, slope2: float
) -> np.ndarray:
    """Quadratic limb-darkening coefficients falling with wavelength as a power law.

    ``u_k(lambda) = u_k_ref * (lambda / 0.7)^-slope_k``, clipped to u1 in 0..0.8, u2 in 0..0.4.

    Returns:
        (n, 2) coefficients (u1, u2).
    """
    ratio = np.asarray(wavelength_um, dtype=np.float64) / 0.7
    u1 = np.clip(u1_ref * ratio**-slope1, 0.0, 0.8)
    u2 = np.clip(u2_ref * ratio**-slope2, 0.0, 0.4)
    return np.stack([u1, u2], axis=-1)


def a_over_rs(period_days: float, mass_msun: float, radius_rsun: float) -> float:
    """Semi-major axis in stellar radii from Kepler's third law (planet mass neglected)."""
    period_s = period_days * c.SECONDS_PER_DAY
    a_m = (c.G_SI * mass_msun * c.M_SUN_KG * period_s**2 / (4 * np.pi**2)) ** (1 / 3)
    return float(a_m / (radius_rsun * c.R_SUN_M))


def total_duration_h(period_days: float, a_rs: float, inc_deg: float, rp_rs: float) -> float:
    """T14 of a circular orbit [h] (Winn 2010 eq. 14); 0 when the planet does not transit."""
    inc = np.radians(inc_deg)
    b = a_rs * np.cos(inc)
    chord2 = (1 + rp_rs) ** 2 - b**2
    if chord2 <= 0:
        return 0.0
    arg = np.sqrt(chord2) / (a_rs * np.sin(inc))
    return float(period_days * 24.0 / np.pi * np.arcsin(min(arg, 1.0)))


def transit_light_curves(
    time_h: np.ndarray,
    t0_h: float,
    period_days: float,
    a_rs: float,
    inc_deg: float,
    depth: np.ndarray,
    ld: np.ndarray,
) -> np.ndarray:
    """Relative flux of a limb-darkened transit (batman, circular orbit).

    Args:
        time_h: (n_time,) times [h], same clock as ``t0_h``.
        t0_h: mid-transit time [h].
        period_days, a_rs, inc_deg: orbit (period [d], a/R*, inclination [deg]).
        depth: (n_lambda,) (Rp/Rs)^2 per channel.
        ld: (n_lambda, 2) quadratic coefficients per channel, or (n_lambda, 4) coefficients of
            the 4-parameter non-linear law (Claret 2000; the ``limb-darkening`` variant).

    Returns:
        (n_time, n_lambda) relative flux, 1 out of transit.
    """
    import batman  # C extension: imported where used

    depth = np.atleast_1d(np.asarray(depth, dtype=np.float64))
    ld = np.atleast_2d(np.asarray(ld, dtype=np.float64))
    params = batman.TransitParams()
    params.t0 = t0_h / 24.0
    params.per = period_days
    params.rp = float(np.sqrt(depth[0]))
    params.a = a_rs
    params.inc = inc_deg
    params.ecc = 0.0
    params.w = 90.0
    if ld.shape[1] == 2:
        params.limb_dark = "quadratic"
        params.u = [float(ld[0, 0]), float(ld[0, 1])]
        model = batman.TransitModel(params, np.asarray(time_h, dtype=np.float64) / 24.0)
    else:
        params.limb_dark = "nonlinear"
        params.u = [float(v) for v in ld[0]]
        # batman integrates the non-linear law numerically; a fixed step keeps the result
        # independent of which channel sets it (error below 0.4 ppm of the flux at this step).
        model = batman.TransitModel(
            params, np.asarray(time_h, dtype=np.float64) / 24.0, fac=_NONLINEAR_FAC
        )
    out = np.empty((len(time_h), depth.size), dtype=np.float64)
    for j in range(depth.size):
        params.rp = float(np.sqrt(depth[j]))
        params.u = [float(v) for v in ld[j]]
        out[:, j] = model.light_curve(params)
    return out


# batman's integration step scale for the non-linear law (see batman.TransitModel's ``fac``).
_NONLINEAR_FAC = 0.01


def chebyshev_drift(tau: np.ndarray, omega: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Multiplicative gain drift ``1 + sum_ij a_ij T_(i+1)(tau) T_j(omega)``.

    Args:
        tau: (n_time,) time scaled to -1..1 over the visit.
        omega: (n_lambda,) wavelength scaled to -1..1 (a single 0 for a photometer).
        coeffs: (n_t, n_w) coefficients; time orders start at 1 so the drift is 1 on average
            only through the time terms (a constant offset is just stellar brightness).

    Returns:
        (n_time, n_lambda) drift factor.
    """
    coeffs = np.atleast_2d(np.asarray(coeffs, dtype=np.float64))
    n_t, n_w = coeffs.shape
    t_basis = np.polynomial.chebyshev.chebvander(np.asarray(tau, dtype=np.float64), n_t)[:, 1:]
    w_basis = np.polynomial.chebyshev.chebvander(np.asarray(omega, dtype=np.float64), n_w - 1)
    return 1.0 + t_basis @ coeffs @ w_basis.T


def jitter_loss(offset_px: np.ndarray, kappa: float) -> np.ndarray:
    """Photometric modulation of pointing jitter: ``1 - kappa * (dx^2 + dy^2)``.

    Args:
        offset_px: (n, 2) pointing offset (x, y) from the nominal position [pixel].
        kappa: flux loss per squared pixel offset [1/pixel^2].

    Returns:
        (n,) multiplicative factor (about 1 - 2e-4 for typical jitter).
    """
    offset_px = np.asarray(offset_px, dtype=np.float64)
    return 1.0 - kappa * np.sum(offset_px**2, axis=-1)


def ar1_series(rng: np.random.Generator, n: int, step_s: float, tau_s: float, sigma: float):
    """Stationary AR(1) (Ornstein-Uhlenbeck) samples, shape (n,), standard deviation ``sigma``."""
    from scipy.signal import lfilter

    phi = np.exp(-step_s / tau_s)
    innovations = rng.standard_normal(n) * sigma * np.sqrt(1 - phi**2)
    innovations[0] = rng.standard_normal() * sigma
    return lfilter([1.0], [1.0, -phi], innovations)
