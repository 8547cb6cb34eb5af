"""Dark subtraction with the per-read exposure dt (FORMAT.md section 6).

The starter notebook subtracts ``dark * dt`` from every read with dt = integration time plus
0.1 s on end reads (AIRS: 0.1, 4.6 s; FGS: 0.1, 0.2 s). Dark subtraction is linear and comes
after the linearity correction, so subtracting it from each read and then differencing equals
subtracting ``dark * (dt_end - dt_start)`` from the CDS frame; the pipeline uses the latter
(half the work) through the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAME = "dark"


@dataclass(frozen=True)
class Params:
    end_read_extra_s: float = 0.1  # added to the end-read integration time (notebook) [s]
    fgs_dt_start_s: float = 0.1  # FGS start-read dt (axis_info has no FGS times) [s]
    fgs_dt_end_s: float = 0.2  # FGS end-read dt [s]


def read_dt(integration_time_s: np.ndarray, end_read_extra_s: float) -> np.ndarray:
    """Per-read dt [s] from the alternating start/end integration times, shape (n_reads,)."""
    dt = np.asarray(integration_time_s, dtype=np.float64).copy()
    dt[1::2] += end_read_extra_s
    return dt


def subtract(frames: np.ndarray, dark: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Subtract ``dark * dt`` in place.

    Args:
        frames: (n_frames, n_pixels) float counts.
        dark: (n_pixels,) dark current [counts/s].
        dt: (n_frames,) exposure per frame [s] (per read, or end-minus-start per CDS frame).
    """
    frames -= dt.astype(frames.dtype)[:, None] * dark.astype(frames.dtype)[None, :]
    return frames
