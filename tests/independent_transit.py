"""An independent transit light-curve generator for the physics tests (no batman, no fitter code).

The occulted flux is integrated over the stellar disk in the star's own radial coordinate:
for a planet of radius k at sky separation z, the blocked flux is

    F(z) = int_{|z-k|}^{min(1, z+k)} I(r) 2 alpha(r) r dr  (+ the full circles r < k - z),

with alpha(r) the half-angle of the circle of radius r inside the planet's disk. The sqrt-type
end points are removed by r = a + (b - a)(1 - cos phi)/2 and the rest is Gauss-Legendre in phi,
so any limb-darkening law I(mu) works (quadratic, the 4-parameter non-linear law of Claret
2000, ...). The orbit is circular; times in hours, the period in days.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)
_PHI = 0.5 * np.pi * (_NODES + 1.0)  # (m,) in (0, pi)
_W_PHI = 0.5 * np.pi * _WEIGHTS


def quadratic_law(u1: float, u2: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda mu: 1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2


def nonlinear_law(c: tuple[float, float, float, float]) -> Callable[[np.ndarray], np.ndarray]:
    """Claret (2000) 4-parameter law: 1 - sum_k c_k (1 - mu^(k/2))."""
    return lambda mu: 1.0 - sum(ck * (1.0 - mu ** (0.5 * (k + 1))) for k, ck in enumerate(c))


def _band_integral(f: Callable[[np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray):
    """int_a^b f(r) dr for arrays of intervals (n,), sqrt end points handled."""
    r = a[:, None] + (b - a)[:, None] * 0.5 * (1.0 - np.cos(_PHI))[None, :]  # (n, m)
    jac = (b - a)[:, None] * 0.5 * np.sin(_PHI)[None, :]
    return np.sum(f(r) * jac * _W_PHI[None, :], axis=1)


def occulted_fraction(
    z: np.ndarray, k: float, law: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Fraction of the stellar flux the planet blocks at separations z (n,) [stellar radii]."""
    z = np.asarray(z, dtype=np.float64)

    def intensity(r: np.ndarray) -> np.ndarray:
        return law(np.sqrt(np.clip(1.0 - r * r, 0.0, None)))

    total = _band_integral(lambda r: intensity(r) * 2 * np.pi * r, np.zeros(1), np.ones(1))[0]
    out = np.zeros_like(z)
    hit = z < 1.0 + k
    zz = z[hit]
    # circles of radius r < k - z lie wholly inside the planet's disk
    inner = np.clip(k - zz, 0.0, 1.0)
    full = np.where(
        inner > 0,
        _band_integral(lambda r: intensity(r) * 2 * np.pi * r, np.zeros(zz.size), inner),
        0.0,
    )
    lo = np.abs(zz - k)
    hi = np.minimum(1.0, zz + k)
    lo = np.minimum(lo, hi)
    zc = zz[:, None]

    def partial(r: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            cos_alpha = (r * r + zc * zc - k * k) / (2.0 * r * zc)
        alpha = np.arccos(np.clip(np.nan_to_num(cos_alpha, nan=1.0), -1.0, 1.0))
        return intensity(r) * 2.0 * alpha * r

    part = _band_integral(partial, lo, hi)
    out[hit] = (full + part) / total
    return out


def separation(
    time_h: np.ndarray, t0_h: float, period_days: float, a_over_rs: float, inc_deg: float
) -> np.ndarray:
    """Sky-projected separation (n,) [stellar radii] of a circular orbit; far side -> large."""
    phase = 2.0 * np.pi * (np.asarray(time_h) - t0_h) / (24.0 * period_days)
    x = a_over_rs * np.sin(phase)
    y = a_over_rs * np.cos(np.radians(inc_deg)) * np.cos(phase)
    z = np.hypot(x, y)
    return np.where(np.cos(phase) > 0, z, 1e3)


def light_curve(
    time_h: np.ndarray,
    t0_h: float,
    period_days: float,
    a_over_rs: float,
    inc_deg: float,
    k: float,
    law: Callable[[np.ndarray], np.ndarray],
    exposure_h: float = 0.0,
    n_sub: int = 1,
) -> np.ndarray:
    """Relative flux (n,), averaged over ``n_sub`` points across each exposure when > 1."""
    time_h = np.asarray(time_h, dtype=np.float64)
    if n_sub > 1 and exposure_h > 0:
        offsets = ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * exposure_h
        t = (time_h[:, None] + offsets[None, :]).ravel()
        z = separation(t, t0_h, period_days, a_over_rs, inc_deg)
        return 1.0 - occulted_fraction(z, k, law).reshape(time_h.size, n_sub).mean(axis=1)
    return 1.0 - occulted_fraction(
        separation(time_h, t0_h, period_days, a_over_rs, inc_deg), k, law
    )
