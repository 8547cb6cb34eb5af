"""Hot and dead pixel masking, and filling of masked pixels after binning.

Hot pixels: a sigma clip of the dark map (the starter notebook uses astropy's
``sigma_clip(dark, sigma=5, maxiters=5)``: median centre, standard deviation, iterate until
nothing changes). Dead pixels come from ``dead.parquet``.

Masked pixels must not leak into the light curves. Two fills are offered:

- ``interpolate`` (default): after binning, each masked pixel is replaced by linear
  interpolation along the spectral axis from the nearest good pixels of the same row (the
  trace profile is smooth in wavelength, so this keeps the column's share of the PSF); a row
  with no good pixel at all is filled from the neighbouring rows of the same column.
- ``zero``: masked pixels contribute nothing (the starter notebook's numpy masked arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import InstrumentState, Phase

NAME = "mask"
PHASES = (Phase.MAPS,)


@dataclass(frozen=True)
class Params:
    hot_sigma: float = 5.0  # clip threshold on the dark map [standard deviations]
    hot_maxiters: int = 5  # sigma-clip iterations (astropy default)
    mask_hot: bool = True
    mask_dead: bool = True
    fill: str = "interpolate"  # "interpolate" or "zero"
    max_masked_fraction: float = 0.25  # flag a channel whose extraction pixels are more masked


def sigma_clip_mask(values: np.ndarray, sigma: float, maxiters: int) -> np.ndarray:
    """Iterative sigma clip: True where a value lies further than ``sigma`` std from the median.

    Args:
        values: any-shape float array (e.g. the (rows, cols) dark map [counts/s]).

    Returns:
        bool array of ``values``' shape.
    """
    clipped = ~np.isfinite(values)
    for _ in range(maxiters):
        kept = values[~clipped]
        if kept.size == 0:
            break
        centre = np.median(kept)
        spread = kept.std()
        new = clipped | (np.abs(values - centre) > sigma * spread)
        if np.array_equal(new, clipped):
            break
        clipped = new
    return clipped


def bad_pixel_map(dark: np.ndarray, dead: np.ndarray, params: Params) -> np.ndarray:
    """(rows, cols) bool: hot (sigma-clipped dark) or dead pixels, as the params select."""
    bad = np.zeros(dark.shape, dtype=bool)
    if params.mask_hot:
        bad |= sigma_clip_mask(dark, params.hot_sigma, params.hot_maxiters)
    if params.mask_dead:
        bad |= dead.astype(bool)
    return bad


def _plan_along_rows(bad: np.ndarray) -> tuple[np.ndarray, ...]:
    """Interpolation plan along the last axis of a (rows, cols) mask.

    For every masked pixel whose row has a good pixel: its row, column, the nearest good
    column on each side and the linear weight of the right one (one-sided ends copy the
    nearest good value). Vectorised with running index maxima: no Python loop over pixels.

    Returns:
        (row, col, left, right, frac) 1-D arrays over the fillable masked pixels.
    """
    n = bad.shape[-1]
    idx = np.arange(n)
    good = ~bad
    left = np.maximum.accumulate(np.where(good, idx, -1), axis=-1)
    right = np.minimum.accumulate(np.where(good, idx, n)[:, ::-1], axis=-1)[:, ::-1]
    row, col = np.nonzero(bad & good.any(axis=-1, keepdims=True))
    lk, rk = left[row, col], right[row, col]
    both = (lk >= 0) & (rk < n)
    frac = np.where(both, (col - lk) / np.where(both, rk - lk, 1), 0.0)
    lk = np.where(lk >= 0, lk, rk)  # one-sided: copy the only neighbour
    rk = np.where(rk < n, rk, lk)
    return row, col, lk, rk, frac


def fill_masked(cube: np.ndarray, bad: np.ndarray, fill: str) -> np.ndarray:
    """Fill masked pixels of binned images in place.

    Args:
        cube: (n_bins, rows, cols) float binned images, modified in place.
        bad: (rows, cols) bool, True = masked (the same for every bin).
        fill: ``"interpolate"`` or ``"zero"``.

    Returns:
        (rows, cols) bool, pixels filled across rows because their whole row was masked.
    """
    row_filled = np.zeros(bad.shape, dtype=bool)
    if not bad.any():
        return row_filled
    if fill == "zero":
        cube[:, bad] = 0.0
        return row_filled
    if fill != "interpolate":
        raise ValueError(f"mask.fill: expected 'interpolate' or 'zero', found {fill!r}")
    row, col, lk, rk, frac = _plan_along_rows(bad)
    cube[:, row, col] = cube[:, row, lk] * (1.0 - frac) + cube[:, row, rk] * frac
    row_empty = bad & bad.all(axis=-1, keepdims=True)
    if row_empty.any():
        # Whole rows masked: interpolate the same column across the neighbouring rows.
        c, r, lk, rk, frac = _plan_along_rows(row_empty.T)
        cube[:, r, c] = cube[:, lk, c] * (1.0 - frac) + cube[:, rk, c] * frac
        row_filled = row_empty
    return row_filled


def references(params: Params) -> tuple[str, ...]:
    return ("dark", "dead")


def run(state: InstrumentState, params: Params) -> InstrumentState:
    """Add the hot (sigma-clipped dark) and dead pixels of the window to the bad-pixel mask.

    Masked pixels are filled after binning by the pipeline (with ``params.fill``), whatever
    masked them (this step, an invalid flat, or frames rejected in every frame of a bin).
    """
    state.bad |= bad_pixel_map(state.maps.dark, state.maps.dead, params)
    return state
