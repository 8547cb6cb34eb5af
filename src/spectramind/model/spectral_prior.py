"""A spectral prior learned from the train labels, and the Gaussian posterior it gives.

Transmission spectra are smooth and made of a few shapes (a continuum level, a scattering
slope, molecular bands), so the 283 depths of a planet are far from independent. The prior is
a Gaussian over whole spectra learned from the train labels y (n, W) [ppm]:

    y ~ N(mean, V diag(lambda) V^T + diag(psi))

with V (K, W) the leading principal directions of the centred labels, lambda their variances
and psi (W,) the variance the K directions leave, measured out of fold (each label projected on
directions learned without it), so psi is what a *new* planet's spectrum leaves, not the
smaller in-sample residual. K is the fewest directions whose out-of-fold likelihood (labels
held out, scored under the prior learned without them) is within one standard error of the
best. Nothing about the spectra's generator is assumed beyond what the labels show.

Given a planet's measured depths d (W,) with noise covariance N = diag(v) + u u^T (independent
per-channel noise v and a common mode u shared by all wavelengths), the posterior is

    m = mean + C (C + N)^-1 (d - mean),    S = C - C (C + N)^-1 C

(C the prior covariance). Where the spectrum is smooth the prior pools the channels and the
posterior error per channel falls below the independent-noise limit; where the labels show
structure the directions carry it; psi keeps what they miss honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Planets per batched solve: a (B, W, W) float64 stack is B x 0.64 MB.
_BATCH = 64


@dataclass(frozen=True)
class SpectralPrior:
    """Gaussian prior over spectra [ppm]: mean (W,), components (K, W) orthonormal rows,
    variances (K,) along them [ppm^2] and the residual variance psi (W,) [ppm^2]."""

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    residual_variance: np.ndarray

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def covariance(self) -> np.ndarray:
        """(W, W) prior covariance [ppm^2]."""
        low_rank = (self.components.T * self.variances) @ self.components
        return low_rank + np.diag(self.residual_variance)

    def to_dict(self) -> dict[str, list[float] | list[list[float]]]:
        """Plain lists (a checkpoint loadable with ``weights_only=True``)."""
        return {
            "mean": self.mean.tolist(),
            "components": self.components.tolist(),
            "variances": self.variances.tolist(),
            "residual_variance": self.residual_variance.tolist(),
        }

    @classmethod
    def from_dict(cls, values: dict) -> SpectralPrior:
        width = len(values["mean"])
        return cls(
            np.asarray(values["mean"], dtype=np.float64),
            np.asarray(values["components"], dtype=np.float64).reshape(-1, width),
            np.asarray(values["variances"], dtype=np.float64),
            np.asarray(values["residual_variance"], dtype=np.float64),
        )


def _principal(centred: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Leading ``k`` directions (k, W) and variances (k,) of centred rows (n, W)."""
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    # Fix each direction's sign (LAPACK's is arbitrary) so checkpoints are reproducible.
    signs = np.sign(vt[np.arange(vt.shape[0]), np.abs(vt).argmax(axis=1)])
    vt = vt * signs[:, None]
    return vt[:k], (s[:k] ** 2) / centred.shape[0]


def _folds(n: int, n_folds: int) -> np.ndarray:
    """Fold of each of n rows: interleaved, so every fold spans the whole id range."""
    return np.arange(n) % n_folds


def _one_standard_error(nll: np.ndarray) -> int:
    """Fewest directions whose held-out score (K, n) is within one standard error of the best.

    Directions learned from noise still remove a sliver of any held-out spectrum by chance; the
    rule keeps only those whose gain stands out of the planet-to-planet scatter.
    """
    mean = nll.mean(axis=1)
    best = int(np.argmin(mean))
    for k in range(best):
        diff = nll[k] - nll[best]
        if diff.mean() <= diff.std(ddof=1) / np.sqrt(diff.size):
            return k
    return best


def _components(
    labels: np.ndarray, k: int, psi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (W,), directions (k, W) and their variances (k,) beyond the residual ``psi`` (W,)."""
    mean = labels.mean(axis=0)
    directions, spread = _principal(labels - mean, k)
    variances = np.maximum(spread - np.einsum("kw,w,kw->k", directions, psi, directions), 0.0)
    return mean, directions, variances


def _gaussian_nll(rows: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Negative log-likelihood (n,) of rows (n, W) under N(mean, cov), up to a constant."""
    chol = np.linalg.cholesky(cov)
    white = np.linalg.solve(chol, (rows - mean).T)  # (W, n)
    return 0.5 * np.sum(white**2, axis=0) + np.sum(np.log(np.diag(chol)))


def fit_spectral_prior(
    labels: np.ndarray,
    max_components: int = 20,
    n_folds: int = 5,
    residual_floor_ppm: float = 1.0,
) -> SpectralPrior:
    """Learn the prior from train labels (n, W) [ppm] (see module docstring).

    Args:
        max_components: the most principal directions considered (also capped by n).
        n_folds: folds for the out-of-fold choices (rows dealt round-robin, in the given order).
        residual_floor_ppm: lower bound of sqrt(psi) [ppm], so no wavelength is ever certain.
    """
    labels = np.asarray(labels, dtype=np.float64)
    n, width = labels.shape
    if n < 3:
        raise ValueError(f"a spectral prior needs at least 3 labelled planets, found {n}")
    n_folds = max(2, min(n_folds, n))
    fold = _folds(n, n_folds)
    n_inside = n - int(np.ceil(n / n_folds))
    k_max = max(0, min(max_components, n_inside - 2))
    floor = residual_floor_ppm**2
    # Out-of-fold residual of every label for every K, and every held-out label's likelihood
    # under the prior learned without it (in-fold residual corrected for the fitted degrees
    # of freedom).
    residual = np.empty((k_max + 1, n, width))
    nll = np.empty((k_max + 1, n))
    for f in range(n_folds):
        inside, held = labels[fold != f], labels[fold == f]
        mean = inside.mean(axis=0)
        directions, _ = _principal(inside - mean, k_max)
        for k in range(k_max + 1):
            basis = directions[:k]
            fitted = inside - mean
            in_residual = fitted - (fitted @ basis.T) @ basis
            dof = max(inside.shape[0] - k - 1, 1)
            psi = np.maximum(np.sum(in_residual**2, axis=0) / dof, floor)
            m, v, lam = _components(inside, k, psi)
            cov = (v.T * lam) @ v + np.diag(psi)
            nll[k, fold == f] = _gaussian_nll(held, m, cov)
            centred = held - mean
            residual[k, fold == f] = centred - (centred @ basis.T) @ basis
    k_best = _one_standard_error(nll)
    psi = np.maximum(np.mean(residual[k_best] ** 2, axis=0), floor)  # what a new planet leaves
    mean, directions, variances = _components(labels, k_best, psi)
    return SpectralPrior(mean, directions, variances, psi)


def posterior(
    prior: SpectralPrior,
    depth: np.ndarray,
    variance: np.ndarray,
    common: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation (n, W) [ppm] of spectra measured as ``depth``.

    Args:
        depth: (n, W) measured depths [ppm].
        variance: (n, W) independent per-channel noise variance [ppm^2].
        common: (n, W) common-mode noise vector u per planet [ppm] (noise covariance
            diag(variance) + u u^T); None: no common mode.
    """
    depth = np.asarray(depth, dtype=np.float64)
    cov = prior.covariance()  # (W, W)
    mean_out = np.empty_like(depth)
    std_out = np.empty_like(depth)
    for first in range(0, depth.shape[0], _BATCH):
        rows = slice(first, first + _BATCH)
        v = np.asarray(variance[rows], dtype=np.float64)  # (B, W)
        total = cov[None, :, :] + v[:, :, None] * np.eye(cov.shape[0])[None]  # (B, W, W)
        if common is not None:
            u = np.asarray(common[rows], dtype=np.float64)
            total = total + u[:, :, None] * u[:, None, :]
        # gain = C (C + N)^-1, from the symmetric solve (C + N) gain^T = C
        gain_t = np.linalg.solve(total, np.broadcast_to(cov, total.shape))  # (B, W, W)
        innovation = depth[rows] - prior.mean  # (B, W)
        mean_out[rows] = prior.mean + np.einsum("bkj,bk->bj", gain_t, innovation)
        # diag(C - C (C + N)^-1 C) = diag(C) - sum_k C_jk gain_t[k, j]
        reduction = np.einsum("jk,bkj->bj", cov, gain_t)
        std_out[rows] = np.sqrt(np.maximum(np.diag(cov)[None, :] - reduction, 1e-12))
    return mean_out, std_out
