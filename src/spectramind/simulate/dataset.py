"""Write a complete synthetic ADC 2025 dataset in the exact FORMAT.md layout.

:func:`simulate_dataset` draws every planet (:mod:`.planet`), writes its visits' raw signals in
time blocks (one parquet row group per block, so memory stays bounded at full size) and its
calibration maps, then the shared tables. Planets are independent tasks of a process pool.
Everything goes to temporary siblings that are renamed into place at the end, so a failure
leaves no partial dataset.
"""

from __future__ import annotations

import csv
import logging
import shutil
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spectramind.data import layout
from spectramind.data.layout import AIRS, FGS, InstrumentLayout
from spectramind.errors import ConfigError
from spectramind.io import atomic_path
from spectramind.simulate import constants as c
from spectramind.simulate import detector, planet, variants
from spectramind.simulate.planet import PlanetTruth

log = logging.getLogger(__name__)

# Frames per parquet row group and per generation block. Fixed numbers: the output bytes must
# not depend on anything but the arguments.
AIRS_BLOCK_CDS = 256  # 512 frames x 11392 px: ~47 MB of float64 per working array
FGS_BLOCK_CDS = 2048  # 4096 frames x 1024 px: ~34 MB
GROUP_FRAMES = {"AIRS-CH0": 2048, "FGS1": 16384}  # parquet row group: ~47 MB / ~34 MB uint16
# Values written to sample_submission.csv: the train-label mean and std of FORMAT.md section 4.
SAMPLE_MU = 0.014689
SAMPLE_SIGMA = 0.0106613


@dataclass(frozen=True)
class SimulationConfig:
    """Arguments of one simulated dataset."""

    n_train: int  # planets in train/
    n_test: int  # planets in test/
    seed: int  # root seed: planet (split, index) draws from SeedSequence(seed, (split, index, .))
    frames_scale: float = 0.05  # fraction of the real 11250 / 135000 frames (1.0 = full size)
    second_visit_fraction: float = 0.1  # probability that a planet has a second visit
    workers: int = 1  # processes over planets (does not change the output)
    # Simulator variants (:mod:`.variants`), each changing one aspect; () = the default simulator
    variants: tuple[str, ...] = ()

    @property
    def airs_wavelength_um(self) -> np.ndarray | None:
        """(356,) the perturbed AIRS grid of a ``wavelengths`` dataset, else None (closed form)."""
        if variants.WAVELENGTHS in self.variants:
            return variants.perturbed_airs_wavelengths(self.seed)
        return None

    @property
    def n_airs_cds(self) -> int:
        """AIRS CDS frames per visit (FGS has 12x as many)."""
        return max(1, round(AIRS.full_cds_frames * self.frames_scale))

    def validate(self) -> None:
        if self.n_train < 0 or self.n_test < 0 or self.n_train + self.n_test == 0:
            raise ConfigError(
                f"expected --train/--test >= 0 with at least one planet, found "
                f"{self.n_train}/{self.n_test}"
            )
        if not 0 < self.frames_scale <= 1:
            raise ConfigError(f"expected --frames-scale in (0, 1], found {self.frames_scale}")
        if self.n_airs_cds < 20:
            raise ConfigError(
                f"expected --frames-scale >= {20 / AIRS.full_cds_frames:.4f} (20 AIRS CDS frames "
                f"to hold a transit and its baseline), found {self.frames_scale}"
            )
        if not 0 <= self.second_visit_fraction <= 1:
            raise ConfigError(
                f"expected --second-visit-fraction in [0, 1], found {self.second_visit_fraction}"
            )
        if self.workers < 1:
            raise ConfigError(f"expected --workers >= 1, found {self.workers}")
        if tuple(self.variants) != variants.parse_variants(self.variants):
            raise ConfigError(
                f"expected variants among {', '.join(variants.VARIANTS)} in that order, found "
                f"{', '.join(self.variants)}"
            )


def truth_csv_path(data_dir: Path | str) -> Path:
    """``<data_dir>.truth.csv``: test planets' true spectra, beside the dataset folder."""
    data_dir = Path(data_dir)
    return data_dir.with_name(data_dir.name + ".truth.csv")


def truth_dir_path(data_dir: Path | str) -> Path:
    """``<data_dir>.truth/``: per-planet truth ``<split>/<planet_id>.npz``, beside the dataset."""
    data_dir = Path(data_dir)
    return data_dir.with_name(data_dir.name + ".truth")


# --- parquet writers ---------------------------------------------------------------------------


def write_table_parquet(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write equal-length numpy columns as one parquet row group (atomic)."""
    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    with atomic_path(path, ".parquet") as tmp:
        pq.write_table(table, tmp, compression="snappy")


def write_matrix_parquet(path: Path, matrix: np.ndarray) -> None:
    """A 2-D array as parquet with one string-named column per matrix column."""
    write_table_parquet(
        path, {str(j): np.ascontiguousarray(matrix[:, j]) for j in range(matrix.shape[1])}
    )


def write_signal_parquet(
    path: Path, instrument: InstrumentLayout, blocks: Iterable[np.ndarray], group_frames: int
) -> int:
    """Stream raw frame blocks ((frames, pixels) uint16) into row groups of ``group_frames``.

    Returns the number of frames written. Large row groups keep the per-column-chunk overhead
    of readers low (11392 columns per row group for AIRS).
    """
    names = [str(j) for j in range(instrument.pixels_per_frame)]
    schema = pa.schema([pa.field(name, pa.uint16(), nullable=False) for name in names])
    n_frames = 0

    def flush(writer: pq.ParquetWriter, pending: list[np.ndarray]) -> None:
        by_column = np.ascontiguousarray(np.concatenate(pending).T)  # (pixels, frames)
        arrays = [pa.array(by_column[j]) for j in range(by_column.shape[0])]
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))

    with atomic_path(path, ".parquet") as tmp:
        # No dictionary (noisy counts) and no statistics: faster, and a smaller footer.
        with pq.ParquetWriter(
            tmp, schema, compression="snappy", use_dictionary=False, write_statistics=False
        ) as writer:
            pending: list[np.ndarray] = []
            n_pending = 0
            for block in blocks:
                pending.append(block)
                n_pending += block.shape[0]
                n_frames += block.shape[0]
                if n_pending >= group_frames:
                    flush(writer, pending)
                    pending, n_pending = [], 0
            if pending:
                flush(writer, pending)
    return n_frames


# --- one planet ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanetTask:
    split: str
    index: int
    seed: int
    n_airs_cds: int
    second_visit_fraction: float
    data_dir: Path  # the (temporary) dataset folder
    truth_dir: Path  # the (temporary) truth folder
    variants: tuple[str, ...] = ()

    def draw(self) -> PlanetTruth:
        """The planet's truth (no files written)."""
        return planet.draw_planet(
            self.seed,
            self.split,
            self.index,
            self.n_airs_cds,
            self.second_visit_fraction,
            self.variants,
        )


def simulate_planet(task: PlanetTask) -> PlanetTruth:
    """Draw one planet and write all its files; returns its truth."""
    truth = task.draw()
    cosmics = variants.COSMICS in task.variants
    adc = layout.ADC_DEFAULT
    for v in range(len(truth.visits)):
        curves = planet.visit_light_curves(truth, v)
        vt = truth.visits[v]
        for k, inst in enumerate((AIRS, FGS)):
            maps_rng = planet.planet_rng(
                task.seed, task.split, task.index, planet.PURPOSE_MAPS + 2 * v + k
            )
            maps = detector.draw_maps(maps_rng, inst, negative_darks=task.split == "test")
            extra = None
            if cosmics:
                maps, extra = _cosmics_variant(task, maps, inst, v, k)
            _write_calibration(task.data_dir, truth, inst, v, maps)
            noise = planet.planet_rng(
                task.seed, task.split, task.index, planet.PURPOSE_NOISE + 2 * v + k
            )
            if inst is AIRS:
                blocks = detector.airs_frame_blocks(
                    noise,
                    maps,
                    curves.airs_flux,
                    curves.airs_jitter_px,
                    truth.airs_trace_row,
                    truth.airs_trace_sigma,
                    vt.airs_background,
                    adc["offset"],
                    adc["gain"],
                    AIRS_BLOCK_CDS,
                    extra,
                )
            else:
                blocks = detector.fgs_frame_blocks(
                    noise,
                    maps,
                    curves.fgs_flux,
                    curves.fgs_jitter_px,
                    truth.fgs_psf_sigma,
                    vt.fgs_background,
                    adc["offset"],
                    adc["gain"],
                    FGS_BLOCK_CDS,
                    extra,
                )
            path = layout.signal_path(task.data_dir, task.split, truth.planet_id, inst, v)
            write_signal_parquet(path, inst, blocks, GROUP_FRAMES[inst.name])
    planet.save_truth(task.truth_dir / task.split / f"{truth.planet_id}.npz", truth)
    return truth


def _cosmics_variant(
    task: PlanetTask, maps: detector.DetectorMaps, inst: InstrumentLayout, visit: int, k: int
) -> tuple[detector.DetectorMaps, variants.CosmicModel]:
    """More (and noisy) hot pixels in the maps, and the extra cosmic-ray model, of a visit."""
    from dataclasses import replace

    maps_rng = planet.planet_rng(
        task.seed, task.split, task.index, variants.PURPOSE_COSMIC_MAPS + 2 * visit + k
    )
    hits_rng = planet.planet_rng(
        task.seed, task.split, task.index, variants.PURPOSE_COSMIC_HITS + 2 * visit + k
    )
    rate = c.AIRS_COSMIC_RATE if inst is AIRS else c.FGS_COSMIC_RATE
    model = variants.CosmicModel(hits_rng, (variants.COSMIC_RATE_FACTOR - 1.0) * rate)
    return replace(maps, dark=variants.add_hot_pixels(maps_rng, maps.dark)), model


def _write_calibration(
    data_dir: Path,
    truth: PlanetTruth,
    inst: InstrumentLayout,
    visit: int,
    maps: detector.DetectorMaps,
) -> None:
    values = {
        "dark": maps.dark,
        "dead": maps.dead,
        "flat": maps.flat,
        "read": maps.read,
        "linear_corr": maps.linear_corr.reshape(-1, inst.cols),
    }
    for name in layout.CALIBRATION_MAPS:
        path = layout.calibration_path(data_dir, truth.split, truth.planet_id, inst, visit, name)
        write_matrix_parquet(path, values[name])


# --- shared tables -----------------------------------------------------------------------------


def axis_info_columns(
    n_airs_cds: int, airs_wavelength_um: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The four axis_info columns, NaN-padded to the FGS frame count (closed forms of FORMAT.md).

    ``airs_wavelength_um`` (356,) replaces the closed-form wavelength axis (``wavelengths``
    variant).
    """
    if airs_wavelength_um is None:
        airs_wavelength_um = layout.airs_column_wavelengths_um()
    n_fgs_cds = n_airs_cds * c.FGS_CDS_PER_AIRS_CDS
    n_rows = 2 * n_fgs_cds

    def read_times(inst: InstrumentLayout, n_cds: int) -> np.ndarray:
        k = np.arange(n_cds, dtype=np.float64) * inst.cds_cadence_s
        pairs = np.stack([inst.start_read_offset_s + k, inst.end_read_offset_s + k], axis=1)
        return pairs.reshape(-1) / c.SECONDS_PER_HOUR

    def padded(values: np.ndarray) -> np.ndarray:
        out = np.full(n_rows, np.nan)
        out[: values.size] = values
        return out

    integration = np.tile(np.array(layout.AIRS_INTEGRATION_TIME_S), n_airs_cds)
    return {
        "AIRS-CH0-axis0-h": padded(read_times(AIRS, n_airs_cds)),
        "AIRS-CH0-axis2-um": padded(np.asarray(airs_wavelength_um, dtype=np.float64)),
        "AIRS-CH0-integration_time": padded(integration),
        "FGS1-axis0-h": read_times(FGS, n_fgs_cds),
    }


def _write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    with atomic_path(path, ".csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(header))
        for row in rows:
            writer.writerow([_fmt(v) for v in row])


def _fmt(value: object) -> str:
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def write_tables(
    data_dir: Path,
    truths: list[PlanetTruth],
    n_airs_cds: int,
    truth_csv: Path,
    airs_wavelength_um: np.ndarray | None = None,
) -> None:
    """Write every shared table of the dataset, and the test spectra to ``truth_csv``.

    ``airs_wavelength_um`` (356,): the AIRS column grid when it is not the closed form (the
    ``wavelengths`` variant); it goes to axis_info and wavelengths.csv.
    """
    by_split = {
        s: sorted((t for t in truths if t.split == s), key=lambda t: t.planet_id)
        for s in layout.SPLITS
    }
    write_table_parquet(
        data_dir / layout.AXIS_INFO_PARQUET, axis_info_columns(n_airs_cds, airs_wavelength_um)
    )
    adc = layout.ADC_DEFAULT
    _write_csv(
        data_dir / layout.ADC_INFO_CSV,
        layout.ADC_INFO_COLUMNS,
        [[adc["offset"], adc["gain"], adc["offset"], adc["gain"]]],
    )
    wl = (
        layout.target_wavelengths_um()
        if airs_wavelength_um is None
        else variants.target_wavelengths(airs_wavelength_um)
    )
    # The real file carries 6 decimals (wl_2 = 1.951761).
    _write_csv(data_dir / layout.WAVELENGTHS_CSV, layout.WL_COLUMNS, [[f"{v:.6f}" for v in wl]])
    _write_csv(
        data_dir / layout.LABELS_CSV,
        ("planet_id", *layout.WL_COLUMNS),
        ([t.planet_id, *t.labels] for t in by_split["train"]),
    )
    for split in layout.SPLITS:
        _write_csv(
            data_dir / layout.STAR_INFO_CSV[split],
            layout.STAR_INFO_COLUMNS,
            ([t.planet_id, *t.star_info_row] for t in by_split[split]),
        )
    sample = [SAMPLE_MU] * layout.N_WAVELENGTHS + [SAMPLE_SIGMA] * layout.N_WAVELENGTHS
    _write_csv(
        data_dir / layout.SAMPLE_SUBMISSION_CSV,
        layout.SUBMISSION_COLUMNS,
        ([t.planet_id, *sample] for t in by_split["test"]),
    )
    _write_csv(
        truth_csv,
        ("planet_id", *layout.WL_COLUMNS),
        ([t.planet_id, *t.labels] for t in by_split["test"]),
    )


# --- the whole dataset ---------------------------------------------------------------------------


def planet_tasks(config: SimulationConfig, data_dir: Path, truth_dir: Path) -> Iterator[PlanetTask]:
    """One task per planet of the dataset: train planets, then test, in index order."""
    for split, count in (("train", config.n_train), ("test", config.n_test)):
        for index in range(count):
            yield PlanetTask(
                split,
                index,
                config.seed,
                config.n_airs_cds,
                config.second_visit_fraction,
                data_dir,
                truth_dir,
                tuple(config.variants),
            )


def simulate_dataset(out: Path | str, config: SimulationConfig, overwrite: bool = False) -> Path:
    """Simulate a dataset into ``out`` (plus ``<out>.truth/`` and ``<out>.truth.csv`` beside it).

    Returns:
        The dataset folder.
    """
    config.validate()
    out = Path(out)
    truth_dir = truth_dir_path(out)
    truth_csv = truth_csv_path(out)
    targets = (out, truth_dir, truth_csv)
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{existing[0]}: expected a new output path, found an existing one "
            "(pass --overwrite to replace it)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.partial")
    tmp_truth = out.with_name(f".{out.name}.truth.partial")
    tmp_csv = out.with_name(f".{out.name}.truth.csv.partial")
    for tmp in (tmp_out, tmp_truth):
        if tmp.exists():
            shutil.rmtree(tmp)
    tmp_out.mkdir()
    tmp_truth.mkdir()
    tasks = list(planet_tasks(config, tmp_out, tmp_truth))
    log.info(
        "simulating %d train + %d test planets, %d AIRS / %d FGS frames per visit, %d worker(s)%s",
        config.n_train,
        config.n_test,
        2 * config.n_airs_cds,
        2 * config.n_airs_cds * c.FGS_CDS_PER_AIRS_CDS,
        config.workers,
        f", variants: {', '.join(config.variants)}" if config.variants else "",
    )
    started = time.perf_counter()
    try:
        truths = list(_run(tasks, config.workers, started))
        write_tables(tmp_out, truths, config.n_airs_cds, tmp_csv, config.airs_wavelength_um)
        for target in targets:
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        tmp_out.rename(out)
        tmp_truth.rename(truth_dir)
        tmp_csv.rename(truth_csv)
    finally:
        for tmp in (tmp_out, tmp_truth):
            if tmp.exists():
                shutil.rmtree(tmp)
        tmp_csv.unlink(missing_ok=True)
    log.info("wrote %s in %.1f s", out, time.perf_counter() - started)
    return out


def _run(tasks: list[PlanetTask], workers: int, started: float) -> Iterator[PlanetTruth]:
    def progress(i: int, truth: PlanetTruth) -> None:
        log.info(
            "planet %d/%d done (%s %d, %d visit(s)) after %.1f s",
            i + 1,
            len(tasks),
            truth.split,
            truth.planet_id,
            len(truth.visits),
            time.perf_counter() - started,
        )

    if workers == 1 or len(tasks) == 1:
        for i, task in enumerate(tasks):
            truth = simulate_planet(task)
            progress(i, truth)
            yield truth
        return
    # spawn, not fork: forking a process that has started Arrow's thread pool can deadlock.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for i, truth in enumerate(pool.map(simulate_planet, tasks)):
            progress(i, truth)
            yield truth
