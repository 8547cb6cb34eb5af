"""Spectral extraction: sum the trace rows of each column (and the FGS aperture).

``weights="uniform"`` is the plain sum over the trace rows. ``"optimal"`` weights each pixel by
P / V with P the time-mean spatial profile of its column (normalised to sum 1 over the trace
rows) and V = P F + r^2 its variance (photon plus read noise, F the column's mean flux, r the
read-noise map), and returns sum(w x) / sum(w P): an unbiased estimate of the same column
total that gives the faint wings less weight (Horne 1986, PASP 98, 609).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAME = "extract"


@dataclass(frozen=True)
class Params:
    # None = located in each visit's data (see :mod:`.locate`); a value fixes it.
    airs_rows: tuple[int, int] | None = None  # detector rows of the trace [start, stop)
    weights: str = "uniform"  # "uniform" or "optimal"
    fgs_rows: tuple[int, int] | None = None  # FGS aperture rows [start, stop) (detector rows)
    fgs_cols: tuple[int, int] | None = None  # FGS aperture columns [start, stop)


def optimal_weights(mean_image: np.ndarray, read_noise: np.ndarray) -> np.ndarray:
    """Horne weights P / V normalised per column, from (rows, cols) time-mean trace images.

    Args:
        mean_image: (rows, cols) time-mean trace rows [counts per CDS frame].
        read_noise: (rows, cols) read noise per read [counts]; a CDS frame has two reads.

    Returns:
        (rows, cols) weights, each column normalised so that sum(w P) = 1.
    """
    positive = np.clip(mean_image, 0, None)
    column_total = positive.sum(axis=0, keepdims=True)
    column_total = np.where(column_total > 0, column_total, 1.0)
    profile = positive / column_total
    variance = positive + 2.0 * read_noise**2
    w = profile / np.where(variance > 0, variance, 1.0)
    norm = (w * profile).sum(axis=0, keepdims=True)
    return w / np.where(norm > 0, norm, 1.0)


def extract(cube: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Column totals of (n_bins, rows, cols) trace images -> (n_bins, cols).

    ``weights`` (rows, cols) from :func:`optimal_weights`, or None for the plain sum.
    """
    if weights is None:
        return cube.sum(axis=1)
    return np.einsum("brc,rc->bc", cube, weights)


def white(cube: np.ndarray) -> np.ndarray:
    """Total of (n_bins, rows, cols) images per bin -> (n_bins,)."""
    return cube.sum(axis=(1, 2))
