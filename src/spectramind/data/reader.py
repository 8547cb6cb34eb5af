"""Read and validate ADC 2025 planet visits and tables (see FORMAT.md and :mod:`.layout`).

Every function validates as it reads and raises :class:`~spectramind.errors.DataFormatError`
with a one-line message naming the path, what was expected and what was found.

Signals are read straight from parquet into one preallocated uint16 array per file, in blocks of
row groups of at most ``_READ_BLOCK_BYTES`` of Arrow data, so a 256 MB AIRS file costs about
256 MB plus one block — never pandas objects.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spectramind.data import layout
from spectramind.data.layout import AIRS, FGS, InstrumentLayout
from spectramind.errors import DataFormatError

log = logging.getLogger(__name__)

_READ_BLOCK_BYTES = 64 * 2**20  # Arrow data held at once while reading a signal


@dataclass(frozen=True)
class CalibrationMaps:
    """The five calibration maps of one instrument and visit (full detector, not cropped).

    dark: (rows, cols) float64, dark current [counts/s]; subtract ``dark * dt``.
    dead: (rows, cols) bool, True where the pixel is dead.
    flat: (rows, cols) float64, flat field (divide by it).
    read: (rows, cols) float64, read noise [counts].
    linear_corr: (6, rows, cols) float64, coefficient k of x^k of the inverse non-linearity.
    """

    dark: np.ndarray
    dead: np.ndarray
    flat: np.ndarray
    read: np.ndarray
    linear_corr: np.ndarray


@dataclass(frozen=True)
class AdcInfo:
    """ADC decode for one instrument: ``counts = raw / gain + offset``."""

    offset: float
    gain: float


@dataclass(frozen=True)
class AxisInfo:
    """Time and wavelength axes shared by all planets (``axis_info.parquet``, NaN padding dropped).

    airs_time_h: (n_airs_frames,) frame times [hours]
    airs_wavelength_um: (356,) detector column wavelengths [micron], descending
    airs_integration_time_s: (n_airs_frames,) alternating 0.1, 4.5 [s]
    fgs_time_h: (n_fgs_frames,) frame times [hours]
    """

    airs_time_h: np.ndarray
    airs_wavelength_um: np.ndarray
    airs_integration_time_s: np.ndarray
    fgs_time_h: np.ndarray


@dataclass(frozen=True)
class InstrumentVisit:
    """One instrument's raw frames and calibration maps for one visit.

    signal: (frames, rows, cols) uint16 raw ADC values (frames alternate start/end reads),
        or (frames, n_pixels) when read with a pixel selection.
    """

    instrument: InstrumentLayout
    signal: np.ndarray
    calibration: CalibrationMaps
    adc: AdcInfo
    pixel_index: np.ndarray | None = None  # flat pixel indices read, None = all


@dataclass(frozen=True)
class PlanetVisit:
    split: str
    planet_id: int
    visit: int
    airs: InstrumentVisit | None
    fgs: InstrumentVisit | None


# --- discovery ----------------------------------------------------------------------------


def discover_planets(data_dir: Path | str, split: str) -> list[int]:
    """Planet ids of ``split`` (``train`` or ``test``), ascending, from the folders present."""
    if split not in layout.SPLITS:
        raise DataFormatError(f"unknown split {split!r}: expected one of {layout.SPLITS}")
    split_dir = Path(data_dir) / split
    if not split_dir.is_dir():
        raise DataFormatError(f"{split_dir}: expected a directory of planet folders, found none")
    ids = []
    for entry in split_dir.iterdir():
        if entry.is_dir():
            if not entry.name.isdigit():
                raise DataFormatError(
                    f"{entry}: expected an integer planet id folder name, found {entry.name!r}"
                )
            ids.append(int(entry.name))
    return sorted(ids)


def discover_visits(data_dir: Path | str, split: str, planet_id: int) -> list[int]:
    """Visit numbers of one planet, ascending, counted from the signal files present.

    Each visit must have both instruments' signal files and calibration folders.
    """
    pdir = layout.planet_dir(Path(data_dir), split, planet_id)
    if not pdir.is_dir():
        raise DataFormatError(f"{pdir}: unknown planet id {planet_id} in split {split!r}")
    found: dict[str, set[int]] = {AIRS.name: set(), FGS.name: set()}
    for entry in pdir.iterdir():
        match = layout.SIGNAL_RE.match(entry.name)
        if match:
            found[match.group(1)].add(int(match.group(2)))
    visits = found[AIRS.name] | found[FGS.name]
    if not visits:
        raise DataFormatError(f"{pdir}: expected *_signal_<visit>.parquet files, found none")
    for visit in sorted(visits):
        for inst in (AIRS, FGS):
            sig = pdir / layout.signal_name(inst, visit)
            if visit not in found[inst.name]:
                raise DataFormatError(f"{sig}: missing signal file for visit {visit}")
            cal = pdir / layout.calibration_dir_name(inst, visit)
            if not cal.is_dir():
                raise DataFormatError(f"{cal}: missing calibration folder for visit {visit}")
    return sorted(visits)


# --- signals and calibration maps -----------------------------------------------------------


def _open_parquet(path: Path) -> pq.ParquetFile:
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    try:
        return pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a corrupt file
        raise DataFormatError(f"{path}: not a readable parquet file ({err})") from err


def read_signal(
    path: Path | str,
    instrument: InstrumentLayout,
    pixel_index: Sequence[int] | np.ndarray | None = None,
    max_frames: int | None = None,
) -> np.ndarray:
    """Read a raw signal file as uint16.

    Args:
        path: ``<instrument>_signal_<visit>.parquet``.
        instrument: :data:`layout.AIRS` or :data:`layout.FGS`.
        pixel_index: flat pixel indices (row * cols + col) to read, in this order; ``None`` reads
            all pixels. Columns are selected positionally (names are undocumented).
        max_frames: read only the first ``max_frames`` frames (rounded down to an even number,
            at least 2); ``None`` reads all. Only the pages needed are decoded.

    Returns:
        ``(frames, rows, cols)`` uint16 when reading all pixels, else
        ``(frames, len(pixel_index))``.
    """
    path = Path(path)
    pfile = _open_parquet(path)
    n_cols = pfile.metadata.num_columns
    n_frames = pfile.metadata.num_rows
    if n_cols != instrument.pixels_per_frame:
        raise DataFormatError(
            f"{path}: expected {instrument.pixels_per_frame} columns "
            f"({instrument.rows}x{instrument.cols} pixels), found {n_cols}"
        )
    if n_frames == 0 or n_frames % 2:
        raise DataFormatError(
            f"{path}: expected an even, non-zero number of frames (start/end read pairs), "
            f"found {n_frames}"
        )
    if pixel_index is None:
        columns = np.arange(n_cols)
    else:
        columns = np.asarray(pixel_index, dtype=np.int64)
        if columns.ndim != 1 or columns.size == 0 or columns.min() < 0 or columns.max() >= n_cols:
            raise DataFormatError(f"{path}: pixel selection out of range 0..{n_cols - 1}")
    for field in pfile.schema_arrow:
        if not pa.types.is_uint16(field.type):
            raise DataFormatError(
                f"{path}: expected uint16 pixel columns, found {field.type} "
                f"in column {field.name!r}"
            )
    # Parquet decodes each column chunk once: read the distinct columns in file order, then put
    # them in the caller's order (a copy, only when that order differs).
    unique, inverse = np.unique(columns, return_inverse=True)
    if max_frames is not None:
        n_out = min(n_frames, max(2, 2 * (int(max_frames) // 2)))
        batches = pfile.reader.iter_batches(
            n_out,
            list(range(pfile.metadata.num_row_groups)),
            column_indices=[int(i) for i in unique],
            use_threads=True,
        )
        out = np.empty((n_out, unique.size), dtype=np.uint16)
        _copy_block(pa.Table.from_batches([next(batches)]), out, 0, unique, path)
    else:
        out = np.empty((n_frames, unique.size), dtype=np.uint16)
        for row, groups, col_block in _read_plan(pfile.metadata, unique.size):
            for start in range(0, unique.size, col_block):
                sel = unique[start : start + col_block]
                # One reader call per block of row groups: the per-call set-up costs about as
                # much as the decoding, so reading group by group is several times slower.
                table = pfile.reader.read_row_groups(
                    groups, column_indices=[int(i) for i in sel], use_threads=True
                )
                _copy_block(table, out[:, start : start + sel.size], row, sel, path)
                del table
    if not np.array_equal(unique, columns):
        out = out[:, inverse]
    if pixel_index is None:
        return out.reshape(out.shape[0], instrument.rows, instrument.cols)
    return out


def _read_plan(metadata: pq.FileMetaData, n_columns: int) -> list[tuple[int, list[int], int]]:
    """(first row, row groups, columns per call) of each block of reader calls.

    Consecutive row groups are read together while their Arrow data stay within
    ``_READ_BLOCK_BYTES``; a row group larger than that is read alone, in column blocks. So the
    transient memory is about one block whatever the file's row-group layout (the real files'
    layout is undocumented).
    """
    plan: list[tuple[int, list[int], int]] = []
    row, groups, group_rows = 0, [], 0

    def close() -> None:
        col_block = max(1, min(n_columns, _READ_BLOCK_BYTES // max(1, 2 * group_rows)))
        plan.append((row, groups, col_block))

    for g in range(metadata.num_row_groups):
        n = metadata.row_group(g).num_rows
        if groups and 2 * (group_rows + n) * n_columns > _READ_BLOCK_BYTES:
            close()
            row, groups, group_rows = row + group_rows, [], 0
        groups.append(g)
        group_rows += n
    if groups:
        close()
    return plan


def _copy_block(
    table: pa.Table,
    out: np.ndarray,
    row: int,
    columns: np.ndarray,
    path: Path,
) -> None:
    """Copy a table of uint16 columns into ``out[row : row + table.num_rows]``.

    ``columns`` are the file column indices of the table's columns (for messages).
    """
    for j, column in enumerate(table.columns):
        if column.null_count:
            raise DataFormatError(
                f"{path}: expected no missing values, found {column.null_count} in "
                f"column {table.column_names[j]!r} (index {int(columns[j])})"
            )
    for batch in table.to_batches():
        n = batch.num_rows
        # to_tensor fills a row-major (rows, columns) buffer in C++: no per-column Python work.
        block = np.asarray(batch.to_tensor(row_major=True))
        out[row : row + n] = block
        row += n


def _read_map(path: Path, instrument: InstrumentLayout, name: str) -> np.ndarray:
    pfile = _open_parquet(path)
    table = pfile.read()
    expected_shape = layout.calibration_shape(instrument, name)
    found_shape = (table.num_rows, table.num_columns)
    if found_shape != expected_shape:
        raise DataFormatError(
            f"{path}: expected shape {expected_shape} for {instrument.name} {name}, "
            f"found {found_shape}"
        )
    expected_dtype = layout.CALIBRATION_DTYPES[name]
    is_expected = pa.types.is_boolean if expected_dtype == np.bool_ else pa.types.is_floating
    for field in table.schema:
        if not is_expected(field.type):
            raise DataFormatError(
                f"{path}: expected {expected_dtype} values for {instrument.name} {name}, "
                f"found {field.type} in column {field.name!r}"
            )
    n_null = sum(column.null_count for column in table.columns)
    if n_null:
        raise DataFormatError(f"{path}: expected no missing values, found {n_null}")
    values = np.column_stack([c.to_numpy(zero_copy_only=False) for c in table.columns])
    if expected_dtype != np.bool_:
        values = values.astype(np.float64, copy=False)
        n_nan = int(np.count_nonzero(~np.isfinite(values)))
        if n_nan:
            raise DataFormatError(f"{path}: expected finite values, found {n_nan} NaN/inf")
    if name == "linear_corr":
        values = values.reshape(layout.LINEAR_CORR_TERMS, instrument.rows, instrument.cols)
    return values


def read_calibration(
    data_dir: Path | str, split: str, planet_id: int, instrument: InstrumentLayout, visit: int
) -> CalibrationMaps:
    """Read and validate the five calibration maps of one instrument and visit."""
    maps = {
        name: _read_map(
            layout.calibration_path(Path(data_dir), split, planet_id, instrument, visit, name),
            instrument,
            name,
        )
        for name in layout.CALIBRATION_MAPS
    }
    return CalibrationMaps(**maps)


def load_visit(
    data_dir: Path | str,
    split: str,
    planet_id: int,
    visit: int = 0,
    instruments: Sequence[InstrumentLayout] = (AIRS, FGS),
    pixel_index: dict[str, np.ndarray] | None = None,
) -> PlanetVisit:
    """Load one planet visit: raw signals, calibration maps and ADC decode per instrument.

    ``pixel_index`` maps an instrument name to the flat pixel indices to read (see
    :func:`read_signal`); instruments not named are read whole.
    """
    data_dir = Path(data_dir)
    visits = discover_visits(data_dir, split, planet_id)
    if visit not in visits:
        raise DataFormatError(
            f"{layout.planet_dir(data_dir, split, planet_id)}: expected visit {visit}, "
            f"found visits {visits}"
        )
    adc = read_adc_info(data_dir)
    loaded: dict[str, InstrumentVisit] = {}
    for inst in instruments:
        index = (pixel_index or {}).get(inst.name)
        signal = read_signal(
            layout.signal_path(data_dir, split, planet_id, inst, visit), inst, index
        )
        loaded[inst.name] = InstrumentVisit(
            instrument=inst,
            signal=signal,
            calibration=read_calibration(data_dir, split, planet_id, inst, visit),
            adc=adc[inst.name],
            pixel_index=None if index is None else np.asarray(index),
        )
    return PlanetVisit(split, planet_id, visit, loaded.get(AIRS.name), loaded.get(FGS.name))


# --- metadata tables ----------------------------------------------------------------------


def _read_csv_rows(
    path: Path, expected_header: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataFormatError(f"{path}: expected a header row, found an empty file") from None
        rows = [row for row in reader if row]
    if expected_header is not None and tuple(header) != tuple(expected_header):
        missing = [c for c in expected_header if c not in header]
        extra = [c for c in header if c not in expected_header]
        raise DataFormatError(
            f"{path}: expected columns {list(expected_header)[:4]}... "
            f"({len(expected_header)}), found {len(header)} "
            f"(missing {missing[:5]}, extra {extra[:5]})"
        )
    return header, rows


def read_adc_info(data_dir: Path | str) -> dict[str, AdcInfo]:
    """ADC offset and gain per instrument name from ``adc_info.csv``."""
    path = Path(data_dir) / layout.ADC_INFO_CSV
    header, rows = _read_csv_rows(path, layout.ADC_INFO_COLUMNS)
    if len(rows) != 1:
        raise DataFormatError(f"{path}: expected exactly one data row, found {len(rows)}")
    try:
        values = dict(zip(header, (float(v) for v in rows[0]), strict=True))
    except ValueError as err:
        raise DataFormatError(f"{path}: expected numeric values, found {rows[0]} ({err})") from err
    result = {}
    for inst in (FGS, AIRS):
        gain = values[f"{inst.name}_adc_gain"]
        if not np.isfinite(gain) or gain <= 0:
            raise DataFormatError(f"{path}: expected a positive {inst.name}_adc_gain, found {gain}")
        result[inst.name] = AdcInfo(offset=values[f"{inst.name}_adc_offset"], gain=gain)
    return result


def read_axis_info(data_dir: Path | str) -> AxisInfo:
    """``axis_info.parquet`` with its NaN padding removed."""
    path = Path(data_dir) / layout.AXIS_INFO_PARQUET
    table = _open_parquet(path).read()
    missing = [c for c in layout.AXIS_INFO_COLUMNS if c not in table.column_names]
    if missing:
        raise DataFormatError(
            f"{path}: expected columns {list(layout.AXIS_INFO_COLUMNS)}, missing {missing}"
        )

    def column(name: str) -> np.ndarray:
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        return values[~np.isnan(values)]

    axis = AxisInfo(
        airs_time_h=column("AIRS-CH0-axis0-h"),
        airs_wavelength_um=column("AIRS-CH0-axis2-um"),
        airs_integration_time_s=column("AIRS-CH0-integration_time"),
        fgs_time_h=column("FGS1-axis0-h"),
    )
    if axis.airs_wavelength_um.size != AIRS.cols:
        raise DataFormatError(
            f"{path}: expected {AIRS.cols} AIRS-CH0-axis2-um values, "
            f"found {axis.airs_wavelength_um.size}"
        )
    if axis.airs_time_h.size != axis.airs_integration_time_s.size:
        raise DataFormatError(
            f"{path}: expected as many AIRS integration times as frame times, found "
            f"{axis.airs_integration_time_s.size} vs {axis.airs_time_h.size}"
        )
    return axis


def _read_numeric_table(
    path: Path, expected_header: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(planet_ids int64 (n,), values float64 (n, len(header) - 1)) of a planet_id-keyed csv."""
    _, rows = _read_csv_rows(path, expected_header)
    ids = np.empty(len(rows), dtype=np.int64)
    values = np.empty((len(rows), len(expected_header) - 1), dtype=np.float64)
    for i, row in enumerate(rows):
        if len(row) != len(expected_header):
            raise DataFormatError(
                f"{path}: row {i + 2}: expected {len(expected_header)} fields, found {len(row)}"
            )
        try:
            ids[i] = int(row[0])
            values[i] = [float(v) for v in row[1:]]
        except ValueError as err:
            raise DataFormatError(f"{path}: row {i + 2} (planet {row[0]}): {err}") from err
    return ids, values


def read_labels(data_dir: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """``train.csv``: planet ids (n,) and transit depths (Rp/Rs)^2 (n, 283) for wl_1..wl_283."""
    path = Path(data_dir) / layout.LABELS_CSV
    ids, depths = _read_numeric_table(path, ("planet_id", *layout.WL_COLUMNS))
    if not np.all(np.isfinite(depths)):
        raise DataFormatError(f"{path}: expected finite transit depths, found NaN/inf")
    return ids, depths


def read_star_info(data_dir: Path | str, split: str) -> dict[int, dict[str, float]]:
    """``<split>_star_info.csv`` as ``{planet_id: {Rs, Ms, Ts, Mp, e, P, sma, i}}``."""
    path = Path(data_dir) / layout.STAR_INFO_CSV[split]
    ids, values = _read_numeric_table(path, layout.STAR_INFO_COLUMNS)
    names = layout.STAR_INFO_COLUMNS[1:]
    return {
        int(pid): dict(zip(names, map(float, row), strict=True))
        for pid, row in zip(ids, values, strict=True)
    }


def read_wavelengths(data_dir: Path | str) -> np.ndarray:
    """``wavelengths.csv``: wl_1..wl_283 [micron], shape (283,)."""
    return read_wavelengths_csv(Path(data_dir) / layout.WAVELENGTHS_CSV)


def read_wavelengths_csv(path: Path | str) -> np.ndarray:
    """A ``wavelengths.csv`` at any path: wl_1..wl_283 [micron], shape (283,), finite and > 0."""
    path = Path(path)
    _, rows = _read_csv_rows(path, layout.WL_COLUMNS)
    if len(rows) != 1 or len(rows[0]) != len(layout.WL_COLUMNS):
        raise DataFormatError(
            f"{path}: expected exactly one data row of {len(layout.WL_COLUMNS)} values, "
            f"found {len(rows)} row(s)"
        )
    try:
        values = np.array([float(v) for v in rows[0]], dtype=np.float64)
    except ValueError as err:
        raise DataFormatError(f"{path}: expected numeric wavelengths ({err})") from err
    if not np.all(np.isfinite(values) & (values > 0)):
        bad = int(np.flatnonzero(~(np.isfinite(values) & (values > 0)))[0])
        raise DataFormatError(
            f"{path}: expected finite positive wavelengths, found {rows[0][bad]!r} in "
            f"{layout.WL_COLUMNS[bad]}"
        )
    return values


def read_sample_submission_ids(data_dir: Path | str) -> list[int]:
    """Planet ids of ``sample_submission.csv`` in file order (the submission's row order)."""
    path = Path(data_dir) / layout.SAMPLE_SUBMISSION_CSV
    _, rows = _read_csv_rows(path, layout.SUBMISSION_COLUMNS)
    try:
        return [int(row[0]) for row in rows]
    except ValueError as err:
        raise DataFormatError(f"{path}: expected integer planet_id values ({err})") from err


def read_numeric_planet_table(
    path: Path | str, expected_header: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """A planet_id-keyed numeric CSV given by path (train.csv, star info, truth files).

    Returns planet ids (n,) int64 and values (n, len(expected_header) - 1) float64.
    """
    return _read_numeric_table(Path(path), expected_header)
