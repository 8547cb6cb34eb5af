"""Crop: choose the detector pixels the chain needs, before anything is read.

Cropping first is what makes the chain cheap: only the selected parquet columns are decoded
(:func:`spectramind.data.reader.read_signal` with ``pixel_index``) and every later step works
on the cropped pixels. The usual AIRS crop keeps columns 39..320 (FORMAT.md section 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.data.layout import AIRS_CROP, InstrumentLayout
from spectramind.errors import ConfigError

NAME = "crop"


@dataclass(frozen=True)
class Params:
    airs_rows: tuple[int, int] = (0, 32)  # [start, stop) spatial rows kept [pixel]
    airs_cols: tuple[int, int] = (AIRS_CROP.start, AIRS_CROP.stop)  # spectral columns [pixel]
    # FGS: the PSF (sigma ~1.1..1.5 px) sits at the frame centre; 4:28 keeps >= 9 px of
    # background border around the aperture and skips 44% of the FGS columns.
    fgs_rows: tuple[int, int] = (4, 28)  # [pixel]
    fgs_cols: tuple[int, int] = (4, 28)  # [pixel]


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


def crop_map(detector_map: np.ndarray, win: Window) -> np.ndarray:
    """Crop a (..., rows, cols) calibration map to ``win``: (..., win rows, win cols)."""
    return np.ascontiguousarray(detector_map[..., win.rows, win.cols])
