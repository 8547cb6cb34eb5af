"""Per-wavelength transit depths (Rp/Rs)^2 for a fixed geometry.

Limb darkening: the simulator and real stars vary u1, u2 smoothly with wavelength, and a
per-channel (u1, u2) is degenerate with the depth at per-channel S/N. We therefore fit
(rp, u1, u2) on a few wide wavelength bins of AIRS (high S/N) and describe u1(lambda),
u2(lambda) by weighted low-order polynomials through them; each channel then uses the smooth
value at its wavelength. FGS1 uses its own (u1, u2) from the white-light fit.

Depths: per channel the model is flux_j(t) = (B(t) @ c_j) * T(t; D_j, u_j), with B the drift
basis (Legendre polynomials in time plus jitter regressors, one set of coefficients per channel,
i.e. a multiplicative drift of low order in time for every wavelength). It is linear in c_j
and nearly linear in D_j, so all channels are solved at once by batched Gauss-Newton on
(c_j, D_j) with numpy (a few iterations of (p+1)x(p+1) normal equations), instead of
283 nonlinear optimizer runs. Depth errors come from the Gauss-Newton covariance scaled by the
channel's reduced chi2.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from spectramind.physics.fallback import quiet_nan
from spectramind.physics.geometry import weighted_projection
from spectramind.physics.limb_darkening import LimbDarkeningPrior, u_from_q
from spectramind.physics.transit import TransitCurve

log = logging.getLogger(__name__)

# Reduced chi2 below this does not shrink the errors further (noise-free inputs would give 0).
MIN_CHI2_SCALE = 1e-2
MIN_DEPTH = 1e-7


@dataclass(frozen=True)
class LimbDarkeningLaw:
    """Quadratic-law coefficients as polynomials in the scaled wavelength.

    x = (lambda - center_um) / scale_um; u1 = polyval(x, u1_coeffs) (numpy.polynomial order,
    lowest degree first); same for u2.
    """

    center_um: float
    scale_um: float
    u1_coeffs: tuple[float, ...]
    u2_coeffs: tuple[float, ...]

    def evaluate(self, wavelength_um: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u1, u2) arrays with the shape of ``wavelength_um`` [micron]."""
        x = (np.asarray(wavelength_um, dtype=np.float64) - self.center_um) / self.scale_um
        u1 = np.polynomial.polynomial.polyval(x, self.u1_coeffs)
        u2 = np.polynomial.polynomial.polyval(x, self.u2_coeffs)
        return u1, u2


@dataclass(frozen=True)
class BinnedLimbDarkening:
    """Per-bin fits: wavelength [um], rp/R*, u1, u2 and their 1-sigma errors, shape (n_bins,)."""

    wavelength_um: np.ndarray
    rp_over_rs: np.ndarray
    u1: np.ndarray
    u2: np.ndarray
    u1_err: np.ndarray
    u2_err: np.ndarray


@dataclass(frozen=True)
class ChannelDepths:
    """Per-channel results, shape (m,): depth (Rp/Rs)^2, 1-sigma error, reduced chi2,
    residual RMS [ppm per bin], and ``ok`` (False where the fit could not be trusted)."""

    depth: np.ndarray
    depth_err: np.ndarray
    chi2_red: np.ndarray
    residual_ppm: np.ndarray
    ok: np.ndarray
    # (m, p) drift coefficients of the normalised flux (basis @ coef[j] multiplies channel j)
    drift_coef: np.ndarray | None = None


def _u_jacobian(q1: float, q2: float) -> np.ndarray:
    """d(u1, u2) / d(q1, q2) of :func:`~spectramind.physics.limb_darkening.u_from_q` (2, 2)."""
    root = np.sqrt(max(q1, 1e-12))
    return np.array([[q2 / root, 2.0 * root], [(1.0 - 2.0 * q2) / (2.0 * root), -2.0 * root]])


def fit_binned_limb_darkening(
    curve: TransitCurve,
    flux: np.ndarray,
    flux_err: np.ndarray,
    valid: np.ndarray,
    wavelength_um: np.ndarray,
    basis: np.ndarray,
    n_bins: int,
    rp_init: float,
    ld_prior: Callable[[np.ndarray, np.ndarray], LimbDarkeningPrior] | None = None,
) -> BinnedLimbDarkening:
    """Fit (rp, u1, u2) with the geometry fixed on ``n_bins`` contiguous wavelength bins.

    Only channels valid in every time bin enter (so the bin sums have no gaps). (u1, u2) stay in
    the physical region (Kipping's q1, q2 in the unit square); ``ld_prior(wavelengths, flux
    shares)`` gives each bin's Gaussian prior (None: no prior).

    Args:
        flux, flux_err, valid: (n, m) channel light curves (any normalisation per channel).
        wavelength_um: (m,) channel wavelengths.
    """
    full = valid.all(axis=0)
    index = np.flatnonzero(full)
    groups = [g for g in np.array_split(index, max(1, min(n_bins, index.size))) if g.size]
    out = {key: [] for key in ("wl", "k", "u1", "u2", "s1", "s2")}
    lower, upper = np.array([0.005, 0.0, 0.0]), np.array([0.5, 1.0, 1.0])
    for group in groups:
        # Normalise channels to unit median before summing, so bright channels do not dominate
        # the effective wavelength.
        scale = np.median(flux[:, group], axis=0)
        f = (flux[:, group] / scale).sum(axis=1)
        e = np.sqrt(((flux_err[:, group] / scale) ** 2).sum(axis=1))
        sw = 1.0 / e
        prior = ld_prior(wavelength_um[group], np.ones(group.size)) if ld_prior else None

        def residuals(
            theta: np.ndarray, f: np.ndarray = f, sw: np.ndarray = sw, prior=prior
        ) -> np.ndarray:
            u1, u2 = u_from_q(theta[1], theta[2])
            res = weighted_projection(basis, curve.flux(theta[0], u1, u2), f, sw)[1]
            return res if prior is None else np.concatenate([res, prior.residuals(u1, u2)])

        q_start = prior.q_start if prior is not None else (0.5, 0.5)  # square centre
        x0 = np.clip([rp_init, *q_start], lower + 1e-6, upper - 1e-6)
        try:
            res = least_squares(residuals, x0, bounds=(lower, upper), x_scale="jac", max_nfev=200)
        except (ValueError, np.linalg.LinAlgError) as err:
            log.debug("limb-darkening bin fit failed: %s", err)
            continue
        if not np.all(np.isfinite(res.x)):
            continue
        dof = max(f.size - basis.shape[1] - 3, 1)
        chi2_red = 2.0 * res.cost / dof
        cov_q = np.linalg.pinv(res.jac.T @ res.jac)[1:, 1:] * max(chi2_red, MIN_CHI2_SCALE)
        jac_u = _u_jacobian(res.x[1], res.x[2])
        cov_u = jac_u @ cov_q @ jac_u.T
        u1, u2 = u_from_q(res.x[1], res.x[2])
        out["wl"].append(float(np.mean(wavelength_um[group])))
        out["k"].append(res.x[0])
        out["u1"].append(u1)
        out["u2"].append(u2)
        out["s1"].append(np.sqrt(max(cov_u[0, 0], 0.0)))
        out["s2"].append(np.sqrt(max(cov_u[1, 1], 0.0)))
    arr = {key: np.asarray(value, dtype=np.float64) for key, value in out.items()}
    return BinnedLimbDarkening(arr["wl"], arr["k"], arr["u1"], arr["u2"], arr["s1"], arr["s2"])


def smooth_limb_darkening(
    bins: BinnedLimbDarkening, degree: int, fallback: tuple[float, float]
) -> LimbDarkeningLaw:
    """Weighted polynomial fits of u1(lambda), u2(lambda) through the binned values.

    The degree is reduced to (number of bins - 1) when there are few bins; with no bins the law
    is the constant ``fallback`` (u1, u2).
    """
    n = bins.wavelength_um.size
    if n == 0:
        return LimbDarkeningLaw(0.0, 1.0, (fallback[0],), (fallback[1],))
    center = float(np.mean(bins.wavelength_um))
    scale = float(np.ptp(bins.wavelength_um) / 2) or 1.0
    x = (bins.wavelength_um - center) / scale
    deg = min(degree, n - 1)
    coeffs = []
    for u, s in ((bins.u1, bins.u1_err), (bins.u2, bins.u2_err)):
        # Floor the errors so one lucky bin cannot pin the polynomial.
        s = np.maximum(s, max(1e-6, 0.1 * float(np.median(s))))
        coeffs.append(tuple(float(v) for v in np.polynomial.polynomial.polyfit(x, u, deg, w=1 / s)))
    return LimbDarkeningLaw(center, scale, coeffs[0], coeffs[1])


def _stack_models(
    curve: TransitCurve, depth: np.ndarray, u1: np.ndarray, u2: np.ndarray
) -> np.ndarray:
    """(m, n) transit models for per-channel depth and limb darkening."""
    return np.stack([curve.flux(np.sqrt(d), a, b) for d, a, b in zip(depth, u1, u2, strict=True)])


def fit_channel_depths(
    curve: TransitCurve,
    flux: np.ndarray,
    flux_err: np.ndarray,
    valid: np.ndarray,
    basis: np.ndarray,
    u1: np.ndarray,
    u2: np.ndarray,
    depth_init: np.ndarray,
    iterations: int = 8,
    tol: float = 1e-9,
) -> ChannelDepths:
    """Batched Gauss-Newton fit of depth and drift for all channels (see module docstring).

    Args:
        curve: transit model of the fixed geometry on the visit's time grid (n,).
        flux, flux_err, valid: (n, m) light curves; invalid points get zero weight.
        basis: (n, p) drift basis.
        u1, u2, depth_init: (m,) limb darkening and starting depths.

    Returns:
        :class:`ChannelDepths`; channels with too few valid points have ``ok = False``.
    """
    p = basis.shape[1]
    with np.errstate(all="ignore"), quiet_nan():
        scale = np.nanmedian(np.where(valid, flux, np.nan), axis=0)
    usable = valid.sum(axis=0) >= p + 1 + 5
    usable &= np.isfinite(scale) & (scale > 0)
    scale = np.where(usable, scale, 1.0)
    w = np.where(valid & usable[None, :], 1.0 / np.where(valid, flux_err, 1.0) ** 2, 0.0).T
    w = w * (scale**2)[:, None]  # weights of the normalised flux, (m, n)
    y = np.where(valid, flux, 0.0).T / scale[:, None]  # (m, n)
    depth = np.clip(np.where(np.isfinite(depth_init), depth_init, 0.01), MIN_DEPTH, 0.25)
    basis_t = basis.T  # (p, n)

    def normal_solve(design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Batched weighted least squares: design (m, n, q), target (m, n) -> (m, q), normal."""
        dw_t = (design * w[:, :, None]).transpose(0, 2, 1)  # (m, q, n)
        normal = dw_t @ design
        rhs = (dw_t @ target[:, :, None])[:, :, 0]
        ridge = 1e-12 * np.trace(normal, axis1=1, axis2=2)[:, None, None] + 1e-300
        normal = normal + ridge * np.eye(design.shape[2])
        normal[~usable] = np.eye(design.shape[2])
        return np.linalg.solve(normal, rhs[:, :, None])[:, :, 0], normal

    coef = None
    for _ in range(max(1, iterations)):
        # Linearise at the current depths: model and its forward-difference depth derivative.
        step = np.maximum(1e-4 * depth, 1e-8)
        model = _stack_models(curve, depth, u1, u2)  # (m, n)
        d_model = (_stack_models(curve, depth + step, u1, u2) - model) / step[:, None]
        if coef is None:
            coef, _ = normal_solve(basis[None, :, :] * model[:, :, None], y)
        drift = coef @ basis_t  # (m, n)
        design = np.concatenate(
            [basis[None, :, :] * model[:, :, None], (drift * d_model)[:, :, None]], axis=2
        )
        resid = y - drift * model
        delta, normal = normal_solve(design, resid)
        coef = coef + delta[:, :p]
        new_depth = np.clip(depth + delta[:, p], MIN_DEPTH, 0.25)
        change = np.max(np.abs(new_depth - depth)[usable]) if usable.any() else 0.0
        depth = new_depth
        if change < tol:
            break
    # Covariance from the last linearisation (converged: the step was below ``tol``); the
    # residuals after the step follow from the same linear model.
    resid = resid - (design @ delta[:, :, None])[:, :, 0]
    with np.errstate(all="ignore"):
        cov = np.linalg.inv(normal)[:, p, p]
        n_valid = (w > 0).sum(axis=1)
        chi2 = np.einsum("mn,mn->m", w, resid * resid)
        chi2_red = chi2 / np.maximum(n_valid - p - 1, 1)
        depth_err = np.sqrt(cov * np.maximum(chi2_red, MIN_CHI2_SCALE))
        rms = np.sqrt(np.sum(np.where(w > 0, resid * resid, 0.0), axis=1) / np.maximum(n_valid, 1))
    ok = usable & np.isfinite(depth) & np.isfinite(depth_err) & (depth_err > 0)
    ok &= (depth > 10 * MIN_DEPTH) & (depth < 0.25)
    return ChannelDepths(depth, depth_err, chi2_red, rms * 1e6, ok, coef)


def smooth_drift(
    basis: np.ndarray,
    coef: np.ndarray,
    weight: np.ndarray,
    wavelength_um: np.ndarray,
    degree: int,
) -> np.ndarray:
    """Per-channel drift curves (n, m) with the relative drift smooth (polynomial) in wavelength.

    The gain drift of the instrument and the jitter loss are low-order in time x wavelength
    (FORMAT.md sections 7-8), so fitting them freely per channel spends ``p - 1`` parameters of
    every channel on noise (and those parameters are degenerate with the depth when the
    out-of-transit baseline is short). Here each relative drift coefficient
    ``coef[j, k] / coef[j, 0]`` (k >= 1) is replaced by a weighted polynomial of degree
    ``degree`` in wavelength fitted through all channels (weights ``weight`` (m,), zero for
    channels to ignore); the result is ``1 + sum_k r_k(lambda_j) basis[:, k]``.

    Args:
        basis: (n, p) drift basis whose column 0 is the constant.
        coef: (m, p) per-channel coefficients from :func:`fit_channel_depths`.
        weight: (m,) fit weights (e.g. 1 / depth_err^2).
        wavelength_um: (m,) channel wavelengths.
    """
    with np.errstate(all="ignore"):
        rel = coef[:, 1:] / coef[:, :1]  # (m, p - 1)
    good = (weight > 0) & np.all(np.isfinite(rel), axis=1) & np.isfinite(wavelength_um)
    if good.sum() <= degree + 1:
        return np.ones((basis.shape[0], coef.shape[0]))
    center = float(np.mean(wavelength_um[good]))
    scale = float(np.ptp(wavelength_um[good]) / 2) or 1.0
    x = (wavelength_um - center) / scale
    smooth = np.empty_like(rel)
    sw = np.sqrt(weight[good])
    for k in range(rel.shape[1]):
        c = np.polynomial.polynomial.polyfit(x[good], rel[good, k], degree, w=sw)
        smooth[:, k] = np.polynomial.polynomial.polyval(x, c)
    return 1.0 + basis[:, 1:] @ smooth.T  # (n, m)
