"""Which pixels of each detector are read, and what each is for (after the SELECT phase).

The geometry comes from ``locate`` (:attr:`InstrumentState.geometry`) when it ran, else from
the config; values fixed in the config (``extract.airs_rows``, ``extract.fgs_rows/cols``,
``background.airs_rows``) always win. The result is a :class:`~spectramind.calibrate.state.
Selection`: the rows and columns to read, the extraction aperture and the background pixels.
"""

from __future__ import annotations

import numpy as np

from spectramind.calibrate.state import InstrumentState, Selection
from spectramind.calibrate.steps import background, locate


def _expand_ranges(ranges: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    return tuple(sorted({r for r0, r1 in ranges for r in range(r0, r1)}))


def select(state: InstrumentState) -> Selection:
    """The :class:`Selection` of the instrument of ``state`` (after phase SELECT)."""
    return _select_airs(state) if state.is_airs else _select_fgs(state)


def _select_airs(state: InstrumentState) -> Selection:
    """Trace and background rows of AIRS x the window's columns."""
    cfg, win = state.config, state.window
    ep, gp, lp = cfg.params("extract"), cfg.params("background"), cfg.params("locate")
    want_bg = cfg.runs("background")
    fixed_bg = None if gp.airs_rows is None else _expand_ranges(gp.airs_rows)
    geo = state.geometry or locate.Geometry(rows=ep.airs_rows, cols=(win.col0, win.col1))
    if ep.airs_rows is not None:
        geo.rows, geo.source["rows"] = ep.airs_rows, "config"
        t0, t1, gap = ep.airs_rows[0], ep.airs_rows[1], lp.airs_background_gap
        geo.background_rows = tuple(r for r in geo.background_rows if r < t0 - gap or r >= t1 + gap)
    if fixed_bg is not None:
        geo.background_rows = tuple(r for r in fixed_bg if win.row0 <= r < win.row1)
        geo.source["background_rows"] = "config"
    if not want_bg:
        geo.background_rows = ()
    trace = set(range(*geo.rows))
    rows = np.array(sorted(trace | set(geo.background_rows)), dtype=np.int64)
    cols = np.arange(win.col0, win.col1)
    in_trace = np.isin(rows, list(trace))
    aperture = np.repeat(in_trace[:, None], cols.size, axis=1)
    bg_mask = np.repeat(np.isin(rows, geo.background_rows)[:, None], cols.size, axis=1)
    if want_bg and not bg_mask.any():
        geo.problems.append("no AIRS background rows: background not subtracted")
    return Selection(rows, cols, aperture, bg_mask, geo)


def _select_fgs(state: InstrumentState) -> Selection:
    """FGS aperture and the read window around it (aperture +- the window margin)."""
    cfg, win = state.config, state.window
    ep, gp, lp = cfg.params("extract"), cfg.params("background"), cfg.params("locate")
    want_bg = cfg.runs("background")
    geo = state.geometry or locate.Geometry(rows=ep.fgs_rows, cols=ep.fgs_cols)
    for key in ("rows", "cols"):
        fixed = getattr(ep, f"fgs_{key}")
        if fixed is not None:
            setattr(geo, key, fixed)
            geo.source[key] = "config"
    margin = lp.fgs_window_margin_px if want_bg else 0
    rows = np.arange(max(win.row0, geo.rows[0] - margin), min(win.row1, geo.rows[1] + margin))
    cols = np.arange(max(win.col0, geo.cols[0] - margin), min(win.col1, geo.cols[1] + margin))
    aperture = np.zeros((rows.size, cols.size), dtype=bool)
    ap_r = slice(geo.rows[0] - rows[0], geo.rows[1] - rows[0])
    ap_c = slice(geo.cols[0] - cols[0], geo.cols[1] - cols[0])
    aperture[ap_r, ap_c] = True
    bg_mask = np.zeros_like(aperture)
    if want_bg:
        near = np.zeros_like(aperture)  # the aperture grown by 1 px: never background
        near[max(ap_r.start - 1, 0) : ap_r.stop + 1, max(ap_c.start - 1, 0) : ap_c.stop + 1] = True
        bg_mask = background.border_mask(aperture.shape, gp.fgs_border_px) & ~near
        if not bg_mask.any():
            geo.problems.append("no FGS background pixels: background not subtracted")
    return Selection(rows, cols, aperture, bg_mask, geo)
