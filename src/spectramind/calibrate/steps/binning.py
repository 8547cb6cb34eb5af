"""Time binning of CDS frames onto a grid shared by AIRS and FGS.

Bins hold a whole number of CDS frames (AIRS 4.8 s, FGS 0.4 s), e.g. 5 AIRS = 60 FGS = 24 s
(default) or the starter notebook's 30 / 360 = 144 s. Frames flagged bad (cosmic ray,
saturation) are excluded; the bin value is the mean of the good frames (``statistic="mean"``)
or that mean times the bin size (``"sum"``, the notebook's sum-binning, equal to the plain sum
when no frame is flagged). A pixel-bin with no good frame is returned as masked.
Trailing frames that do not fill a bin are dropped, as in the notebook (11250 AIRS reads
= 5625 CDS -> 187 bins of 30).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import FrameBlock, Phase, VisitState
from spectramind.data.layout import AXIS_INFO_PARQUET

NAME = "bin"
# CDS: bin the frames; IMAGES: the bin-centre times.
PHASES = (Phase.CDS, Phase.IMAGES)
REQUIRED = True  # no light curve without it: cannot be skipped


@dataclass(frozen=True)
class Params:
    airs_cds_per_bin: int = 5  # AIRS CDS frames per bin (4.8 s each)
    fgs_cds_per_bin: int = 60  # FGS CDS frames per bin (0.4 s each)
    statistic: str = "mean"  # "mean" or "sum"


def bin_frames(
    frames: np.ndarray, bad: np.ndarray | None, size: int, statistic: str
) -> tuple[np.ndarray, np.ndarray]:
    """Bin (n, n_pixels) frames, n a multiple of ``size``.

    The good frames of a bin are added in float64 in time order (a fixed order, so the fused
    kernel reproduces it bit for bit); ``mean`` divides by their number, ``sum`` is that total
    when no frame was excluded and the mean times ``size`` otherwise.

    Args:
        frames: (n, n_pixels) float CDS frames.
        bad: (n, n_pixels) bool frames to exclude, or None.
        size: frames per bin.
        statistic: "mean" or "sum".

    Returns:
        (binned (n // size, n_pixels) float64, empty (n // size, n_pixels) bool where a
        pixel-bin had no good frame; its value is 0).
    """
    n, p = frames.shape
    nb = n // size
    shaped = frames[: nb * size].reshape(nb, size, p)
    good = (
        np.ones((nb, size, p), dtype=bool)
        if bad is None
        else ~bad[: nb * size].reshape(nb, size, p)
    )
    total = np.zeros((nb, p))
    for k in range(size):
        total += np.where(good[:, k], shaped[:, k], 0)
    count = good.sum(axis=1)
    mean = total / np.maximum(count, 1)
    if statistic == "sum":
        binned = np.where(count == size, total, mean * size)
    else:
        binned = mean
    return binned, count == 0


def bin_times(frame_times_h: np.ndarray, size: int, n_bins: int) -> np.ndarray:
    """Bin-centre times [h]: mean of all read times (start and end) in each bin, (n_bins,)."""
    reads = 2 * size
    return frame_times_h[: n_bins * reads].reshape(n_bins, reads).mean(axis=1)


def references(params: Params) -> tuple[str, ...]:
    return (AXIS_INFO_PARQUET,)


def run(state: FrameBlock | VisitState, params: Params) -> FrameBlock | VisitState:
    """CDS: ``binned``/``empty`` of the block. IMAGES: ``time_h`` from the AIRS read times,
    relative to the first read [h]."""
    if isinstance(state, FrameBlock):
        state.binned, state.empty = bin_frames(
            state.values, state.rejected, state.size, params.statistic
        )
        return state
    times = state.axis.airs_time_h
    state.time_h = bin_times(times, params.airs_cds_per_bin, state.n_bins) - times[0]
    return state
