"""Background subtraction from pixels outside the trace (FORMAT.md section 8: a constant
background).

Per time bin, the background level is the median of the background pixels (AIRS: the rows
outside the trace, all columns; FGS: a border of the window), optionally per column for AIRS.
The median keeps a few residual bad pixels from biasing it. With ``time="constant"`` (default)
the per-bin levels are replaced by their median over the visit: the background is constant,
and a per-bin estimate would add its read noise to every bin (for FGS about 20% more noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import Phase, VisitState
from spectramind.data.layout import AIRS, FGS

NAME = "background"
PHASES = (Phase.IMAGES,)


@dataclass(frozen=True)
class Params:
    # AIRS background rows, [start, stop) ranges of detector rows; None = located in the data
    # (rows where the trace profile is faint, see :mod:`.locate`).
    airs_rows: tuple[tuple[int, int], ...] | None = None
    airs_per_column: bool = False  # one level per column instead of one per bin
    # Width of the FGS read-window border used as background [pixel]; pixels next to the
    # aperture (1 px) are never used.
    fgs_border_px: int = 3
    time: str = "constant"  # "constant" (one level per visit) or "per_bin"


def airs_level(cube: np.ndarray, row_mask: np.ndarray, per_column: bool) -> np.ndarray:
    """Background per bin of (n_bins, rows, cols) images from rows where ``row_mask`` is True.

    Returns (n_bins, 1, 1) or, per column, (n_bins, 1, cols).
    """
    sel = cube[:, row_mask, :]
    if per_column:
        return np.median(sel, axis=1)[:, None, :]
    return np.median(sel.reshape(cube.shape[0], -1), axis=1)[:, None, None]


def border_mask(shape: tuple[int, int], width: int) -> np.ndarray:
    """(rows, cols) bool, True on a border ``width`` pixels wide."""
    mask = np.ones(shape, dtype=bool)
    mask[width : shape[0] - width, width : shape[1] - width] = False
    return mask


def fgs_level(cube: np.ndarray, border: np.ndarray) -> np.ndarray:
    """Background per bin of (n_bins, rows, cols) FGS images from the border: (n_bins, 1, 1)."""
    return np.median(cube[:, border], axis=1)[:, None, None]


def over_time(levels: np.ndarray, mode: str) -> np.ndarray:
    """Per-bin levels (n_bins, ...) as used: unchanged (``per_bin``) or their median over time."""
    if mode == "per_bin":
        return levels
    if mode != "constant":
        raise ValueError(f"background.time: expected constant or per_bin, found {mode!r}")
    return np.broadcast_to(np.median(levels, axis=0, keepdims=True), levels.shape)


def references(params: Params) -> tuple[str, ...]:
    return ()


def run(state: VisitState, params: Params) -> VisitState:
    """Subtract each instrument's background level from its binned images (in place)."""
    airs, fgs = state.selection[AIRS.name], state.selection[FGS.name]
    bg_rows = airs.background.any(axis=1)
    if bg_rows.any():
        cube = state.binned[AIRS.name].cube
        cube -= over_time(airs_level(cube, bg_rows, params.airs_per_column), params.time)
    if fgs.background.any():
        cube = state.binned[FGS.name].cube
        cube -= over_time(fgs_level(cube, fgs.background), params.time)
    return state
