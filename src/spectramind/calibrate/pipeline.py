"""The calibration pipeline: one planet visit of raw frames -> a calibrated visit file.

Steps run in the order of :data:`spectramind.calibrate.config.STEP_NAMES`, in three phases:

1. static, on the calibration maps: ``crop`` (choose the pixels to read), ``mask`` (hot/dead
   map), ``flat`` (validity);
2. per block of frames (time chunks bounding memory; raw uint16 -> float32):
   ``adc`` -> ``linearity`` -> ``dark`` -> ``cds`` -> ``flat`` -> ``cosmic`` -> ``bin``.
   Dark subtraction is linear and follows the linearity correction, so it is applied to the
   CDS frame with dt_end - dt_start (same result as per read, half the work);
3. per time bin, on the binned images: fill masked pixels, ``background``, ``jitter``,
   ``extract``; then the AIRS columns are flipped to ascending wavelength.

The output records every step as COMPLETE or SKIPPED with its parameters and the reference
files it used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spectramind import __version__
from spectramind.calibrate import config as cfgmod
from spectramind.calibrate.config import CalibrationConfig
from spectramind.calibrate.product import CalibratedVisit, Quality
from spectramind.calibrate.steps import (
    adc,
    background,
    bin,
    cds,
    cosmic,
    crop,
    dark,
    extract,
    flat,
    jitter,
    linearity,
    locate,
    mask,
)
from spectramind.data import layout, reader
from spectramind.data.layout import AIRS, FGS, InstrumentLayout
from spectramind.errors import DataFormatError

log = logging.getLogger(__name__)

AIRS_TO_FGS_CDS = 12  # FGS CDS frames per AIRS CDS frame (0.4 s vs 4.8 s)


class StepTimer:
    """Accumulates wall time per step name [s] (not written to the output: not deterministic)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@dataclass(frozen=True)
class BinnedInstrument:
    """One instrument after phase 2.

    cube: (n_bins, rows, cols) float64 binned images of the cropped window.
    bad: (rows, cols) bool static mask (hot, dead, invalid flat).
    flat_invalid: (rows, cols) bool.
    empty: (n_bins, rows, cols) bool, pixel-bins without any good frame (value meaningless).
    saturated, cosmic: (rows, cols) int, rejected pixel-frames of each kind.
    n_cds: CDS frames used.
    """

    cube: np.ndarray
    bad: np.ndarray
    flat_invalid: np.ndarray
    empty: np.ndarray
    saturated: np.ndarray
    cosmic: np.ndarray
    n_cds: int


def static_masks(
    maps: reader.CalibrationMaps, cfg: CalibrationConfig, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bad, flat_invalid, inverse flat) on the cropped maps, each (rows, cols)."""
    bad = np.zeros(maps.dark.shape, dtype=bool)
    if cfg.runs("mask"):
        bad |= mask.bad_pixel_map(maps.dark, maps.dead, cfg.params("mask"))
    invalid = np.zeros(maps.dark.shape, dtype=bool)
    inv_flat = np.ones(maps.dark.shape)
    if cfg.runs("flat"):
        p = cfg.params("flat")
        invalid = flat.invalid(maps.flat, p.min_value)
        if invalid.any():
            if p.on_invalid == "error":
                raise DataFormatError(
                    f"{where}/flat.parquet: expected finite flat values > {p.min_value}, "
                    f"found {int(invalid.sum())} invalid "
                    "(set steps.flat.on_invalid: mask to mask them)"
                )
            log.warning("%s: %d invalid flat values masked", where, int(invalid.sum()))
        bad |= invalid
        inv_flat = flat.reciprocal(maps.flat, bad)
    return bad, invalid, inv_flat


def bin_instrument(
    raw: np.ndarray,
    maps: reader.CalibrationMaps,
    masks: tuple[np.ndarray, np.ndarray, np.ndarray],
    adc_info: reader.AdcInfo,
    read_dt: np.ndarray,
    n_bins: int,
    size: int,
    cfg: CalibrationConfig,
    timer: StepTimer,
    where: str,
) -> BinnedInstrument:
    """Phase 1 and 2 for one instrument.

    Args:
        raw: (n_reads, rows * cols) uint16 raw reads of the selected pixels.
        maps: calibration maps of the selected pixels, (rows, cols) / (6, rows, cols).
        masks: (bad, flat_invalid, inverse flat) of the selected pixels (:func:`static_masks`
            on the whole crop window, then selected), each (rows, cols).
        read_dt: (n_reads,) dark exposure per read [s].
        n_bins: time bins to produce; size: CDS frames per bin.
        where: the calibration folder, for messages.
    """
    rows, cols = maps.dark.shape
    n_pix = rows * cols
    dtype = np.dtype(cfg.dtype)
    bad, invalid, inv_flat = masks
    inv_flat = inv_flat.reshape(n_pix)
    dark_map = maps.dark.reshape(n_pix)
    coeffs = maps.linear_corr.reshape(maps.linear_corr.shape[0], n_pix).astype(dtype)
    cds_dt = read_dt[1::2] - read_dt[0::2]
    adc_p = cfg.params("adc")
    stat = cfg.params("bin").statistic
    cr_p = cfg.params("cosmic")

    out = np.empty((n_bins, n_pix), dtype=np.float64)
    empty_all = np.zeros((n_bins, n_pix), dtype=bool)
    n_sat = np.zeros(n_pix, dtype=np.int64)
    n_cr = np.zeros(n_pix, dtype=np.int64)
    chunk_bins = max(1, cfg.chunk_values // (2 * size * n_pix))
    for b0 in range(0, n_bins, chunk_bins):
        b1 = min(n_bins, b0 + chunk_bins)
        f0, f1 = b0 * size, b1 * size  # CDS frames
        reads = raw[2 * f0 : 2 * f1]
        rejected = None
        if cfg.runs("adc"):
            with timer("adc"):
                rejected = adc.saturated_pairs(reads, adc_p.saturation_raw)
                n_sat += rejected.sum(axis=0)
                counts = adc.decode(reads, adc_info.gain, adc_info.offset, dtype)
        else:
            counts = reads.astype(dtype)
        if cfg.runs("linearity"):
            with timer("linearity"):
                linearity.correct(counts, coeffs)
        with timer("cds"):
            frames = cds.cds(counts)
            del counts
        if cfg.runs("dark"):
            with timer("dark"):
                dark.subtract(frames, dark_map, cds_dt[f0:f1])
        if cfg.runs("flat"):
            with timer("flat"):
                flat.apply(frames, inv_flat)
        if cfg.runs("cosmic"):
            with timer("cosmic"):
                hits = cosmic.flag(frames, cr_p.nsigma, cr_p.scale_stride)
                if rejected is not None:
                    hits &= ~rejected  # count saturation once
                n_cr += hits.sum(axis=0)
                rejected = hits if rejected is None else (rejected | hits)
        with timer("bin"):
            binned, empty = bin.bin_frames(frames, rejected, size, stat)
            out[b0:b1] = binned
            empty_all[b0:b1] = empty
    return BinnedInstrument(
        cube=out.reshape(n_bins, rows, cols),
        bad=bad,
        flat_invalid=invalid,
        empty=empty_all.reshape(n_bins, rows, cols),
        saturated=n_sat.reshape(rows, cols),
        cosmic=n_cr.reshape(rows, cols),
        n_cds=n_bins * size,
    )


def fill_bad(
    binned: BinnedInstrument, aperture: np.ndarray, cfg: CalibrationConfig, where: str
) -> np.ndarray:
    """Fill statically masked pixels (in place); refuse an aperture with no good pixel.

    ``aperture`` (rows, cols) bool marks the extraction pixels. Pixel-bins without any good
    frame (all frames saturated or hit) are filled like masked pixels, bin by bin.

    Returns (rows, cols) bool: pixels filled across rows (whole row masked).
    """
    bad = binned.bad
    if np.all(bad[aperture]):
        raise DataFormatError(
            f"{where}: expected usable pixels in the extraction aperture, found all "
            f"{int(aperture.sum())} masked (hot/dead/invalid flat)"
        )
    fill = cfg.params("mask").fill
    row_filled = mask.fill_masked(binned.cube, bad, fill)
    # Rare (saturated or hit in every frame of a bin): fill those bins one by one.
    lost = np.zeros(binned.cube.shape[0], dtype=bool)
    for b in np.nonzero(binned.empty.any(axis=(1, 2)))[0]:
        combined = bad | binned.empty[b]
        if np.all(combined[aperture]):
            lost[b] = True  # nothing usable in this bin: filled in time below
            continue
        row_filled |= mask.fill_masked(binned.cube[b : b + 1], combined, fill)
    if lost.all():
        raise DataFormatError(
            f"{where}: expected usable frames, found every time bin saturated, hit or masked"
        )
    if lost.any():
        log.warning(
            "%s: %d time bins without usable frames, interpolated in time", where, int(lost.sum())
        )
        flat_cube = binned.cube.reshape(1, binned.cube.shape[0], -1)
        mask.fill_masked(np.moveaxis(flat_cube, 2, 0), lost[None, :], "interpolate")
    return row_filled


def _quality(
    binned: BinnedInstrument, aperture: np.ndarray, row_filled: np.ndarray, cfg: CalibrationConfig
) -> np.ndarray:
    """Quality bits per column of the aperture (FGS: collapse afterwards), (cols,) uint16."""
    in_ap = aperture.sum(axis=0).astype(np.float64)
    in_ap = np.where(in_ap > 0, in_ap, 1.0)

    def frac(values: np.ndarray) -> np.ndarray:
        return (values * aperture).sum(axis=0) / in_ap

    q = np.zeros(aperture.shape[1], dtype=np.uint16)
    q[frac(binned.bad) > cfg.params("mask").max_masked_fraction] |= np.uint16(Quality.MASKED_MANY)
    q[(binned.flat_invalid & aperture).any(axis=0)] |= np.uint16(Quality.FLAT_INVALID)
    sat_frac = frac(binned.saturated) / max(binned.n_cds, 1)
    q[sat_frac > cfg.params("adc").max_saturated_fraction] |= np.uint16(Quality.SATURATED)
    cr_frac = frac(binned.cosmic) / max(binned.n_cds, 1)
    q[cr_frac > cfg.params("cosmic").max_flagged_fraction] |= np.uint16(Quality.COSMIC_MANY)
    q[(binned.empty.any(axis=0) & aperture).any(axis=0)] |= np.uint16(Quality.BIN_EMPTY)
    q[(row_filled & aperture).any(axis=0)] |= np.uint16(Quality.ROW_FILLED)
    return q


def point_to_point_error(flux: np.ndarray) -> np.ndarray:
    """1-sigma scatter of each channel from successive-bin differences, (n_bins, n_ch).

    The transit and drifts are smooth on the bin scale, so the differences of neighbouring
    bins carry only the noise: sigma = 1.4826 MAD(diff) / sqrt(2) (robust to a few outliers).
    The same value is given to every bin of a channel.
    """
    diff = np.diff(flux, axis=0)
    mad = np.median(np.abs(diff - np.median(diff, axis=0)), axis=0)
    sigma = 1.4826 * mad / np.sqrt(2.0)
    return np.broadcast_to(sigma, flux.shape).copy()


def _crop_maps(maps: reader.CalibrationMaps, win: crop.Window) -> reader.CalibrationMaps:
    return reader.CalibrationMaps(
        dark=crop.crop_map(maps.dark, win),
        dead=crop.crop_map(maps.dead, win),
        flat=crop.crop_map(maps.flat, win),
        read=crop.crop_map(maps.read, win),
        linear_corr=crop.crop_map(maps.linear_corr, win),
    )


@dataclass(frozen=True)
class Selection:
    """The pixels read for one instrument and what each is used for.

    rows, cols: detector rows / columns read (sorted 1-D int arrays); the read pixels are their
        outer product, row-major.
    aperture: (len(rows), len(cols)) bool extraction pixels (a contiguous box).
    background: (len(rows), len(cols)) bool background pixels (may be all False).
    geometry: what was located (or fixed) and any problems found.
    """

    rows: np.ndarray
    cols: np.ndarray
    aperture: np.ndarray
    background: np.ndarray
    geometry: locate.Geometry

    @property
    def aperture_slices(self) -> tuple[slice, slice]:
        r = np.nonzero(self.aperture.any(axis=1))[0]
        c = np.nonzero(self.aperture.any(axis=0))[0]
        return slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1)


def _expand_ranges(ranges: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    return tuple(sorted({r for r0, r1 in ranges for r in range(r0, r1)}))


def _probe_image(
    path: Path, inst: InstrumentLayout, win: crop.Window, bad: np.ndarray, cfg: CalibrationConfig
) -> np.ndarray:
    """Median CDS image (win rows, win cols) of the first frames of the visit."""
    n_cds = cfg.params("locate").probe_cds * (1 if inst is AIRS else AIRS_TO_FGS_CDS)
    probe = reader.read_signal(path, inst, crop.pixel_index(inst, win), max_frames=2 * n_cds)
    return locate.median_cds_image(probe, win.shape, bad, cfg.params("adc").saturation_raw)


def select_airs(path: Path, win: crop.Window, bad: np.ndarray, cfg: CalibrationConfig) -> Selection:
    """Trace and background rows of AIRS (located in the data unless fixed by config)."""
    ep, gp, lp = cfg.params("extract"), cfg.params("background"), cfg.params("locate")
    want_bg = cfg.runs("background")
    fixed_bg = None if gp.airs_rows is None else _expand_ranges(gp.airs_rows)
    if cfg.runs("locate") and (ep.airs_rows is None or (want_bg and fixed_bg is None)):
        image = _probe_image(path, AIRS, win, bad, cfg)
        geo = locate.airs_geometry(image, win.row0, (win.col0, win.col1), lp, want_bg)
    else:
        geo = locate.Geometry(rows=ep.airs_rows, cols=(win.col0, win.col1))
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


def select_fgs(path: Path, win: crop.Window, bad: np.ndarray, cfg: CalibrationConfig) -> Selection:
    """FGS aperture (located in the data unless fixed) and the read window around it."""
    ep, gp, lp = cfg.params("extract"), cfg.params("background"), cfg.params("locate")
    want_bg = cfg.runs("background")
    if cfg.runs("locate") and (ep.fgs_rows is None or ep.fgs_cols is None):
        geo = locate.fgs_geometry(_probe_image(path, FGS, win, bad, cfg), (win.row0, win.col0), lp)
    else:
        geo = locate.Geometry(rows=ep.fgs_rows, cols=ep.fgs_cols)
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


def _select_maps(maps: reader.CalibrationMaps, rows: np.ndarray, cols: np.ndarray):
    """Calibration maps (already cropped to the window) at window-local rows x cols."""
    ix = np.ix_(rows, cols)
    return reader.CalibrationMaps(
        dark=maps.dark[ix],
        dead=maps.dead[ix],
        flat=maps.flat[ix],
        read=maps.read[ix],
        linear_corr=np.ascontiguousarray(maps.linear_corr[:, rows][:, :, cols]),
    )


def _step_records(
    cfg: CalibrationConfig, visit: int, geometry: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    cal = {inst.name: layout.calibration_dir_name(inst, visit) for inst in (AIRS, FGS)}

    def maps(name: str) -> list[str]:
        return [f"{cal[AIRS.name]}/{name}.parquet", f"{cal[FGS.name]}/{name}.parquet"]

    references = {
        "adc": [layout.ADC_INFO_CSV],
        "mask": maps("dark") + maps("dead"),
        "linearity": maps("linear_corr"),
        "dark": [*maps("dark"), layout.AXIS_INFO_PARQUET],
        "flat": maps("flat"),
        "bin": [layout.AXIS_INFO_PARQUET],
        "extract": maps("read") if cfg.params("extract").weights == "optimal" else [],
    }
    records = [
        {
            "name": name,
            "status": "SKIPPED" if cfg.steps[name].skip else "COMPLETE",
            "params": cfgmod.params_record(cfg.steps[name]),
            "reference_files": references.get(name, []) if not cfg.steps[name].skip else [],
        }
        for name in cfgmod.STEP_NAMES
    ]
    # The geometry used (located or fixed) is recorded whether or not locate ran.
    for record in records:
        if record["name"] == "locate":
            record["geometry"] = geometry
    return records


def _n_reads(path: Path, instrument: InstrumentLayout) -> int:
    return reader.open_parquet(path).metadata.num_rows


def calibrate_visit(
    data_dir: Path | str,
    split: str,
    planet_id: int,
    visit: int = 0,
    cfg: CalibrationConfig | None = None,
    timer: StepTimer | None = None,
) -> CalibratedVisit:
    """Calibrate one planet visit (both instruments) into a :class:`CalibratedVisit`.

    Reads only the cropped pixels of each signal, one instrument at a time, so peak memory is
    about one instrument's cropped raw uint16 frames plus one block of float frames.
    """
    data_dir = Path(data_dir)
    cfg = cfg or cfgmod.build_config()
    timer = timer or StepTimer()
    visits = reader.discover_visits(data_dir, split, planet_id)
    if visit not in visits:
        raise DataFormatError(
            f"{layout.planet_dir(data_dir, split, planet_id)}: expected visit {visit}, "
            f"found visits {visits}"
        )
    with timer("read"):
        adc_all = reader.read_adc_info(data_dir)
        axis = reader.read_axis_info(data_dir)
    cp, bp, ep = cfg.params("crop"), cfg.params("bin"), cfg.params("extract")
    wins = {
        AIRS.name: crop.window(AIRS, cp.airs_rows, cp.airs_cols),
        FGS.name: crop.window(FGS, cp.fgs_rows, cp.fgs_cols),
    }
    sizes = {AIRS.name: bp.airs_cds_per_bin, FGS.name: bp.fgs_cds_per_bin}
    sig_paths = {
        inst.name: layout.signal_path(data_dir, split, planet_id, inst, visit)
        for inst in (AIRS, FGS)
    }
    n_reads = {inst.name: _n_reads(sig_paths[inst.name], inst) for inst in (AIRS, FGS)}
    for inst in (AIRS, FGS):
        if n_reads[inst.name] % 2:
            raise DataFormatError(
                f"{sig_paths[inst.name]}: expected an even number of frames (start/end read "
                f"pairs), found {n_reads[inst.name]}"
            )
    bins_each = {k: n_reads[k] // 2 // sizes[k] for k in sizes}
    n_bins = min(bins_each.values())
    if bins_each[AIRS.name] != bins_each[FGS.name]:
        log.warning(
            "planet %s visit %s: AIRS gives %d bins, FGS %d; keeping the common %d",
            planet_id,
            visit,
            bins_each[AIRS.name],
            bins_each[FGS.name],
            n_bins,
        )
    if n_bins < 3:
        raise DataFormatError(
            f"{sig_paths[AIRS.name]}: expected at least 3 time bins of {sizes[AIRS.name]} AIRS / "
            f"{sizes[FGS.name]} FGS CDS frames, found {n_reads[AIRS.name]} AIRS and "
            f"{n_reads[FGS.name]} FGS reads ({n_bins} bins)"
        )
    n_airs_reads = n_bins * sizes[AIRS.name] * 2
    if axis.airs_time_h.size < n_airs_reads:
        raise DataFormatError(
            f"{data_dir / layout.AXIS_INFO_PARQUET}: expected at least {n_airs_reads} AIRS frame "
            f"times, found {axis.airs_time_h.size}"
        )
    dp = cfg.params("dark")
    read_dts = {
        AIRS.name: dark.read_dt(axis.airs_integration_time_s[:n_airs_reads], dp.end_read_extra_s),
        FGS.name: np.tile([dp.fgs_dt_start_s, dp.fgs_dt_end_s], n_bins * sizes[FGS.name]),
    }

    binned: dict[str, BinnedInstrument] = {}
    read_maps: dict[str, np.ndarray] = {}
    sel: dict[str, Selection] = {}
    for inst in (AIRS, FGS):
        win = wins[inst.name]
        where = str(
            layout.planet_dir(data_dir, split, planet_id) / layout.calibration_dir_name(inst, visit)
        )
        with timer("read"):
            maps = _crop_maps(reader.read_calibration(data_dir, split, planet_id, inst, visit), win)
        with timer("mask"):
            # On the whole crop window: the hot-pixel statistics do not depend on what is read.
            bad, invalid, inv_flat = static_masks(maps, cfg, where)
        with timer("locate"):
            choose = select_airs if inst is AIRS else select_fgs
            s_ = choose(sig_paths[inst.name], win, bad, cfg)
        sel[inst.name] = s_
        for problem in s_.geometry.problems:
            log.warning("planet %s visit %s %s: %s", planet_id, visit, inst.name, problem)
        local = (s_.rows - win.row0, s_.cols - win.col0)
        ix = np.ix_(*local)
        with timer("read"):
            raw = reader.read_signal(
                sig_paths[inst.name], inst, crop.selection_index(inst, s_.rows, s_.cols)
            )
        raw = raw[: n_bins * sizes[inst.name] * 2]
        log.debug("%s: %s reads x %d pixels", inst.name, raw.shape[0], raw.shape[1])
        picked = _select_maps(maps, *local)
        binned[inst.name] = bin_instrument(
            raw,
            picked,
            (bad[ix], invalid[ix], inv_flat[ix]),
            adc_all[inst.name],
            read_dts[inst.name],
            n_bins,
            sizes[inst.name],
            cfg,
            timer,
            where,
        )
        read_maps[inst.name] = picked.read
        del raw

    # --- phase 3: per time bin -------------------------------------------------------------
    sa, sf = sel[AIRS.name], sel[FGS.name]
    pdir = layout.planet_dir(data_dir, split, planet_id)
    with timer("mask"):
        filled_airs = fill_bad(
            binned[AIRS.name], sa.aperture, cfg, str(pdir / sig_paths[AIRS.name].name)
        )
        filled_fgs = fill_bad(
            binned[FGS.name], sf.aperture, cfg, str(pdir / sig_paths[FGS.name].name)
        )
    airs_cube, fgs_cube = binned[AIRS.name].cube, binned[FGS.name].cube
    if cfg.runs("background"):
        with timer("background"):
            gp = cfg.params("background")
            bg_rows = sa.background.any(axis=1)
            if bg_rows.any():
                level = background.airs_level(airs_cube, bg_rows, gp.airs_per_column)
                airs_cube -= background.over_time(level, gp.time)
            if sf.background.any():
                level = background.fgs_level(fgs_cube, sf.background)
                fgs_cube -= background.over_time(level, gp.time)
    ar, _ = sa.aperture_slices
    trace = airs_cube[:, ar, :]
    trace_row0 = int(sa.rows[ar.start])
    fr, fc = sf.aperture_slices
    fgs_ap = fgs_cube[:, fr, fc]
    regressor_names: list[str] = []
    regressors = np.zeros((n_bins, 0))
    if cfg.runs("jitter"):
        with timer("jitter"):
            fx, fy = jitter.centroid(fgs_ap)
            ty, tw = jitter.trace_position(trace, trace_row0)
            regressors = np.column_stack([fx + sf.cols[fc.start], fy + sf.rows[fr.start], ty, tw])
            regressor_names = list(jitter.REGRESSOR_NAMES)
    with timer("extract"):
        weights = None
        if ep.weights == "optimal":
            weights = extract.optimal_weights(trace.mean(axis=0), read_maps[AIRS.name][ar])
        airs_flux = extract.extract(trace, weights)  # (n_bins, cols) descending wavelength
        fgs_flux = extract.white(fgs_ap)
        flux = np.column_stack([fgs_flux, airs_flux[:, ::-1]])
        flux_err = point_to_point_error(flux)
    q_airs = _quality(binned[AIRS.name], sa.aperture, filled_airs, cfg)
    q_fgs = np.bitwise_or.reduce(_quality(binned[FGS.name], sf.aperture, filled_fgs, cfg))
    if sa.geometry.problems:
        q_airs |= np.uint16(Quality.GEOMETRY)
    if sf.geometry.problems:
        q_fgs |= np.uint16(Quality.GEOMETRY)
    quality = np.concatenate([[q_fgs], q_airs[::-1]]).astype(np.uint16)
    if not np.all(np.isfinite(flux)):
        raise DataFormatError(f"{pdir}: calibration produced non-finite flux (visit {visit})")

    with timer("bin"):
        time_h = bin.bin_times(axis.airs_time_h, sizes[AIRS.name], n_bins) - axis.airs_time_h[0]
    n_flagged = int(np.count_nonzero(quality))
    if n_flagged:
        log.info("planet %s visit %s: %d channels flagged", planet_id, visit, n_flagged)
    meta = {
        "planet_id": int(planet_id),
        "split": split,
        "visit": int(visit),
        "preset": cfg.preset,
        "dtype": cfg.dtype,
        "bin_seconds": float(sizes[AIRS.name] * AIRS.cds_cadence_s),
        "n_bins": int(n_bins),
        "flux_unit": (
            "counts per CDS frame, mean over the bin"
            if cfg.params("bin").statistic == "mean"
            else f"counts summed over the {sizes[AIRS.name]} AIRS / {sizes[FGS.name]} FGS "
            "CDS frames of a bin"
        ),
        "regressor_names": regressor_names,
        "steps": _step_records(
            cfg, visit, {AIRS.name: sa.geometry.record(), FGS.name: sf.geometry.record()}
        ),
        "spectramind_version": __version__,
    }
    return CalibratedVisit(time_h, flux, flux_err, quality, regressors, meta)
