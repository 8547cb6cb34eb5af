"""Quadratic limb darkening: the physical region, its box parametrisation and a physical prior.

The quadratic law is I(mu) / I(1) = 1 - u1 (1 - mu) - u2 (1 - mu)^2. Nothing here comes from a
simulator's draw range; the constraints and the prior are stated from physics:

* **Physical region** (Kipping 2013, MNRAS 435, 2152): the intensity is positive everywhere
  (u1 + u2 <= 1) and falls monotonically from the centre to the limb (u1 >= 0 and
  u1 + 2 u2 >= 0). The map q1 = (u1 + u2)^2, q2 = u1 / (2 (u1 + u2)) sends that triangle onto
  the unit square, so a bounded optimiser can search exactly the physical region.
* **Prior centre**: the emergent intensity of a grey atmosphere in the Eddington approximation,
  T^4(tau) = 3/4 Teff^4 (tau + 2/3), I_lambda(mu) = int B_lambda(T(tau)) exp(-tau/mu) dtau/mu,
  fitted by the quadratic law (area-weighted in mu). It depends only on the wavelength and the
  star's Teff (star info ``Ts``): strong darkening in the visible (u1 ~ 0.47 at 0.7 um for the
  Sun), weak in the infrared (u1 ~ 0.18 at 2.9 um). Real (non-grey) atmospheres differ from it
  by ~0.1-0.2 in u1 and u2, hence a prior width of that order (``FitConfig.ld_prior_sigma``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HC_OVER_K_UM_K = 14387.7688  # second radiation constant h c / k [micron K] (CODATA 2018)
SOLAR_TEFF_K = 5772.0  # IAU 2015 nominal solar effective temperature, used when Ts is missing

_LAGUERRE_NODES, _LAGUERRE_WEIGHTS = np.polynomial.laguerre.laggauss(48)
_MU_GRID = np.linspace(0.0025, 1.0, 200)  # (n_mu,) disk positions for the quadratic fit
_MAX_DIRECT = 48  # wavelengths evaluated directly; more are interpolated in log wavelength


def grey_atmosphere_intensity(
    wavelength_um: np.ndarray, teff_k: float, mu: np.ndarray
) -> np.ndarray:
    """I_lambda(mu) / I_lambda(1) of a grey Eddington atmosphere, shape (n_wavelength, n_mu).

    The formal solution int_0^inf B(T(s mu)) e^-s ds is evaluated by 48-point Gauss-Laguerre
    quadrature (s = tau / mu).
    """
    wl = np.atleast_1d(np.asarray(wavelength_um, dtype=np.float64))[:, None, None]
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    grid = np.concatenate([mu, [1.0]])[None, :, None]  # last column: the disk centre
    tau = _LAGUERRE_NODES[None, None, :] * grid  # (1, n_mu + 1, n_nodes)
    temperature = (3.0 / 4.0 * teff_k**4 * (tau + 2.0 / 3.0)) ** 0.25  # Eddington grey T(tau)
    with np.errstate(over="ignore"):
        planck = 1.0 / np.expm1(HC_OVER_K_UM_K / (wl * temperature))  # up to wl^-5
    intensity = planck @ _LAGUERRE_WEIGHTS  # (n_wl, n_mu + 1)
    return intensity[:, :-1] / intensity[:, -1:]


def grey_atmosphere_ld(wavelength_um: np.ndarray, teff_k: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic (u1, u2) of the grey atmosphere at each wavelength [micron] for ``teff_k`` [K].

    Least squares of the law on I(mu)/I(1) over 0 < mu <= 1 weighted by mu (the disk area
    element), so the law is right where a transit chord spends its time. Shapes follow
    ``wavelength_um`` (1-D).
    """
    teff = float(teff_k) if np.isfinite(teff_k) and 2000.0 < float(teff_k) < 50000.0 else None
    teff = teff or SOLAR_TEFF_K
    wl = np.atleast_1d(np.asarray(wavelength_um, dtype=np.float64))
    if wl.size > _MAX_DIRECT:
        # The law is smooth in wavelength: evaluate on a log grid and interpolate (error < 1e-5).
        grid = np.geomspace(wl.min(), wl.max(), _MAX_DIRECT)
        u1, u2 = grey_atmosphere_ld(grid, teff)
        return np.interp(np.log(wl), np.log(grid), u1), np.interp(np.log(wl), np.log(grid), u2)
    ratio = grey_atmosphere_intensity(wl, teff, _MU_GRID)  # (n_wl, n_mu)
    design = np.column_stack([-(1.0 - _MU_GRID), -((1.0 - _MU_GRID) ** 2)])  # (n_mu, 2)
    sqrt_w = np.sqrt(_MU_GRID)[:, None]
    coef, *_ = np.linalg.lstsq(design * sqrt_w, ((ratio - 1.0).T) * sqrt_w, rcond=None)
    return coef[0], coef[1]


def u_from_q(q1: float, q2: float) -> tuple[float, float]:
    """(u1, u2) from Kipping's (q1, q2) in the unit square (the physical region)."""
    root = math.sqrt(max(q1, 0.0))
    return 2.0 * root * q2, root * (1.0 - 2.0 * q2)


def q_from_u(u1: float, u2: float) -> tuple[float, float]:
    """Kipping's (q1, q2) of a physical (u1, u2); the point is first moved into the region."""
    u1, u2 = clip_physical(u1, u2)
    total = u1 + u2
    if total <= 0.0:
        return 0.0, 0.5
    return float(total**2), float(u1 / (2.0 * total))


_TRIANGLE = np.array([[0.0, 0.0], [0.0, 1.0], [2.0, -1.0]])  # vertices of the physical region


def clip_physical(u1, u2):
    """Euclidean projection of (u1, u2) (floats or arrays) onto the physical triangle.

    The triangle u1 >= 0, u1 + 2 u2 >= 0, u1 + u2 <= 1 has vertices (0, 0), (0, 1), (2, -1);
    points inside are returned unchanged. Applied to a smooth law evaluated between or beyond
    its fitted bins.
    """
    scalar = np.ndim(u1) == 0 and np.ndim(u2) == 0
    p = np.stack(np.broadcast_arrays(np.asarray(u1, float), np.asarray(u2, float)), axis=-1)
    inside = (p[..., 0] >= 0) & (p[..., 0] + 2 * p[..., 1] >= 0) & (p[..., 0] + p[..., 1] <= 1)
    best, best_d2 = p.copy(), np.full(p.shape[:-1], np.inf)
    for a, b in ((0, 1), (1, 2), (2, 0)):
        start, edge = _TRIANGLE[a], _TRIANGLE[b] - _TRIANGLE[a]
        t = np.clip(((p - start) @ edge) / (edge @ edge), 0.0, 1.0)
        nearest = start + t[..., None] * edge
        d2 = np.sum((p - nearest) ** 2, axis=-1)
        closer = d2 < best_d2
        best = np.where(closer[..., None], nearest, best)
        best_d2 = np.where(closer, d2, best_d2)
    out = np.where(inside[..., None], p, best)
    if scalar:
        return float(out[0]), float(out[1])
    return out[..., 0], out[..., 1]


@dataclass(frozen=True)
class LimbDarkeningPrior:
    """Gaussian prior on (u1, u2) of one light curve: centre and 1-sigma width (dimensionless)."""

    u1: float
    u2: float
    sigma_u1: float
    sigma_u2: float

    @classmethod
    def grey(
        cls,
        wavelength_um: np.ndarray,
        teff_k: float,
        sigma: tuple[float, float],
        weights: np.ndarray | None = None,
    ) -> LimbDarkeningPrior:
        """Grey-atmosphere prior of a band: the (weighted) mean law over its wavelengths.

        ``weights`` (n,) are the channels' shares of the band's flux (the law of a sum of
        channels is the flux-weighted mean of theirs); None: equal weights.
        """
        u1, u2 = grey_atmosphere_ld(wavelength_um, teff_k)
        w = np.ones_like(u1) if weights is None else np.asarray(weights, dtype=np.float64)
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
        if not w.sum() > 0:
            w = np.ones_like(u1)
        return cls(
            float(np.sum(w * u1) / w.sum()),
            float(np.sum(w * u2) / w.sum()),
            float(sigma[0]),
            float(sigma[1]),
        )

    @property
    def q_start(self) -> tuple[float, float]:
        """The prior centre in (q1, q2), the optimiser's start."""
        return q_from_u(self.u1, self.u2)

    def residuals(self, u1: float, u2: float) -> np.ndarray:
        """(2,) normalised prior residuals added to a least-squares fit."""
        return np.array([(u1 - self.u1) / self.sigma_u1, (u2 - self.u2) / self.sigma_u2])
