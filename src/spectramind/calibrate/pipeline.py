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
    mask,
)
from spectramind.data import layout, reader
from spectramind.data.layout import AIRS, FGS, InstrumentLayout
from spectramind.errors import DataFormatError

log = logging.getLogger(__name__)


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
        raw: (n_reads, rows * cols) uint16 raw reads of the cropped window.
        maps: calibration maps cropped to the window, (rows, cols) / (6, rows, cols).
        read_dt: (n_reads,) dark exposure per read [s].
        n_bins: time bins to produce; size: CDS frames per bin.
        where: the calibration folder, for messages.
    """
    rows, cols = maps.dark.shape
    n_pix = rows * cols
    dtype = np.dtype(cfg.dtype)
    with timer("mask"):
        bad, invalid, inv_flat = static_masks(maps, cfg, where)
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


def _aperture(win: crop.Window, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """(win rows, win cols) bool of the detector window [rows) x [cols) inside ``win``."""
    ap = np.zeros(win.shape, dtype=bool)
    ap[rows[0] - win.row0 : rows[1] - win.row0, cols[0] - win.col0 : cols[1] - win.col0] = True
    return ap


def _step_records(cfg: CalibrationConfig, visit: int) -> list[dict[str, Any]]:
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
    return [
        {
            "name": name,
            "status": "SKIPPED" if cfg.steps[name].skip else "COMPLETE",
            "params": cfgmod.params_record(cfg.steps[name]),
            "reference_files": references.get(name, []) if not cfg.steps[name].skip else [],
        }
        for name in cfgmod.STEP_NAMES
    ]


def _n_reads(path: Path, instrument: InstrumentLayout) -> int:
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    return pq.ParquetFile(path).metadata.num_rows


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
    for inst in (AIRS, FGS):
        win = wins[inst.name]
        where = str(
            layout.planet_dir(data_dir, split, planet_id) / layout.calibration_dir_name(inst, visit)
        )
        with timer("read"):
            maps = _crop_maps(reader.read_calibration(data_dir, split, planet_id, inst, visit), win)
            raw = reader.read_signal(sig_paths[inst.name], inst, crop.pixel_index(inst, win))
        raw = raw[: n_bins * sizes[inst.name] * 2]
        log.debug("%s: %s reads x %d pixels", inst.name, raw.shape[0], raw.shape[1])
        binned[inst.name] = bin_instrument(
            raw,
            maps,
            adc_all[inst.name],
            read_dts[inst.name],
            n_bins,
            sizes[inst.name],
            cfg,
            timer,
            where,
        )
        read_maps[inst.name] = maps.read
        del raw

    # --- phase 3: per time bin -------------------------------------------------------------
    wa, wf = wins[AIRS.name], wins[FGS.name]
    ap_airs = _aperture(wa, ep.airs_rows, (wa.col0, wa.col1))
    ap_fgs = _aperture(wf, ep.fgs_rows, ep.fgs_cols)
    pdir = layout.planet_dir(data_dir, split, planet_id)
    with timer("mask"):
        filled_airs = fill_bad(
            binned[AIRS.name], ap_airs, cfg, str(pdir / sig_paths[AIRS.name].name)
        )
        filled_fgs = fill_bad(binned[FGS.name], ap_fgs, cfg, str(pdir / sig_paths[FGS.name].name))
    airs_cube, fgs_cube = binned[AIRS.name].cube, binned[FGS.name].cube
    if cfg.runs("background"):
        with timer("background"):
            gp = cfg.params("background")
            rows = np.zeros(wa.shape[0], dtype=bool)
            for r0, r1 in gp.airs_rows:
                rows[max(r0, wa.row0) - wa.row0 : max(min(r1, wa.row1) - wa.row0, 0)] = True
            if not rows.any():
                raise DataFormatError(
                    f"{pdir}: background rows {gp.airs_rows} lie outside the AIRS crop "
                    f"{cp.airs_rows}"
                )
            level = background.airs_level(airs_cube, rows, gp.airs_per_column)
            airs_cube -= background.over_time(level, gp.time)
            level = background.fgs_level(
                fgs_cube, background.border_mask(wf.shape, gp.fgs_border_px)
            )
            fgs_cube -= background.over_time(level, gp.time)
    trace = airs_cube[:, ep.airs_rows[0] - wa.row0 : ep.airs_rows[1] - wa.row0, :]
    fgs_ap = fgs_cube[
        :,
        ep.fgs_rows[0] - wf.row0 : ep.fgs_rows[1] - wf.row0,
        ep.fgs_cols[0] - wf.col0 : ep.fgs_cols[1] - wf.col0,
    ]
    regressor_names: list[str] = []
    regressors = np.zeros((n_bins, 0))
    if cfg.runs("jitter"):
        with timer("jitter"):
            fx, fy = jitter.centroid(fgs_ap)
            ty, tw = jitter.trace_position(trace, ep.airs_rows[0])
            regressors = np.column_stack([fx + ep.fgs_cols[0], fy + ep.fgs_rows[0], ty, tw])
            regressor_names = list(jitter.REGRESSOR_NAMES)
    with timer("extract"):
        weights = None
        if ep.weights == "optimal":
            read_trace = read_maps[AIRS.name][ep.airs_rows[0] - wa.row0 : ep.airs_rows[1] - wa.row0]
            weights = extract.optimal_weights(trace.mean(axis=0), read_trace)
        airs_flux = extract.extract(trace, weights)  # (n_bins, cols) descending wavelength
        fgs_flux = extract.white(fgs_ap)
        flux = np.column_stack([fgs_flux, airs_flux[:, ::-1]])
        flux_err = point_to_point_error(flux)
    q_airs = _quality(binned[AIRS.name], ap_airs, filled_airs, cfg)
    q_fgs = np.bitwise_or.reduce(_quality(binned[FGS.name], ap_fgs, filled_fgs, cfg))
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
        "steps": _step_records(cfg, visit),
        "spectramind_version": __version__,
    }
    return CalibratedVisit(time_h, flux, flux_err, quality, regressors, meta)
