"""ADC decode: raw uint16 read-outs to detector counts (FORMAT.md section 4).

``counts = raw / gain + offset``. Pixels at the ADC ceiling are saturated: their value is
clipped, so the CDS difference of that ramp is meaningless and is flagged for rejection. A
pixel saturated in many frames is masked for the whole visit instead
(:func:`persistently_saturated`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import FrameBlock, Phase
from spectramind.data.layout import ADC_INFO_CSV

NAME = "adc"
PHASES = (Phase.READS,)


@dataclass(frozen=True)
class Params:
    saturation_raw: int = 65535  # raw ADC value at or above which a read is saturated [ADU]
    # Saturated pixel-frames are rejected (like cosmic rays); a channel is flagged SATURATED
    # when more than this fraction of its extraction pixel-frames were.
    max_saturated_fraction: float = 0.01
    # A pixel saturated in more than this fraction of its CDS frames is masked for the whole
    # visit, like a dead pixel [fraction of frames]. A pixel near full scale saturates when
    # jitter or the star's brightness push it up, i.e. more often out of transit than in it:
    # rejecting those frames one by one biases its bin means and the depth. A cosmic ray
    # saturates a pixel in ~1e-4 of its frames at L2 (~5 hits/cm^2/s, 18 micron pixels, a 4.6 s
    # pair), so 1 % keeps cosmic-ray hits with a margin of 100.
    mask_saturated_fraction: float = 0.01


def decode(raw: np.ndarray, gain: float, offset: float, dtype: np.dtype = np.float32) -> np.ndarray:
    """Decode raw read-outs.

    Args:
        raw: (n_frames, n_pixels) uint16 raw ADC values.
        gain: ADC gain [ADU per count]; offset: ADC offset [counts].
        dtype: float type of the result (float32 keeps the chain fast; see docs/calibration.md).

    Returns:
        (n_frames, n_pixels) counts in ``dtype``.
    """
    scalar = np.dtype(dtype).type
    counts = raw.astype(dtype)
    # Multiply by the reciprocal: one pass instead of a division; offset added in place.
    counts *= scalar(1.0 / gain)
    counts += scalar(offset)
    return counts


def saturated_pairs(raw: np.ndarray, saturation_raw: int) -> np.ndarray:
    """True where either read of a start/end pair is saturated.

    Args:
        raw: (2 n, n_pixels) uint16, reads alternating start, end.

    Returns:
        (n, n_pixels) bool, one entry per CDS frame.
    """
    return np.maximum(raw[0::2], raw[1::2]) >= saturation_raw


def persistently_saturated(
    n_saturated: np.ndarray, n_cds: int, mask_saturated_fraction: float
) -> np.ndarray:
    """True for pixels saturated in more than ``mask_saturated_fraction`` of their CDS frames
    beyond the median pixel of the same read.

    The median is subtracted so that an event saturating whole frames (every pixel in the same
    frames) stays rejected frame by frame instead of masking the detector.

    Args:
        n_saturated: (...) int, saturated CDS frames per pixel (of ``n_cds``), all the pixels
            read for one instrument.

    Returns:
        bool of ``n_saturated``'s shape.
    """
    if n_saturated.size == 0:
        return np.zeros(n_saturated.shape, dtype=bool)
    excess = n_saturated - np.median(n_saturated)
    return excess > mask_saturated_fraction * max(n_cds, 1)


def references(params: Params) -> tuple[str, ...]:
    return (ADC_INFO_CSV,)


def run(block: FrameBlock, params: Params) -> FrameBlock:
    """Flag saturated read pairs (rejected from their bin) and decode the reads to counts.

    (Pixels saturated in many frames are masked for the whole visit after binning:
    :func:`persistently_saturated`.)
    """
    rejected = saturated_pairs(block.reads, params.saturation_raw)
    block.n_saturated += rejected.sum(axis=0)
    block.rejected = rejected
    block.values = decode(block.reads, block.adc.gain, block.adc.offset, block.dtype)
    return block
