"""Transit geometry (mid-transit, a/R*, impact parameter) from white light curves.

FGS1 and the AIRS white light curve are fitted jointly: shared geometry, per-curve rp/R* and
quadratic limb darkening (restricted to the physical region, with a grey-atmosphere prior,
:mod:`.limb_darkening`), per-curve multiplicative drift (Legendre polynomial in time plus
jitter regressors) solved linearly inside the residual (variable projection, Golub & Pereyra
1973), Gaussian priors on a/R* and b from the star info, bounded trust-region least squares
(scipy ``least_squares``) from several starts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from spectramind.physics.limb_darkening import LimbDarkeningPrior, u_from_q
from spectramind.physics.transit import TransitCurve, TransitGeometry, transit_duration_h

log = logging.getLogger(__name__)

DEFAULT_A_OVER_RS = 10.8  # train mean of sma (FORMAT.md section 4), used when star info lacks it
DEFAULT_INC_DEG = 88.5
DEFAULT_PERIOD_DAYS = 5.2


@dataclass(frozen=True)
class GeometryPrior:
    """Gaussian priors from the star info: a/R* [stellar radii], impact parameter b [R*]."""

    period_days: float
    a_over_rs: float
    a_sigma: float
    impact: float
    impact_sigma: float
    inc_above_90: bool  # star info gives i > 90 deg: report the mirrored inclination

    @classmethod
    def from_star_info(
        cls, star: Mapping[str, float], a_sigma_frac: float, inc_sigma_deg: float
    ) -> GeometryPrior:
        def get(name: str, default: float, low: float, high: float) -> float:
            value = float(star.get(name, default))
            return value if np.isfinite(value) and low < value < high else default

        period = get("P", DEFAULT_PERIOD_DAYS, 0.05, 1e4)
        a = get("sma", DEFAULT_A_OVER_RS, 1.2, 1e3)
        inc = get("i", DEFAULT_INC_DEG, 45.0, 135.0)
        impact = abs(a * math.cos(math.radians(inc)))
        impact_sigma = max(a * math.sin(math.radians(inc)) * math.radians(inc_sigma_deg), 0.02)
        return cls(period, a, a_sigma_frac * a, min(impact, 1.2), impact_sigma, inc > 90.0)


@dataclass(frozen=True)
class WhiteCurve:
    """One white light curve: name, flux (n,) normalised to ~1, flux_err (n,), valid (n,)."""

    name: str
    flux: np.ndarray
    flux_err: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True)
class WhiteFit:
    """Per-curve result: rp/R*, limb darkening, reduced chi2 and residual RMS [ppm per bin]."""

    name: str
    rp_over_rs: float
    u1: float
    u2: float
    chi2_red: float
    residual_ppm: float
    depth_err: float = math.nan  # 1-sigma of (rp/R*)^2, geometry and limb darkening marginalised
    depth_err_conditional: float = math.nan  # the same with every other parameter held fixed


@dataclass(frozen=True)
class GeometryFit:
    """Best-fit geometry with 1-sigma errors (scaled by the reduced chi2) and per-curve fits."""

    geometry: TransitGeometry
    t0_err_h: float
    a_err: float
    impact_err: float
    curves: tuple[WhiteFit, ...]
    chi2_red: float
    n_evaluations: int
    theta: np.ndarray | None = None  # the optimum's parameter vector (a start for a refit)


@dataclass(frozen=True)
class Detection:
    """Box search result: mid-transit [h], box depth [relative] and its S/N."""

    t0_h: float
    depth: float
    snr: float


def weighted_projection(
    basis: np.ndarray, model: np.ndarray, flux: np.ndarray, sqrt_w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve flux ~ (basis @ c) * model by weighted linear least squares.

    Returns (c (p,), weighted residuals (n,)).
    """
    design = basis * (model * sqrt_w)[:, None]
    target = flux * sqrt_w
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return coef, target - design @ coef


def detect_transit(
    time_h: np.ndarray, curve: WhiteCurve, basis: np.ndarray, duration_h: float
) -> Detection:
    """Box-shaped dip search over mid-transit times (step <= 0.02 h) with the drift projected out.

    The box spans the central 80% of ``duration_h``; the best dip (negative amplitude, largest
    chi2 improvement) is returned with its S/N = sqrt(delta chi2).
    """
    v = curve.valid
    t = time_h[v]
    sw = 1.0 / curve.flux_err[v]
    a = basis[v] * sw[:, None]
    y = curve.flux[v] * sw
    q, _ = np.linalg.qr(a)
    y_res = y - q @ (q.T @ y)
    half = 0.4 * duration_h
    step = min(0.02, (t.max() - t.min()) / 300.0)
    grid = np.arange(t.min() + 0.5 * half, t.max() - 0.5 * half + 1e-9, step)
    if grid.size == 0:
        grid = np.array([0.5 * (t.min() + t.max())])
    box = (np.abs(t[:, None] - grid[None, :]) < half).astype(np.float64) * sw[:, None]
    box_res = box - q @ (q.T @ box)
    norm = np.einsum("ij,ij->j", box_res, box_res)
    amp = np.where(norm > 0, box_res.T @ y_res / np.where(norm > 0, norm, 1.0), 0.0)
    dchi2 = np.where(amp < 0, amp * amp * norm, 0.0)
    best = int(np.argmax(dchi2))
    return Detection(float(grid[best]), float(-amp[best]), float(np.sqrt(dchi2[best])))


def impact_starts(prior_impact: float, n_starts: int) -> list[float]:
    """Impact parameters the geometry optimiser starts from: the star-info value, then the
    midpoints of ``n_starts - 1`` equal slices of 0..1 (b is uniform there for transiting
    orbits of random orientation)."""
    n_more = max(0, n_starts - 1)
    return [float(prior_impact)] + [(i + 0.5) / n_more for i in range(n_more)]


def _curve_bases(basis: np.ndarray | Sequence[np.ndarray], n_curves: int) -> list[np.ndarray]:
    if isinstance(basis, np.ndarray):
        return [basis] * n_curves
    bases = list(basis)
    if len(bases) != n_curves:
        raise ValueError(f"expected {n_curves} drift bases, found {len(bases)}")
    return bases


def fit_geometry(
    time_h: np.ndarray,
    curves: Sequence[WhiteCurve],
    basis: np.ndarray | Sequence[np.ndarray],
    prior: GeometryPrior,
    t0_init_h: float,
    depth_init: float,
    n_starts: int = 3,
    exposure_h: float = 0.0,
    supersample: int = 1,
    ld_priors: Sequence[LimbDarkeningPrior | None] | None = None,
    start: np.ndarray | None = None,
) -> GeometryFit:
    """Joint bounded least-squares fit of the geometry to ``curves`` (see module docstring).

    Parameters: [t0 (h), a/R*, b] + [rp/R*, q1, q2] per curve, with Kipping's (q1, q2) in the
    unit square (every physical quadratic law, :mod:`.limb_darkening`) and a Gaussian prior on
    (u1, u2) per curve where ``ld_priors`` gives one. ``basis``: one (n, p) drift basis for all
    curves or one per curve. ``start``: a previous solution's parameter vector (one start from
    there instead of ``n_starts``). Raises ``RuntimeError`` when no start gives a finite solution.
    """
    if not curves:
        raise RuntimeError("no valid white light curve")
    bases = _curve_bases(basis, len(curves))
    ld_priors = list(ld_priors) if ld_priors is not None else [None] * len(curves)
    sqrt_ws = [np.where(c.valid, 1.0 / np.where(c.valid, c.flux_err, 1.0), 0.0) for c in curves]
    fluxes = [np.where(c.valid, c.flux, 0.0) for c in curves]
    t_lo, t_hi = float(np.nanmin(time_h)), float(np.nanmax(time_h))
    a_lo, a_hi = max(1.5, 0.25 * prior.a_over_rs), 4.0 * prior.a_over_rs
    lower = np.array([t_lo, a_lo, 0.0] + [0.005, 0.0, 0.0] * len(curves))
    upper = np.array([t_hi, a_hi, 1.3] + [0.5, 1.0, 1.0] * len(curves))
    k0 = float(np.clip(math.sqrt(max(depth_init, 1e-5)), 0.01, 0.45))

    def curve_ld(theta: np.ndarray, i: int) -> tuple[float, float]:
        return u_from_q(theta[4 + 3 * i], theta[5 + 3 * i])

    def residuals(theta: np.ndarray) -> np.ndarray:
        geometry = TransitGeometry.from_impact(theta[0], prior.period_days, theta[1], theta[2])
        curve_model = TransitCurve(time_h, geometry, exposure_h, supersample)
        parts = []
        for i, (flux, sw, b) in enumerate(zip(fluxes, sqrt_ws, bases, strict=True)):
            u1, u2 = curve_ld(theta, i)
            _, res = weighted_projection(b, curve_model.flux(theta[3 + 3 * i], u1, u2), flux, sw)
            parts.append(res)
            if ld_priors[i] is not None:
                parts.append(ld_priors[i].residuals(u1, u2))
        parts.append(
            np.array(
                [
                    (theta[1] - prior.a_over_rs) / prior.a_sigma,
                    (theta[2] - prior.impact) / prior.impact_sigma,
                ]
            )
        )
        return np.concatenate(parts)

    if start is not None:
        starts = [np.asarray(start, dtype=np.float64)]
    else:
        q_start = []
        for p in ld_priors:
            q_start += [k0, *(p.q_start if p is not None else (0.5, 0.5))]  # square centre
        starts = [
            np.array([t0_init_h, prior.a_over_rs, b0, *q_start])
            for b0 in impact_starts(prior.impact, n_starts)
        ]
    best = None
    n_eval = 0
    for x0 in starts:
        x0 = np.clip(x0, lower + 1e-9, upper - 1e-9)
        try:
            result = least_squares(
                residuals, x0, bounds=(lower, upper), x_scale="jac", method="trf", max_nfev=300
            )
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as err:
            log.debug("geometry start b0=%.2f failed: %s", x0[2], err)
            continue
        n_eval += int(result.nfev)
        if np.all(np.isfinite(result.x)) and np.isfinite(result.cost):
            if best is None or result.cost < best.cost:
                best = result
    if best is None:
        raise RuntimeError("geometry optimizer found no finite solution")

    theta = best.x
    geometry = TransitGeometry.from_impact(theta[0], prior.period_days, theta[1], theta[2])
    if prior.inc_above_90:
        geometry = TransitGeometry(
            geometry.t0_h, geometry.period_days, geometry.a_over_rs, 180.0 - geometry.inc_deg
        )
    curve_model = TransitCurve(time_h, geometry, exposure_h, supersample)
    chi2s, dofs, rmss = [], [], []
    for i, (c, flux, sw, b) in enumerate(zip(curves, fluxes, sqrt_ws, bases, strict=True)):
        u1, u2 = curve_ld(theta, i)
        _, res = weighted_projection(b, curve_model.flux(theta[3 + 3 * i], u1, u2), flux, sw)
        chi2s.append(float(res @ res))
        dofs.append(max(int(c.valid.sum()) - b.shape[1] - 3, 1))
        rmss.append(float(np.sqrt(np.mean((res[c.valid] * c.flux_err[c.valid]) ** 2))) * 1e6)
    chi2_red = sum(chi2s) / max(sum(dofs) - 3, 1)
    # Marginal errors: the covariance of every parameter (geometry, rp/R*, limb darkening within
    # its prior) from the Jacobian at the optimum, scaled by the reduced chi2 when above 1.
    # Conditional depth errors: rp/R* alone, everything else held at the optimum.
    jac = best.jac
    scale = max(chi2_red, 1e-2)
    try:
        cov = np.linalg.pinv(jac.T @ jac) * scale
        errs = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        errs = np.full(theta.size, np.nan)
    fits = []
    for i, c in enumerate(curves):
        k = float(theta[3 + 3 * i])
        u1, u2 = curve_ld(theta, i)
        column = jac[:, 3 + 3 * i]
        k_err_conditional = (
            math.sqrt(scale / float(column @ column)) if column @ column > 0 else math.nan
        )
        fits.append(
            WhiteFit(
                c.name,
                k,
                u1,
                u2,
                chi2s[i] / dofs[i],
                rmss[i],
                depth_err=2.0 * k * float(errs[3 + 3 * i]),
                depth_err_conditional=2.0 * k * k_err_conditional,
            )
        )
    return GeometryFit(
        geometry=geometry,
        t0_err_h=float(errs[0]),
        a_err=float(errs[1]),
        impact_err=float(errs[2]),
        curves=tuple(fits),
        chi2_red=float(chi2_red),
        n_evaluations=n_eval,
        theta=theta.copy(),
    )


def prior_duration_h(prior: GeometryPrior, span_h: float, rp_over_rs: float = 0.1) -> float:
    """T14 [h] of the prior geometry; 45% of the observing span ``span_h`` [h] when the prior
    geometry does not transit or does not fit in the window."""
    geometry = TransitGeometry.from_impact(0.0, prior.period_days, prior.a_over_rs, prior.impact)
    duration = transit_duration_h(geometry, rp_over_rs)
    return duration if 0.02 * span_h < duration < span_h else 0.45 * span_h
