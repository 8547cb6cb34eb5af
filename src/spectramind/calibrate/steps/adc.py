"""ADC decode: raw uint16 read-outs to detector counts (FORMAT.md section 4).

``counts = raw / gain + offset``. Pixels at the ADC ceiling are saturated: their value is
clipped, so the CDS difference of that ramp is meaningless and is flagged for rejection.
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


def references(params: Params) -> tuple[str, ...]:
    return (ADC_INFO_CSV,)


def run(block: FrameBlock, params: Params) -> FrameBlock:
    """Flag saturated read pairs (rejected from their bin) and decode the reads to counts."""
    rejected = saturated_pairs(block.reads, params.saturation_raw)
    block.n_saturated += rejected.sum(axis=0)
    block.rejected = rejected
    block.values = decode(block.reads, block.adc.gain, block.adc.offset, block.dtype)
    return block
