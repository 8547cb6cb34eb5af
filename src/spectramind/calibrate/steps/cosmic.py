"""Cosmic-ray rejection in each pixel's CDS time series.

A cosmic ray adds charge to one ramp, so it shows as a positive spike in one CDS frame. The
spike is measured against the mean of the two neighbouring frames (one neighbour at the ends of
the visit), and a frame is flagged when the spike exceeds ``nsigma`` robust standard deviations
of that pixel's spikes in its time window (1.4826 x median absolute spike of about
``scale_samples`` frames evenly spread over the window). The windows split the visit into equal
parts of about ``window_cds`` frames, so the scale follows slow changes of the noise, and it
does not depend on how many pixels are processed together. The median is the costly part:
128 samples give the scale to about 10% (1.17 / sqrt(n)), i.e. a threshold between about 18
and 22 sigma at ``nsigma`` 20, far below the hits of cosmic rays (thousands of electrons).
Only positive spikes are flagged: the neighbours of a hit see a negative spike and must stay.
Flagged frames are excluded from their time bin (see :mod:`.binning`), never replaced by an
invented value.
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
    scale_samples: int = 128  # spikes per window for the robust scale (evenly spread; >= 1)
    window_cds: int = 4096  # CDS frames per robust-scale window (about; equal parts) [frames]


def windows(n: int, window: int) -> list[tuple[int, int]]:
    """[start, stop) of the equal time windows (about ``window`` frames) of ``n`` frames."""
    count = max(1, (n + window // 2) // max(1, window))
    return [(w * n // count, (w + 1) * n // count) for w in range(count)]


def flag(
    cds_frames: np.ndarray, nsigma: float, scale_samples: int = 128, window: int = 4096
) -> np.ndarray:
    """Flag cosmic-ray hits.

    Args:
        cds_frames: (n, n_pixels) float CDS frames of the whole visit (n >= 3).
        nsigma: threshold [robust standard deviations].
        scale_samples: estimate the scale from every k-th spike of a window, k = window length
            // ``scale_samples`` (at least 1).
        window: frames per robust-scale window (see :func:`windows`).

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
    hits = np.empty(cds_frames.shape, dtype=bool)
    for w0, w1 in windows(n, window):
        sample = np.abs(spike[w0 : w1 : max(1, (w1 - w0) // scale_samples)])
        scale = 1.4826 * np.median(sample, axis=0)
        hits[w0:w1] = spike[w0:w1] > (nsigma * scale)[None, :]
    return hits


def references(params: Params) -> tuple[str, ...]:
    return ()


def run(block: FrameBlock, params: Params) -> FrameBlock:
    """Add the block's cosmic-ray hits to its rejected frames (counting each frame once)."""
    hits = flag(block.values, params.nsigma, params.scale_samples, params.window_cds)
    if block.rejected is not None:
        hits &= ~block.rejected  # count saturation once
    block.n_cosmic += hits.sum(axis=0)
    block.rejected = hits if block.rejected is None else (block.rejected | hits)
    return block
