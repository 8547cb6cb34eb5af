"""Cosmic-ray rejection in each pixel's CDS time series.

A cosmic ray adds charge to one ramp, so it shows as a positive spike in one CDS frame. The
spike is measured against the mean of the two neighbouring frames (one neighbour at the ends),
and a frame is flagged when the spike exceeds ``nsigma`` robust standard deviations of that
pixel's spikes in the block (1.4826 x median absolute spike). Only positive spikes are flagged:
the neighbours of a hit see a negative spike and must stay. Flagged frames are excluded from
their time bin (see :mod:`.bin`), never replaced by an invented value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import FrameBlock, Phase

NAME = "cosmic"
PHASES = (Phase.CDS,)


@dataclass(frozen=True)
class Params:
    nsigma: float = 20.0  # detection threshold [robust standard deviations]
    max_flagged_fraction: float = 0.01  # flag a channel with more rejected pixel-frames
    scale_stride: int = 4  # robust scale from every n-th frame of a block (speed; >= 1)


def flag(cds_frames: np.ndarray, nsigma: float, scale_stride: int = 1) -> np.ndarray:
    """Flag cosmic-ray hits.

    Args:
        cds_frames: (n, n_pixels) float CDS frames of one time block (n >= 3).
        nsigma: threshold [robust standard deviations].
        scale_stride: estimate the scale from every ``scale_stride``-th spike (the median is
            the costly part; 1/4 of ~400 frames still gives a scale good to a few percent).

    Returns:
        (n, n_pixels) bool, True where a frame is hit.
    """
    n = cds_frames.shape[0]
    if n < 3:
        return np.zeros(cds_frames.shape, dtype=bool)
    spike = np.empty_like(cds_frames)
    spike[1:-1] = cds_frames[1:-1] - 0.5 * (cds_frames[:-2] + cds_frames[2:])
    spike[0] = cds_frames[0] - cds_frames[1]
    spike[-1] = cds_frames[-1] - cds_frames[-2]
    # 1.4826 * MAD is the Gaussian std; the spike of the central difference has std
    # sqrt(1.5) sigma, the threshold is applied to the spike itself so this cancels.
    sample = np.abs(spike[:: max(1, scale_stride)])
    scale = 1.4826 * np.median(sample, axis=0)
    return spike > (nsigma * scale)[None, :]


def references(params: Params) -> tuple[str, ...]:
    return ()


def run(block: FrameBlock, params: Params) -> FrameBlock:
    """Add the block's cosmic-ray hits to its rejected frames (counting each frame once)."""
    hits = flag(block.values, params.nsigma, params.scale_stride)
    if block.rejected is not None:
        hits &= ~block.rejected  # count saturation once
    block.n_cosmic += hits.sum(axis=0)
    block.rejected = hits if block.rejected is None else (block.rejected | hits)
    return block
