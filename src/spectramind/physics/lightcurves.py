"""Calibrated visit light curves (docs/CONTRACTS.md "Calibrated visit file") and drift bases.

A visit holds one time grid shared by the FGS1 white flux (column 0) and the 282 AIRS channels
(columns 1..282, ascending wavelength), i.e. the 283 target wavelengths wl_1..wl_283.
"""

from __future__ import annotations

import numpy as np

from spectramind.artifacts.calibrated import CalibratedVisit


def valid_bins(lc: CalibratedVisit, bad_quality_bits: int) -> np.ndarray:
    """(n_bins, 283) bool: finite time, flux and a positive finite error, channel quality good."""
    ok = np.isfinite(lc.flux) & np.isfinite(lc.flux_err) & (lc.flux_err > 0)
    ok &= np.isfinite(lc.time_h)[:, None]
    ok &= ((lc.quality.astype(np.int64) & int(bad_quality_bits)) == 0)[None, :]
    return ok


def legendre_time(time_h: np.ndarray) -> np.ndarray:
    """Times mapped to x in [-1, 1] over the finite range of ``time_h`` (n,)."""
    finite = np.isfinite(time_h)
    t_min, t_max = np.min(time_h[finite]), np.max(time_h[finite])
    span = t_max - t_min if t_max > t_min else 1.0
    return np.where(finite, 2.0 * (time_h - t_min) / span - 1.0, 0.0)


def _standardised(col: np.ndarray) -> np.ndarray | None:
    """Zero mean, unit std over the finite values (non-finite -> 0); None when (near) constant
    or finite fewer than 3 times."""
    finite = np.isfinite(col)
    if finite.sum() < 3:
        return None
    std = np.std(col[finite])
    if not np.isfinite(std) or std <= 1e-12 * max(1.0, np.abs(col[finite]).max()):
        return None
    return np.where(finite, (col - np.mean(col[finite])) / std, 0.0)


def drift_basis(
    time_h: np.ndarray,
    regressors: np.ndarray | None,
    degree: int,
    ramp_tau_h: float | None = None,
    regressor_order: int = 1,
) -> np.ndarray:
    """Multiplicative-drift design matrix (n, degree + 1 [+ 1] + k').

    Columns: Legendre polynomials P_0..P_degree of the scaled time, then (``ramp_tau_h``
    given) an exponential ramp exp(-(t - t_first) / tau) at the visit start, then the regressors
    that are finite somewhere and not constant, standardised (zero mean, unit std; non-finite
    -> 0), and with ``regressor_order`` 2 also their squares and pairwise products
    (standardised): a pointing offset moves flux out of an aperture or extraction window in
    proportion to its square at lowest order, since a centred PSF loses flux whichever way it
    moves. The drift is ``basis @ c`` and multiplies the transit model.
    """
    x = legendre_time(time_h)
    columns = [np.polynomial.legendre.legval(x, np.eye(degree + 1)[d]) for d in range(degree + 1)]
    if ramp_tau_h is not None and ramp_tau_h > 0:
        finite = np.isfinite(time_h)
        start = np.min(time_h[finite]) if finite.any() else 0.0
        since = np.where(finite, time_h - start, 0.0)
        columns.append(np.exp(-since / ramp_tau_h))
    if regressors is not None:
        linear = [
            c
            for c in map(_standardised, np.asarray(regressors, dtype=np.float64).T)
            if c is not None
        ]
        columns += linear
        if regressor_order >= 2:
            for i in range(len(linear)):
                for j in range(i, len(linear)):
                    product = _standardised(linear[i] * linear[j])
                    if product is not None:
                        columns.append(product)
    return np.column_stack(columns)
