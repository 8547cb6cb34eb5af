"""Model-free fallback depths: in-transit vs out-of-transit flux ratio with a large sigma.

Used when a physical fit fails (optimizer error, non-finite or unphysical result) so that no
planet or channel is ever left without a finite depth and uncertainty.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# Mean and std of all train.csv label values (FORMAT.md section 4): the naive prediction,
# the last resort when even the flux ratio is undefined.
NAIVE_DEPTH = 0.0146890
NAIVE_SIGMA = 0.0106613
# A fallback depth is a crude estimate (no limb darkening, no drift): never quote less than this.
FALLBACK_SIGMA_FLOOR = 1e-3
FALLBACK_SIGMA_SCALE = 5.0


class VisitFailure(Exception):
    """A fit step found the visit unfittable: the visit falls back to flux-ratio depths.

    Carries the best mid-transit time ``t0_h`` and duration ``t14_h`` [h] known when it was
    raised, the window :func:`ratio_depth` measures in.
    """

    def __init__(self, message: str, t0_h: float, t14_h: float) -> None:
        super().__init__(message)
        self.t0_h = t0_h
        self.t14_h = t14_h


def ratio_depth(
    time_h: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray,
    valid: np.ndarray,
    t0_h: float,
    t14_h: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Depth 1 - median(in) / median(out) per channel.

    In transit is |t - t0| < T14/4 (the flat bottom, away from ingress/egress); out of transit is
    |t - t0| > 0.55 T14. Sigma = max(1e-3, 5 x the propagated standard error).

    Args:
        time_h: (n,) times [h]; flux, flux_err, valid: (n, m).
        t0_h: mid-transit [h]; t14_h: total duration [h].

    Returns:
        depth (m,), depth_err (m,): NaN where a side has fewer than 3 valid points.
    """
    dt = np.abs(time_h - t0_h)[:, None]
    inside = valid & (dt < 0.25 * t14_h)
    outside = valid & (dt > 0.55 * t14_h)
    f = np.where(valid, flux, np.nan)
    with np.errstate(all="ignore"), quiet_nan():
        f_in = np.nanmedian(np.where(inside, f, np.nan), axis=0)
        f_out = np.nanmedian(np.where(outside, f, np.nan), axis=0)
        n_in = inside.sum(axis=0)
        n_out = outside.sum(axis=0)
        s_in = np.nanstd(np.where(inside, f, np.nan), axis=0) / np.sqrt(np.maximum(n_in, 1))
        s_out = np.nanstd(np.where(outside, f, np.nan), axis=0) / np.sqrt(np.maximum(n_out, 1))
        depth = 1.0 - f_in / f_out
        err = np.sqrt((s_in / f_out) ** 2 + (f_in * s_out / f_out**2) ** 2)
    bad = (n_in < 3) | (n_out < 3) | ~np.isfinite(depth) | ~np.isfinite(err) | (f_out <= 0)
    depth = np.where(bad, np.nan, depth)
    err = np.where(bad, np.nan, np.maximum(FALLBACK_SIGMA_FLOOR, FALLBACK_SIGMA_SCALE * err))
    return depth, err


def fill_missing(
    depth: np.ndarray, depth_err: np.ndarray, fill_depth: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Replace non-finite depths by ``fill_depth`` (or :data:`NAIVE_DEPTH`) with NAIVE_SIGMA."""
    if fill_depth is None or not np.isfinite(fill_depth) or not 0 <= fill_depth < 0.25:
        fill_depth = NAIVE_DEPTH
    bad = ~np.isfinite(depth) | ~np.isfinite(depth_err) | (depth_err <= 0)
    return np.where(bad, fill_depth, depth), np.where(bad, NAIVE_SIGMA, depth_err)


@contextmanager
def quiet_nan() -> Iterator[None]:
    """Silence numpy's 'All-NaN slice' / 'Mean of empty slice' RuntimeWarnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
