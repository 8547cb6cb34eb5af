"""Crop: choose the detector pixels the chain needs, before anything is read.

Cropping first is what makes the chain cheap: only the selected parquet columns are decoded
(:func:`spectramind.data.reader.read_signal` with ``pixel_index``) and every later step works
on the cropped pixels. The usual AIRS crop keeps columns 39..320 (FORMAT.md section 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import InstrumentState, Phase
from spectramind.data.layout import AIRS_CROP, InstrumentLayout
from spectramind.data.reader import CalibrationMaps
from spectramind.errors import ConfigError

NAME = "crop"
PHASES = (Phase.MAPS,)
REQUIRED = True  # no light curve without it: cannot be skipped


@dataclass(frozen=True)
class Params:
    # The detector region considered [start, stop) [pixel]: calibration-map statistics (the
    # hot-pixel clip) and the search for the trace / PSF use all of it; only the trace,
    # aperture and background pixels inside it are read (see :mod:`.locate`).
    airs_rows: tuple[int, int] = (0, 32)  # spatial rows
    airs_cols: tuple[int, int] = (AIRS_CROP.start, AIRS_CROP.stop)  # spectral columns
    fgs_rows: tuple[int, int] = (0, 32)
    fgs_cols: tuple[int, int] = (0, 32)


@dataclass(frozen=True)
class Window:
    """A rectangular detector window [start, stop) in rows and columns."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.row1 - self.row0, self.col1 - self.col0)

    @property
    def rows(self) -> slice:
        return slice(self.row0, self.row1)

    @property
    def cols(self) -> slice:
        return slice(self.col0, self.col1)


def window(instrument: InstrumentLayout, rows: tuple[int, int], cols: tuple[int, int]) -> Window:
    """Validated window of ``instrument``; raises ConfigError when out of the detector."""
    r0, r1 = rows
    c0, c1 = cols
    if not (0 <= r0 < r1 <= instrument.rows and 0 <= c0 < c1 <= instrument.cols):
        raise ConfigError(
            f"crop: expected a window inside the {instrument.name} detector "
            f"({instrument.rows}x{instrument.cols}), found rows {rows} cols {cols}"
        )
    return Window(r0, r1, c0, c1)


def pixel_index(instrument: InstrumentLayout, win: Window) -> np.ndarray:
    """Flat pixel indices (row * cols + col) of ``win`` in row-major order, shape (n_pixels,)."""
    rows = np.arange(win.row0, win.row1)[:, None]
    cols = np.arange(win.col0, win.col1)[None, :]
    return (rows * instrument.cols + cols).ravel().astype(np.int64)


def selection_index(instrument: InstrumentLayout, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Flat pixel indices of detector ``rows`` x ``cols`` (1-D int arrays), row-major."""
    return (np.asarray(rows)[:, None] * instrument.cols + np.asarray(cols)[None, :]).ravel()


def crop_map(detector_map: np.ndarray, win: Window) -> np.ndarray:
    """Crop a (..., rows, cols) calibration map to ``win``: (..., win rows, win cols)."""
    return np.ascontiguousarray(detector_map[..., win.rows, win.cols])


def references(params: Params) -> tuple[str, ...]:
    return ()


def run(state: InstrumentState, params: Params) -> InstrumentState:
    """Set the instrument's window, crop its calibration maps to it and start empty masks."""
    if state.is_airs:
        win = window(state.instrument, params.airs_rows, params.airs_cols)
    else:
        win = window(state.instrument, params.fgs_rows, params.fgs_cols)
    m = state.maps
    state.window = win
    state.maps = CalibrationMaps(
        dark=crop_map(m.dark, win),
        dead=crop_map(m.dead, win),
        flat=crop_map(m.flat, win),
        read=crop_map(m.read, win),
        linear_corr=crop_map(m.linear_corr, win),
    )
    state.bad = np.zeros(win.shape, dtype=bool)
    state.flat_invalid = np.zeros(win.shape, dtype=bool)
    state.inv_flat = np.ones(win.shape)
    return state
