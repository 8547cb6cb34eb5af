"""The calibration pipeline: one planet visit of raw frames -> a calibrated visit file.

The steps (:data:`spectramind.calibrate.steps.REGISTRY`) run in registry order within each
phase of :class:`spectramind.calibrate.state.Phase`; :func:`run_steps` is the one place that
skips, times and runs them, :func:`step_records` the one place that records them. Per
instrument (one at a time, so peak memory is about one instrument's selected raw frames):

1. MAPS: the calibration maps are read, then ``crop``, ``mask``, ``dark`` (dt), ``flat``
   (validity) build the window's static products;
2. SELECT: ``locate`` finds the light in a probe of the first frames; the pixels to read
   follow (:mod:`spectramind.calibrate.selection`);
3. READS and CDS, per block of selected pixels with all their reads (``chunk_values`` raw
   values per block bound memory), decoded from parquet straight into a pixel-major buffer:
   ``adc`` -> ``linearity`` -> ``cds``, then ``dark`` -> ``flat`` -> ``cosmic`` -> ``bin``, by
   default in one compiled pass per pixel (:mod:`spectramind.calibrate.fused`, bit-identical to
   the steps' numpy functions). Dark subtraction is linear and follows the linearity
   correction, so it is applied to the CDS frame with dt_end - dt_start (same result as per
   read, half the work).

Then, per visit: masked pixels and empty pixel-bins are filled (``mask.fill``), and IMAGES:
``bin`` (times), ``background``, ``jitter``, ``extract``.

The output records every step as COMPLETE or SKIPPED with its parameters and the reference
files it used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from spectramind import __version__
from spectramind.artifacts.calibrated import CalibratedVisit
from spectramind.calibrate import config as cfgmod
from spectramind.calibrate import selection, steps
from spectramind.calibrate.config import CalibrationConfig
from spectramind.calibrate.product import Quality
from spectramind.calibrate.state import (
    BinnedInstrument,
    FrameBlock,
    InstrumentState,
    Phase,
    Selection,
    VisitState,
    reference_paths,
)
from spectramind.calibrate.steps import crop, mask
from spectramind.data import layout, reader
from spectramind.data.layout import AIRS, FGS, InstrumentLayout
from spectramind.errors import DataFormatError

log = logging.getLogger(__name__)

State = TypeVar("State")


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


def run_steps(phase: Phase, state: State, cfg: CalibrationConfig, timer: StepTimer) -> State:
    """Run the steps that act in ``phase`` and are not skipped, in registry order."""
    for step in steps.REGISTRY:
        if phase in step.PHASES and cfg.runs(step.NAME):
            with timer(step.NAME):
                state = step.run(state, cfg.params(step.NAME))
    return state


def step_records(
    cfg: CalibrationConfig, visit: int, geometry: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One record per registered step: status, parameters, reference files used.

    The geometry used (located or fixed) is recorded with ``locate`` whether or not it ran.
    """
    records = []
    for step in steps.REGISTRY:
        setting = cfg.steps[step.NAME]
        references = step.references(setting.params)
        record = {
            "name": step.NAME,
            "status": "SKIPPED" if setting.skip else "COMPLETE",
            "params": cfgmod.params_record(setting),
            "reference_files": [] if setting.skip else reference_paths(references, visit),
        }
        if step.NAME == "locate":
            record["geometry"] = geometry
        records.append(record)
    return records


def frame_steps(cfg: CalibrationConfig) -> tuple[str, ...]:
    """Names of the steps that run in the READS then the CDS phase, in execution order."""
    return tuple(
        s.NAME
        for phase in (Phase.READS, Phase.CDS)
        for s in steps.REGISTRY
        if phase in s.PHASES and cfg.runs(s.NAME)
    )


def bin_frames(
    signal: reader.SignalFile,
    state: InstrumentState,
    sel: Selection,
    n_bins: int,
    size: int,
    timer: StepTimer,
    engine: str = "auto",
) -> BinnedInstrument:
    """Phases READS and CDS for one instrument, in blocks of pixels (all reads of each).

    Each block's reads are decoded straight into a pixel-major buffer (each pixel's time
    series contiguous) and calibrated and binned there, while a helper thread decodes the next
    block (pyarrow and the kernel both release the GIL); ``chunk_values`` raw values per block
    bound the memory. ``engine``: ``"fused"`` runs the frame steps in one compiled pass per
    pixel (:mod:`spectramind.calibrate.fused`), ``"numpy"`` calls each step's ``run`` on the
    block, ``"auto"`` the first when the kernel implements every frame step that runs. Both
    give the same bits.

    Args:
        signal: the instrument's signal file (probed by ``locate`` or not).
        state: the instrument after phases MAPS and SELECT (window-wide maps and masks).
        sel: the pixels to read; n_bins: time bins to produce; size: CDS frames per bin.
    """
    cfg = state.config
    if engine == "auto":
        engine = "fused" if fused_runs(cfg) else "numpy"
    rows, cols = sel.rows.size, sel.cols.size
    n_pix = rows * cols
    n_reads = 2 * n_bins * size
    dtype = np.dtype(cfg.dtype)
    ix = np.ix_(sel.rows - state.window.row0, sel.cols - state.window.col0)
    maps = state.maps
    linear_corr = maps.linear_corr[:, ix[0][:, 0]][:, :, ix[1][0]]
    coeffs = np.ascontiguousarray(linear_corr).reshape(linear_corr.shape[0], n_pix).astype(dtype)
    dark_map = maps.dark[ix].reshape(n_pix)
    inv_flat = state.inv_flat[ix].reshape(n_pix)
    index = crop.selection_index(state.instrument, sel.rows, sel.cols)

    binned = np.empty((n_pix, n_bins), dtype=np.float64)  # pixel-major
    empty = np.zeros((n_pix, n_bins), dtype=bool)
    n_sat = np.zeros(n_pix, dtype=np.int64)
    n_cr = np.zeros(n_pix, dtype=np.int64)
    block_pixels = max(1, cfg.chunk_values // n_reads)
    blocks = [slice(j0, min(n_pix, j0 + block_pixels)) for j0 in range(0, n_pix, block_pixels)]
    with ThreadPoolExecutor(max_workers=1) as prefetch:
        pending = prefetch.submit(signal.read_pixels, index[blocks[0]], n_reads)
        for k, j in enumerate(blocks):
            with timer("read"):
                raw = pending.result()  # (pixels, reads)
            if k + 1 < len(blocks):
                pending = prefetch.submit(signal.read_pixels, index[blocks[k + 1]], n_reads)
            if engine == "fused":
                from spectramind.calibrate import fused

                with timer("frames (fused)"):
                    fused.run(
                        raw, n_bins, size, cfg, state.adc, coeffs[:, j], dark_map[j],
                        state.cds_dt, inv_flat[j], binned[j], empty[j], n_sat[j], n_cr[j],
                    )  # fmt: skip
                continue
            block = FrameBlock(
                reads=raw.T,
                dtype=dtype,
                adc=state.adc,
                coeffs=coeffs[:, j],
                dark=dark_map[j],
                inv_flat=inv_flat[j],
                cds_dt=state.cds_dt,
                size=size,
                n_saturated=n_sat[j],
                n_cosmic=n_cr[j],
            )
            block = run_steps(Phase.READS, block, cfg, timer)
            block = run_steps(Phase.CDS, block, cfg, timer)
            binned[j] = block.binned.T
            empty[j] = block.empty.T
    n_sat = n_sat.reshape(rows, cols)
    n_cds = n_bins * size
    persistent = steps.adc.persistently_saturated(
        n_sat, n_cds, cfg.params("adc").mask_saturated_fraction
    )
    if persistent.any():
        log.info(
            "%s: %d pixels saturated in more than %.3g of their %d frames: masked for the visit",
            state.instrument.name,
            int(persistent.sum()),
            cfg.params("adc").mask_saturated_fraction,
            n_cds,
        )
    return BinnedInstrument(
        cube=np.ascontiguousarray(binned.T).reshape(n_bins, rows, cols),
        bad=state.bad[ix] | persistent,
        flat_invalid=state.flat_invalid[ix],
        # A masked pixel is filled in every bin: its own empty bins no longer count.
        empty=np.ascontiguousarray(empty.T).reshape(n_bins, rows, cols) & ~persistent,
        # A masked pixel's frames no longer count as rejected (the channel is flagged through
        # MASKED_MANY instead, when too many of its pixels are masked).
        saturated=np.where(persistent, 0, n_sat),
        cosmic=n_cr.reshape(rows, cols),
        n_cds=n_cds,
    )


def fused_runs(cfg: CalibrationConfig) -> bool:
    """Whether engine "auto" runs the frame steps of ``cfg`` with the compiled kernel: numba
    is installed and the kernel implements every frame step that runs."""
    import importlib.util

    from spectramind.calibrate import fused

    return importlib.util.find_spec("numba") is not None and fused.supports(frame_steps(cfg))


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


def calibrate_visit(
    data_dir: Path | str,
    split: str,
    planet_id: int,
    visit: int = 0,
    cfg: CalibrationConfig | None = None,
    timer: StepTimer | None = None,
    engine: str = "auto",
) -> CalibratedVisit:
    """Calibrate one planet visit (both instruments) into a :class:`CalibratedVisit`.

    Decodes only the parquet columns of the pixels it needs, one instrument at a time and in
    blocks of pixels, so peak memory is about the probe's first row groups plus one block.
    ``engine``: how the frame steps run (:func:`bin_frames`); every choice gives the same bits.
    """
    if engine not in ("auto", "fused", "numpy"):
        raise ValueError(f"engine: expected auto, fused or numpy, found {engine!r}")
    data_dir = Path(data_dir)
    cfg = cfg or cfgmod.build_config()
    timer = timer or StepTimer()
    with ThreadPoolExecutor(max_workers=1) as helper:
        # The kernel's import and cache load (CPU, mostly Python) overlap the reading below.
        warm = None
        if engine == "fused" or (engine == "auto" and fused_runs(cfg)):
            from spectramind.calibrate import fused

            warm = helper.submit(fused.warm_up, cfg.dtype)
        result = _calibrate_visit(data_dir, split, planet_id, visit, cfg, timer, engine)
        if warm is not None:
            warm.result()  # re-raise anything the warm-up hit (it ran before the kernel did)
    return result


def _calibrate_visit(
    data_dir: Path,
    split: str,
    planet_id: int,
    visit: int,
    cfg: CalibrationConfig,
    timer: StepTimer,
    engine: str,
) -> CalibratedVisit:
    visits = reader.discover_visits(data_dir, split, planet_id)
    pdir = layout.planet_dir(data_dir, split, planet_id)
    if visit not in visits:
        raise DataFormatError(f"{pdir}: expected visit {visit}, found visits {visits}")
    with timer("read"):
        adc = reader.read_adc_info(data_dir)
        axis = reader.read_axis_info(data_dir)
        signals = {
            inst.name: reader.SignalFile(
                layout.signal_path(data_dir, split, planet_id, inst, visit), inst
            )
            for inst in (AIRS, FGS)
        }
    n_bins = _common_bins(signals, cfg, axis, data_dir, f"planet {planet_id} visit {visit}")

    binned: dict[str, BinnedInstrument] = {}
    read_noise: dict[str, np.ndarray] = {}
    sel: dict[str, Selection] = {}
    for inst in (AIRS, FGS):
        with timer("read"):
            maps = reader.read_calibration(data_dir, split, planet_id, inst, visit)
        state = InstrumentState(
            instrument=inst,
            config=cfg,
            where=str(pdir / layout.calibration_dir_name(inst, visit)),
            maps=maps,
            adc=adc[inst.name],
            axis=axis,
            n_reads=2 * n_bins * _bin_size(cfg, inst),
            probe=_probe_reader(signals[inst.name], inst),
        )
        state = run_steps(Phase.MAPS, state, cfg, timer)
        state = run_steps(Phase.SELECT, state, cfg, timer)
        s_ = sel[inst.name] = selection.select(state)
        for problem in s_.geometry.problems:
            log.warning("planet %s visit %s %s: %s", planet_id, visit, inst.name, problem)
        signal = signals.pop(inst.name)  # its probe's rows are dropped after this instrument
        binned[inst.name] = bin_frames(
            signal, state, s_, n_bins, _bin_size(cfg, inst), timer, engine
        )
        local = np.ix_(s_.rows - state.window.row0, s_.cols - state.window.col0)
        read_noise[inst.name] = state.maps.read[local]

    # --- per visit: fill what is masked, then phase IMAGES ---------------------------------
    with timer("mask"):
        filled = {
            inst.name: fill_bad(
                binned[inst.name],
                sel[inst.name].aperture,
                cfg,
                str(pdir / layout.signal_name(inst, visit)),
            )
            for inst in (AIRS, FGS)
        }
    images = VisitState(cfg, axis, n_bins, binned, sel, read_noise)
    images.regressors = np.zeros((n_bins, 0))
    images = run_steps(Phase.IMAGES, images, cfg, timer)
    if not np.all(np.isfinite(images.flux)):
        raise DataFormatError(f"{pdir}: calibration produced non-finite flux (visit {visit})")
    quality = _visit_quality(binned, sel, filled, cfg)
    n_flagged = int(np.count_nonzero(quality))
    if n_flagged:
        log.info("planet %s visit %s: %d channels flagged", planet_id, visit, n_flagged)
    meta = _visit_meta(cfg, split, planet_id, visit, n_bins, images)
    return CalibratedVisit(
        images.time_h, images.flux, images.flux_err, quality, images.regressors, meta
    )


def _bin_size(cfg: CalibrationConfig, inst: InstrumentLayout) -> int:
    """CDS frames per time bin of ``inst``."""
    bp = cfg.params("bin")
    return bp.airs_cds_per_bin if inst.name == AIRS.name else bp.fgs_cds_per_bin


def _common_bins(
    signals: dict[str, reader.SignalFile],
    cfg: CalibrationConfig,
    axis: reader.AxisInfo,
    data_dir: Path,
    what: str,
) -> int:
    """Time bins both instruments fill (at least 3), checked against the AIRS frame times."""
    size = {inst.name: _bin_size(cfg, inst) for inst in (AIRS, FGS)}
    n_reads = {name: signal.n_frames for name, signal in signals.items()}
    bins_each = {name: n_reads[name] // 2 // size[name] for name in size}
    n_bins = min(bins_each.values())
    if bins_each[AIRS.name] != bins_each[FGS.name]:
        log.warning(
            "%s: AIRS gives %d bins, FGS %d; keeping the common %d",
            what,
            bins_each[AIRS.name],
            bins_each[FGS.name],
            n_bins,
        )
    if n_bins < 3:
        raise DataFormatError(
            f"{signals[AIRS.name].path}: expected at least 3 time bins of {size[AIRS.name]} "
            f"AIRS / {size[FGS.name]} FGS CDS frames, found {n_reads[AIRS.name]} AIRS and "
            f"{n_reads[FGS.name]} FGS reads ({n_bins} bins)"
        )
    n_airs_reads = n_bins * size[AIRS.name] * 2
    if axis.airs_time_h.size < n_airs_reads:
        raise DataFormatError(
            f"{data_dir / layout.AXIS_INFO_PARQUET}: expected at least {n_airs_reads} AIRS frame "
            f"times, found {axis.airs_time_h.size}"
        )
    return n_bins


def _visit_quality(
    binned: dict[str, BinnedInstrument],
    sel: dict[str, Selection],
    filled: dict[str, np.ndarray],
    cfg: CalibrationConfig,
) -> np.ndarray:
    """(283,) uint16 quality bits: FGS (its aperture's columns combined), then AIRS ascending."""
    q = {
        name: _quality(binned[name], sel[name].aperture, filled[name], cfg)
        for name in (AIRS.name, FGS.name)
    }
    q_airs, q_fgs = q[AIRS.name], np.bitwise_or.reduce(q[FGS.name])
    if sel[AIRS.name].geometry.problems:
        q_airs |= np.uint16(Quality.GEOMETRY)
    if sel[FGS.name].geometry.problems:
        q_fgs |= np.uint16(Quality.GEOMETRY)
    return np.concatenate([[q_fgs], q_airs[::-1]]).astype(np.uint16)


def _visit_meta(
    cfg: CalibrationConfig,
    split: str,
    planet_id: int,
    visit: int,
    n_bins: int,
    images: VisitState,
) -> dict[str, Any]:
    """The calibrated visit's ``meta`` (docs/CONTRACTS.md)."""
    airs_size, fgs_size = _bin_size(cfg, AIRS), _bin_size(cfg, FGS)
    geometry = {name: images.selection[name].geometry.record() for name in (AIRS.name, FGS.name)}
    return {
        "planet_id": int(planet_id),
        "split": split,
        "visit": int(visit),
        "preset": cfg.preset,
        "dtype": cfg.dtype,
        "bin_seconds": float(airs_size * AIRS.cds_cadence_s),
        "n_bins": int(n_bins),
        "flux_unit": (
            "counts per CDS frame, mean over the bin"
            if cfg.params("bin").statistic == "mean"
            else f"counts summed over the {airs_size} AIRS / {fgs_size} FGS CDS frames of a bin"
        ),
        "regressor_names": images.regressor_names,
        "steps": step_records(cfg, visit, geometry),
        "spectramind_version": __version__,
    }


def _probe_reader(
    signal: reader.SignalFile, inst: InstrumentLayout
) -> Callable[[crop.Window, int], np.ndarray]:
    """``probe(window, n_reads)``: the first raw reads of the window's pixels (time-major)."""

    def probe(window: crop.Window, n: int) -> np.ndarray:
        return signal.probe(crop.pixel_index(inst, window), n)

    return probe
