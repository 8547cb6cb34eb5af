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

from spectramind.calibrate.state import Phase, VisitState
from spectramind.data.layout import AIRS

NAME = "extract"
PHASES = (Phase.IMAGES,)
REQUIRED = True  # no light curve without it: cannot be skipped


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


def point_to_point_error(flux: np.ndarray) -> np.ndarray:
    """1-sigma scatter of each channel from successive-bin differences, (n_bins, n_ch).

    The transit and drifts are smooth on the bin scale, so the differences of neighbouring
    bins carry only the noise: sigma = 1.4826 MAD(diff) / sqrt(2) (robust to a few outliers).
    The same value is given to every bin of a channel.
    """
    diff = np.diff(flux, axis=0)
    mad = np.median(np.abs(diff - np.median(diff, axis=0)), axis=0)
    sigma = 1.4826 * mad / np.sqrt(2.0)
    return np.broadcast_to(sigma, flux.shape).copy()


def references(params: Params) -> tuple[str, ...]:
    return ("read",) if params.weights == "optimal" else ()


def run(state: VisitState, params: Params) -> VisitState:
    """``state.flux`` (n_bins, 283): FGS aperture total, then the AIRS columns in ascending
    wavelength; ``state.flux_err`` its point-to-point scatter."""
    trace, _ = state.airs_trace()
    fgs_ap, _ = state.fgs_aperture()
    weights = None
    if params.weights == "optimal":
        rows, _ = state.selection[AIRS.name].aperture_slices
        weights = optimal_weights(trace.mean(axis=0), state.read_noise[AIRS.name][rows])
    airs_flux = extract(trace, weights)  # (n_bins, cols) descending wavelength
    state.flux = np.column_stack([white(fgs_ap), airs_flux[:, ::-1]])
    state.flux_err = point_to_point_error(state.flux)
    return state
