"""Locate the AIRS trace and the FGS PSF from the data of each visit.

The pipeline must not depend on where our simulator puts the star, so the extraction and
background pixels are derived per visit from the median CDS image of the first
``probe_cds`` AIRS CDS frames (FGS: the same 4.8 min, 12x as many frames), with the static
bad pixels ignored:

- AIRS: the spatial profile is the column sum of that image (bad pixels replaced by their
  row's mean), minus its level in the faintest rows. The trace rows are the smallest
  contiguous run around the peak row that encloses ``airs_flux_fraction`` of the profile;
  background rows are rows at least ``airs_background_gap`` rows away from the trace where the
  profile is below ``airs_background_fraction`` of its peak (the farthest first, at most
  ``airs_background_max_rows``, balanced between the two sides).
- FGS: the PSF centroid is the flux-weighted centroid within 5 px of the brightest pixel
  (iterated); the aperture is a box of half-width r + ``fgs_margin_px`` around it, r the
  radius enclosing ``fgs_flux_fraction`` of the PSF flux (encircled-energy curve).

Every value can be fixed in the config instead (``extract.airs_rows``, ``extract.fgs_rows``,
``extract.fgs_cols``, ``background.airs_rows``). When the data look odd (no significant
trace or PSF, the trace or aperture touching the detector edge, too few faint rows for the
background) the chain goes on with a documented fallback and the channels get the
``GEOMETRY`` quality bit; the reasons are listed in the step record.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from spectramind.calibrate.state import InstrumentState, Phase
from spectramind.data.layout import AIRS, FGS

NAME = "locate"
PHASES = (Phase.SELECT,)

# FGS CDS frames per AIRS CDS frame (0.4 s vs 4.8 s): the FGS probe covers the same time.
AIRS_TO_FGS_CDS = round(AIRS.cds_cadence_s / FGS.cds_cadence_s)

_CENTROID_RADIUS_PX = 5.0  # pixels around the peak used for the centroid
_AIRS_COLUMN_BLOCKS = 8  # blocks of columns whose trace rows are united


@dataclass(frozen=True)
class Params:
    probe_cds: int = 64  # AIRS CDS frames from the visit start used (FGS: 12x) [frames]
    airs_flux_fraction: float = 0.999  # fraction of the spatial profile inside the trace rows
    airs_background_fraction: float = 0.002  # background rows: profile below this x peak
    airs_background_gap: int = 1  # rows left between the trace and the background rows [px]
    airs_background_max_rows: int = 8  # background rows kept (read cost) [rows]
    airs_min_background_rows: int = 2  # fewer qualifying rows: fallback + GEOMETRY flag
    fgs_flux_fraction: float = 0.995  # fraction of the PSF flux inside the aperture radius
    fgs_margin_px: float = 1.5  # added to that radius for pointing jitter [pixel]
    fgs_window_margin_px: int = 5  # read window = aperture +- this (background inside) [pixel]
    min_peak_snr: float = 20.0  # trace/PSF peak over the background noise to count as found


@dataclass
class Geometry:
    """Where the light is on one detector, in detector pixel coordinates.

    rows, cols: [start, stop) of the extraction aperture (AIRS: the trace rows, all columns).
    background_rows: AIRS background rows (detector rows), empty if none / not used.
    centre: (x, y) of the PSF centroid or (nan, trace centre row) [pixel].
    radius: FGS encircled-flux radius [pixel] (nan for AIRS or when fixed).
    source: "data" (derived) or "config" (fixed) per item.
    problems: why the data looked odd (each sets the GEOMETRY quality bit).
    """

    rows: tuple[int, int]
    cols: tuple[int, int]
    background_rows: tuple[int, ...] = ()
    centre: tuple[float, float] = (float("nan"), float("nan"))
    radius: float = float("nan")
    source: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def record(self) -> dict:
        """JSON-ready record for the step record."""
        return {
            "rows": list(self.rows),
            "cols": list(self.cols),
            "background_rows": [int(r) for r in self.background_rows],
            "centre_xy": [None if np.isnan(v) else round(float(v), 4) for v in self.centre],
            "radius_px": None if np.isnan(self.radius) else round(float(self.radius), 4),
            "source": dict(self.source),
            "problems": list(self.problems),
        }


def median_cds_image(
    reads: np.ndarray, shape: tuple[int, int], bad: np.ndarray, saturation_raw: int = 65535
) -> np.ndarray:
    """Robust mean CDS image of raw reads, bad pixels NaN.

    The median over 8 groups of the groups' mean CDS frames: robust to a cosmic ray, and free
    of the bias a plain median has on integer data (which would leak into the faint wings and
    inflate the encircled-flux radius).

    Args:
        reads: (2 n, rows * cols) uint16 raw reads (start, end alternating).
        shape: (rows, cols); bad: (rows, cols) bool static mask.
        saturation_raw: reads at or above this are ignored (their CDS frame is meaningless).
            A pixel saturated in most frames (a bright star's trace core) takes the mean of its
            clipped CDS frames instead: its median is at full scale, so this is a lower bound,
            but a bright one, which is what locating the light needs (NaN, or the mean of its
            few dim frames, would make the brightest pixels look empty).

    Returns:
        (rows, cols) float64 in ADU (the ADC gain and offset do not change where light is).
    """
    cds = reads[1::2].astype(np.float32) - reads[0::2].astype(np.float32)
    saturated = np.maximum(reads[1::2], reads[0::2]) >= saturation_raw
    groups = min(8, cds.shape[0])
    n = cds.shape[0] // groups * groups
    mostly = saturated[:n].mean(axis=0) > 0.5 if n else np.zeros(cds.shape[1], dtype=bool)
    clipped_mean = cds[:n, mostly].mean(axis=0, dtype=np.float64)  # lower bounds
    cds[saturated] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-saturated pixels: set below
        means = np.nanmean(cds[:n].reshape(groups, n // groups, -1), axis=1, dtype=np.float64)
        image = np.nanmedian(means, axis=0)
    image[mostly] = clipped_mean
    image = image.reshape(shape)
    image[bad] = np.nan
    return image


def _robust_level(values: np.ndarray) -> tuple[float, float]:
    """(median, 1.4826 MAD) of finite values; (0, inf) when there are none."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, float("inf")
    centre = float(np.median(values))
    return centre, float(1.4826 * np.median(np.abs(values - centre)))


def airs_geometry(
    image: np.ndarray,
    row0: int,
    col_range: tuple[int, int],
    p: Params,
    want_background: bool,
) -> Geometry:
    """Trace rows and background rows from a (rows, cols) median CDS image of the crop window.

    ``row0`` is the detector row of ``image[0]``; returned rows are detector rows.
    """
    n_rows, n_cols = image.shape
    rows_all = np.arange(n_rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are handled below
        profile = np.nanmean(image, axis=1) * n_cols  # (rows,) column sum, bad pixels skipped
    problems: list[str] = []
    if not np.all(np.isfinite(profile)):
        problems.append("rows without a usable pixel")
        profile = np.where(np.isfinite(profile), profile, np.nanmin(profile))
    # Level and noise from the faintest quarter of the rows (at least 3).
    faint = np.sort(profile)[: max(3, n_rows // 4)]
    base, noise = _robust_level(faint)
    spread = np.sqrt(n_cols) * 1.0  # floor: the noise of a column sum of unit-noise pixels
    rel = profile - base
    peak_row = int(np.argmax(rel))
    peak = float(rel[peak_row])
    if not peak > p.min_peak_snr * max(noise, spread):
        problems.append(f"no significant trace (peak {peak:.3g}, noise {noise:.3g})")
        geo = Geometry((row0, row0 + n_rows), col_range, (), problems=problems)
        geo.source = {"rows": "fallback: all rows", "background_rows": "none"}
        return geo
    positive = np.where(rel > 3.0 * noise, rel, 0.0)
    lo, hi = _enclosing_run(positive, peak_row, p.airs_flux_fraction)
    # The trace's width and row change along the spectrum: the rows enclosing the fraction in
    # each block of columns are added, so that faint wide parts of the trace are covered too.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for block in np.array_split(np.arange(n_cols), _AIRS_COLUMN_BLOCKS):
            part = np.nanmean(image[:, block], axis=1)
            if not np.isfinite(part).any():
                continue
            part = np.where(np.isfinite(part), part, np.nanmin(part))
            level, spread_b = _robust_level(np.sort(part)[: max(3, n_rows // 4)])
            part = part - level
            # Noise in the faint wings must not count as trace flux (it would widen the run).
            part[part < 3.0 * spread_b] = 0.0
            if part.max() > 0:
                b_lo, b_hi = _enclosing_run(part, int(np.argmax(part)), p.airs_flux_fraction)
                lo, hi = min(lo, b_lo), max(hi, b_hi)
    if lo == 0 or hi == n_rows - 1:
        problems.append("trace reaches the edge of the crop window")
    centre = float((positive * rows_all).sum() / positive.sum()) + row0
    background: tuple[int, ...] = ()
    if want_background:
        outside = (rows_all < lo - p.airs_background_gap) | (rows_all > hi + p.airs_background_gap)
        faint_rows = outside & (rel < p.airs_background_fraction * peak)
        chosen = _farthest_balanced(rows_all[faint_rows], lo, hi, p.airs_background_max_rows)
        if len(chosen) < p.airs_min_background_rows:
            problems.append(
                f"only {len(chosen)} rows below {p.airs_background_fraction:g} x peak "
                "for the background"
            )
            chosen = _farthest_balanced(rows_all[outside], lo, hi, p.airs_min_background_rows)
        background = tuple(int(r) + row0 for r in sorted(chosen))
    return Geometry(
        rows=(lo + row0, hi + 1 + row0),
        cols=col_range,
        background_rows=background,
        centre=(float("nan"), centre),
        source={"rows": "data", "background_rows": "data" if want_background else "none"},
        problems=problems,
    )


def _enclosing_run(profile: np.ndarray, start: int, fraction: float) -> tuple[int, int]:
    """Smallest run [lo, hi] grown from ``start`` (towards the brighter side) that encloses
    ``fraction`` of the non-negative ``profile``'s sum (a loop over <= 32 rows, not pixels)."""
    target = fraction * profile.sum()
    lo = hi = start
    enclosed = profile[start]
    n = profile.size
    while enclosed < target and (lo > 0 or hi < n - 1):
        below = profile[lo - 1] if lo > 0 else -1.0
        above = profile[hi + 1] if hi < n - 1 else -1.0
        if above >= below:
            hi += 1
            enclosed += above
        else:
            lo -= 1
            enclosed += below
    return lo, hi


def _farthest_balanced(candidates: np.ndarray, lo: int, hi: int, n_max: int) -> list[int]:
    """Up to ``n_max`` of ``candidates`` farthest from rows [lo, hi], alternating sides."""
    below = sorted((r for r in candidates if r < lo), key=lambda r: r)  # farthest first
    above = sorted((r for r in candidates if r > hi), key=lambda r: -r)
    chosen: list[int] = []
    while len(chosen) < n_max and (below or above):
        for side in (below, above):
            if side and len(chosen) < n_max:
                chosen.append(int(side.pop(0)))
    return chosen


def fgs_geometry(image: np.ndarray, origin: tuple[int, int], p: Params) -> Geometry:
    """PSF centroid and box aperture from a (rows, cols) median CDS image of the FGS window.

    ``origin`` = detector (row, col) of ``image[0, 0]``; returned values are detector pixels.
    """
    n_rows, n_cols = image.shape
    r0, c0 = origin
    ring = np.ones(image.shape, dtype=bool)
    ring[3:-3, 3:-3] = False
    base, noise = _robust_level(image[ring])
    rel = np.nan_to_num(image - base, nan=0.0)
    problems: list[str] = []
    peak_y, peak_x = np.unravel_index(int(np.argmax(rel)), rel.shape)
    peak = float(rel[peak_y, peak_x])
    whole = Geometry((r0, r0 + n_rows), (c0, c0 + n_cols))
    if not peak > p.min_peak_snr * max(noise, 1.0):
        whole.problems = [f"no significant PSF (peak {peak:.3g}, noise {noise:.3g})"]
        whole.source = {"aperture": "fallback: whole window"}
        return whole
    ys, xs = np.mgrid[0:n_rows, 0:n_cols].astype(np.float64)
    cy, cx = float(peak_y), float(peak_x)
    for _ in range(5):
        near = (ys - cy) ** 2 + (xs - cx) ** 2 <= _CENTROID_RADIUS_PX**2
        w = np.clip(rel, 0, None) * near
        cy, cx = float((w * ys).sum() / w.sum()), float((w * xs).sum() / w.sum())
    # Encircled flux out to the largest circle inside the window.
    dist = np.hypot(ys - cy, xs - cx).ravel()
    r_max = min(cy + 0.5, n_rows - 0.5 - cy, cx + 0.5, n_cols - 0.5 - cx)
    if r_max < 2.0:
        problems.append("PSF at the edge of the window")
        r_max = max(r_max, 2.0)
    order = np.argsort(dist)
    dist_sorted = dist[order]
    inside = dist_sorted <= r_max
    cumulative = np.cumsum(rel.ravel()[order][inside])
    total = cumulative[-1]
    k = int(np.searchsorted(cumulative, p.fgs_flux_fraction * total))
    radius = float(dist_sorted[inside][min(k, cumulative.size - 1)])
    half = radius + p.fgs_margin_px
    rows = (int(np.ceil(cy - half)), int(np.floor(cy + half)) + 1)
    cols = (int(np.ceil(cx - half)), int(np.floor(cx + half)) + 1)
    clipped = (max(rows[0], 0), min(rows[1], n_rows)), (max(cols[0], 0), min(cols[1], n_cols))
    if clipped != (rows, cols):
        problems.append("aperture clipped by the window edge")
    (a, b), (c, d) = clipped
    return Geometry(
        rows=(a + r0, b + r0),
        cols=(c + c0, d + c0),
        centre=(cx + c0, cy + r0),
        radius=radius,
        source={"aperture": "data"},
        problems=problems,
    )


def references(params: Params) -> tuple[str, ...]:
    return ()


def run(state: InstrumentState, params: Params) -> InstrumentState:
    """Locate the light in a probe of the first frames, unless the config fixes all of it.

    Sets ``state.geometry`` (detector pixels); what the config fixes is applied on top of it
    when the pixels to read are chosen (:mod:`spectramind.calibrate.selection`).
    """
    cfg = state.config
    ep, gp = cfg.params("extract"), cfg.params("background")
    if state.is_airs:
        wanted = ep.airs_rows is None or (cfg.runs("background") and gp.airs_rows is None)
    else:
        wanted = ep.fgs_rows is None or ep.fgs_cols is None
    if not wanted:
        return state
    win = state.window
    n_cds = params.probe_cds * (1 if state.is_airs else AIRS_TO_FGS_CDS)
    image = median_cds_image(
        state.probe(win, 2 * n_cds), win.shape, state.bad, cfg.params("adc").saturation_raw
    )
    if state.is_airs:
        state.geometry = airs_geometry(
            image, win.row0, (win.col0, win.col1), params, cfg.runs("background")
        )
    else:
        state.geometry = fgs_geometry(image, (win.row0, win.col0), params)
    return state
