"""The drift model chosen by the data: cross-validated polynomial degree and start-up ramp.

A fixed drift model is a guess about the instrument's systematics (how fast the gain drifts,
whether the detector settles after the visit starts). Here it is chosen per light curve by
K-fold cross-validation among candidates: Legendre polynomials in time of degree
0..``max_degree``, each with or without an exponential ramp exp(-(t - t_first) / tau) whose
time constant tau is one of a few fractions of the visit (from a few bins, below which a ramp
is unresolvable, to a quarter of the visit, beyond which it is a polynomial). The visit is cut
into contiguous time chunks, chunks are dealt round-robin to K folds, and each candidate drift
(with the jitter regressors, multiplying the transit model; the model's depth and limb
darkening free to first order) is fitted on K - 1 folds and scored by the weighted squared
error of its prediction on the held fold. Chunks longer
than a bin keep correlated (red) noise inside one fold, so the score rewards a drift that
predicts unseen stretches of the light curve rather than one that follows the noise; the
simplest candidate whose score is within one standard error of the best wins (the usual
one-standard-error rule over the number of parameters, a ramp counting two; candidates of
equal size compete on score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.physics.lightcurves import drift_basis

# Ramp time constants as fractions of the visit's span: 12 steps of x1.5 from 0.5 % to 43 %.
RAMP_FRACTIONS = tuple(0.005 * 1.5**i for i in range(12))


@dataclass(frozen=True)
class DriftSelection:
    """Chosen degree and ramp time constant [h] (None: no ramp), and the cross-validation score
    (mean held-out chi2 per point) of every candidate ``(degree, ramp_tau_h)``."""

    degree: int
    ramp_tau_h: float | None
    candidates: tuple[tuple[int, float | None], ...]
    scores: tuple[float, ...]
    regressor_order: int = 1

    def basis(self, time_h: np.ndarray, regressors: np.ndarray | None) -> np.ndarray:
        return drift_basis(time_h, regressors, self.degree, self.ramp_tau_h, self.regressor_order)


def drift_candidates(
    time_h: np.ndarray, max_degree: int, ramps: bool = True
) -> list[tuple[int, float | None]]:
    """Candidate (degree, ramp tau [h]) pairs, simplest first (see module docstring)."""
    finite = time_h[np.isfinite(time_h)]
    span = float(np.ptp(finite)) if finite.size > 1 else 0.0
    step = float(np.median(np.diff(np.sort(finite)))) if finite.size > 1 else 0.0
    taus = [f * span for f in sorted(RAMP_FRACTIONS, reverse=True) if f * span > 2.0 * step]
    out: list[tuple[int, float | None]] = []
    for degree in range(max(0, int(max_degree)) + 1):
        out.append((degree, None))
        if ramps:
            out += [(degree, tau) for tau in taus]
    return out


def select_drift_degree(
    time_h: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray,
    valid: np.ndarray,
    model: np.ndarray,
    regressors: np.ndarray | None,
    max_degree: int,
    n_folds: int = 5,
    n_chunks: int = 20,
    ramps: bool = True,
    transit_columns: np.ndarray | None = None,
    regressor_order: int = 1,
) -> DriftSelection:
    """Cross-validated drift for one light curve (see module docstring).

    Args:
        time_h, flux, flux_err, valid, model: (n,) times [h], flux, its 1-sigma error, usable
            points and the transit model (relative flux) of the current geometry.
        regressors: (n, k) jitter regressors (or None), in every candidate basis.
        max_degree: the largest polynomial degree; ramps: also try start-up ramps.
        regressor_order: 2 adds the regressors' squares and products to every candidate.
        transit_columns: (n, q) derivatives of the transit model with respect to its free
            parameters (depth, limb darkening), fitted with every candidate so the drift is not
            chosen for making up for the model's errors; None: the depth alone (model - 1).
    """
    candidates = drift_candidates(time_h, max_degree, ramps)
    use = valid & np.isfinite(flux) & np.isfinite(flux_err) & (flux_err > 0) & np.isfinite(model)
    order = np.argsort(time_h, kind="stable")
    chunk = np.empty(time_h.size, dtype=np.int64)
    chunk[order] = np.arange(time_h.size) * n_chunks // max(time_h.size, 1)
    fold = chunk % n_folds
    sw = np.where(use, 1.0 / np.where(use, flux_err, 1.0), 0.0)
    extra = (model - 1.0)[:, None] if transit_columns is None else np.asarray(transit_columns)
    extra = np.where(np.isfinite(extra), extra, 0.0)
    per_chunk = np.full((len(candidates), n_chunks), np.nan)
    n_columns = []
    for index, (degree, tau) in enumerate(candidates):
        basis = drift_basis(time_h, regressors, degree, tau, regressor_order)
        # a ramp costs two parameters: its amplitude and its time constant (chosen here too)
        n_columns.append(basis.shape[1] + (tau is not None))
        design = np.column_stack([basis * model[:, None], extra]) * sw[:, None]
        target = flux * sw
        for f in range(n_folds):
            train = use & (fold != f)
            test = use & (fold == f)
            if train.sum() <= basis.shape[1] + 2 or not test.any():
                continue
            coef, *_ = np.linalg.lstsq(design[train], target[train], rcond=None)
            err2 = (target - design @ coef) ** 2
            for c in np.unique(chunk[test]):
                here = test & (chunk == c)
                per_chunk[index, c] = float(err2[here].mean())
    with np.errstate(all="ignore"):
        scores = np.nanmean(np.where(np.isfinite(per_chunk), per_chunk, np.nan), axis=1)
    if not np.any(np.isfinite(scores)):
        # Nothing to cross-validate: keep the most flexible polynomial.
        return DriftSelection(int(max_degree), None, tuple(candidates), (), regressor_order)
    scores = np.where(np.isfinite(scores), scores, np.inf)
    best = int(np.argmin(scores))
    # One-standard-error rule over model sizes: for each number of columns its best candidate
    # (ramp time constants compete on score alone), then the smallest size whose per-chunk
    # excess over the overall best is within its standard error.
    chosen = best
    for size in sorted(set(n_columns)):
        index = min(
            (i for i in range(len(candidates)) if n_columns[i] == size), key=lambda i: scores[i]
        )
        if index == best:
            break
        diff = per_chunk[index] - per_chunk[best]
        diff = diff[np.isfinite(diff)]
        if diff.size >= 2 and diff.mean() <= diff.std(ddof=1) / np.sqrt(diff.size):
            chosen = index
            break
    degree, tau = candidates[chosen]
    return DriftSelection(
        degree, tau, tuple(candidates), tuple(float(v) for v in scores), regressor_order
    )
