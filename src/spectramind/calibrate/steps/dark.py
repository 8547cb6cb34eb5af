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

from spectramind.calibrate.state import FrameBlock, InstrumentState, Phase
from spectramind.data.layout import AXIS_INFO_PARQUET

NAME = "dark"
# MAPS: the dt of each CDS frame; CDS: the subtraction (on CDS frames, see above).
PHASES = (Phase.MAPS, Phase.CDS)


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


def references(params: Params) -> tuple[str, ...]:
    return ("dark", AXIS_INFO_PARQUET)


def run(state: InstrumentState | FrameBlock, params: Params) -> InstrumentState | FrameBlock:
    """MAPS: ``state.cds_dt`` from the integration times (AIRS, axis_info) or the params (FGS).
    CDS: subtract ``dark * cds_dt`` from the block's CDS frames."""
    if isinstance(state, FrameBlock):
        subtract(state.values, state.dark, state.cds_dt)
        return state
    if state.is_airs:
        dt = read_dt(state.axis.airs_integration_time_s[: state.n_reads], params.end_read_extra_s)
    else:
        dt = np.tile([params.fgs_dt_start_s, params.fgs_dt_end_s], state.n_reads // 2)
    state.cds_dt = dt[1::2] - dt[0::2]
    return state
