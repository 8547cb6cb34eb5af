"""Read and validate ADC 2025 planet visits and tables (see FORMAT.md and :mod:`.layout`).

Every function validates as it reads and raises :class:`~spectramind.errors.DataFormatError`
with a one-line message naming the path, what was expected and what was found. Errors of the
libraries underneath (pyarrow on a truncated or empty parquet file, a CSV that is not UTF-8)
become the same kind of message, naming the file and its planet (:func:`reading`). Planet
tables must not list a planet id twice.

Signals are read straight from parquet into one preallocated uint16 array per file, in blocks of
row groups of at most ``_READ_BLOCK_BYTES`` of Arrow data, so a 256 MB AIRS file costs about
256 MB plus one block — never pandas objects.
"""

from __future__ import annotations

import contextlib
import csv
import logging
from collections.abc import Iterator, Sequence
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

# Arrow -> numpy without pyarrow's to_numpy, which imports pandas (about 0.5 s of a process
# that calibrates a visit in about 1 s): fixed-width numbers are viewed in place.
_NUMPY_TYPES = {
    pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
    pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32,
    pa.uint64(): np.uint64, pa.float16(): np.float16, pa.float32(): np.float32,
    pa.float64(): np.float64,
}  # fmt: skip


def _array_values(array: pa.Array) -> np.ndarray:
    """One Arrow array as numpy: a read-only view for numbers, bools unpacked, nulls as NaN
    (floats) or through pyarrow (anything else, rare)."""
    n, offset = len(array), array.offset
    if pa.types.is_boolean(array.type) and not array.null_count:
        bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, count=offset + n, bitorder="little")[offset:].astype(bool)
    dtype = _NUMPY_TYPES.get(array.type)
    if dtype is None or (array.null_count and not pa.types.is_floating(array.type)):
        return array.to_numpy(zero_copy_only=False)
    values = np.frombuffer(
        array.buffers()[1], dtype=dtype, count=n, offset=offset * dtype().itemsize
    )
    if array.null_count:
        valid = np.frombuffer(array.buffers()[0], dtype=np.uint8)
        valid = np.unpackbits(valid, count=offset + n, bitorder="little")[offset:].astype(bool)
        values = np.where(valid, values, np.nan)
    return values


def _column_values(column: pa.ChunkedArray) -> np.ndarray:
    """A table column as one numpy array (see :func:`_array_values`)."""
    parts = [_array_values(chunk) for chunk in column.chunks]
    if not parts:
        return np.zeros(0)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


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


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@contextlib.contextmanager
def reading(path: Path | str, what: str = "parquet file") -> Iterator[None]:
    """Turn a library error raised while reading ``path`` into a one-line DataFormatError
    naming the file and its planet."""
    try:
        yield
    except DataFormatError:
        raise
    except (pa.ArrowException, OSError, ValueError, EOFError, csv.Error) as err:
        raise DataFormatError(
            f"{layout.describe_path(path)}: not a readable {what} ({_first_line(err)})"
        ) from err


def open_parquet(path: Path | str) -> pq.ParquetFile:
    """Open a parquet file (footer read and checked), or raise DataFormatError."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{layout.describe_path(path)}: file not found")
    with reading(path):
        return pq.ParquetFile(path)


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
    with reading(path):
        return _read_signal(path, instrument, pixel_index, max_frames)


def _read_signal(
    path: Path,
    instrument: InstrumentLayout,
    pixel_index: Sequence[int] | np.ndarray | None,
    max_frames: int | None,
) -> np.ndarray:
    pfile = _open_signal(path, instrument)
    n_cols = pfile.metadata.num_columns
    n_frames = pfile.metadata.num_rows
    if pixel_index is None:
        columns = np.arange(n_cols)
    else:
        columns = _check_selection(path, pixel_index, n_cols)
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


def _open_signal(path: Path, instrument: InstrumentLayout) -> pq.ParquetFile:
    """Open a signal file and check its layout: pixel columns, uint16, even frame count."""
    pfile = open_parquet(path)
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
    for field in pfile.schema_arrow:
        if not pa.types.is_uint16(field.type):
            raise DataFormatError(
                f"{path}: expected uint16 pixel columns, found {field.type} "
                f"in column {field.name!r}"
            )
    return pfile


def _check_selection(
    path: Path, pixel_index: Sequence[int] | np.ndarray, n_cols: int
) -> np.ndarray:
    columns = np.asarray(pixel_index, dtype=np.int64)
    if columns.ndim != 1 or columns.size == 0 or columns.min() < 0 or columns.max() >= n_cols:
        raise DataFormatError(f"{path}: pixel selection out of range 0..{n_cols - 1}")
    return columns


class SignalFile:
    """A raw signal file opened for column-selective, pixel-major reads (the calibration path).

    Checked on opening like :func:`read_signal`. Calibration reads it twice: a *probe* of the
    first reads of a window of pixels (to locate the light), then all reads of the pixels it
    selected, in blocks of pixels. Each parquet column chunk is decoded at most once: the row
    groups the probe decoded are kept (for its pixels) and reused by the later reads, so the
    decoding cost is (window x probe row groups) + (selection x the other row groups), whatever
    the file's row-group layout (a single row group holding every frame included).

    Arrays are pixel-major, ``(n_pixels, n_reads)`` uint16: each pixel's time series contiguous,
    as parquet stores it. Transient Arrow memory is bounded by ``_READ_BLOCK_BYTES``.
    """

    def __init__(self, path: Path | str, instrument: InstrumentLayout) -> None:
        self.path = Path(path)
        self.instrument = instrument
        self._file = _open_signal(self.path, instrument)
        meta = self._file.metadata
        self.n_frames = meta.num_rows
        rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self._group_start = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
        self._probe_index = np.zeros(0, dtype=np.int64)  # sorted file columns probed
        self._probe = np.zeros((0, 0), dtype=np.uint16)  # (probed pixels, probe rows)
        self._probe_groups = 0
        # What was decoded: (row groups, file columns) per call, for tests and the benchmark.
        self.decoded: list[tuple[range, np.ndarray]] = []

    def _columns(self, pixel_index: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distinct columns in file order, inverse: positions of the caller's order)."""
        columns = _check_selection(self.path, pixel_index, self._file.metadata.num_columns)
        return np.unique(columns, return_inverse=True)

    def _groups_to(self, n_reads: int) -> int:
        """Number of leading row groups that hold the first ``n_reads`` reads."""
        return int(np.searchsorted(self._group_start, n_reads, side="left"))

    def _decode(self, groups: range, columns: np.ndarray, out: np.ndarray) -> None:
        """Decode row ``groups`` (consecutive) of file ``columns`` (sorted) into ``out``
        (len(columns), rows), dropping rows past ``out``'s end; column blocks bound the Arrow
        memory."""
        limit = out.shape[1]
        self.decoded.append((groups, columns.copy()))
        n_rows = int(self._group_start[groups.stop] - self._group_start[groups.start])
        step = max(1, _READ_BLOCK_BYTES // max(1, 2 * n_rows))
        for c0 in range(0, columns.size, step):
            sel = columns[c0 : c0 + step]
            with reading(self.path):  # a file truncated past its footer fails here
                table = self._file.reader.read_row_groups(
                    list(groups), column_indices=[int(i) for i in sel], use_threads=True
                )
            for j, column in enumerate(table.columns):
                if column.null_count:
                    raise DataFormatError(
                        f"{self.path}: expected no missing values, found {column.null_count} "
                        f"in column {table.column_names[j]!r} (index {int(sel[j])})"
                    )
                row = 0
                for chunk in column.chunks:
                    n = min(len(chunk), limit - row)
                    if n <= 0:
                        break
                    out[c0 + j, row : row + n] = _array_values(chunk)[:n]
                    row += n
            del table

    def probe(self, pixel_index: Sequence[int] | np.ndarray, n_reads: int) -> np.ndarray:
        """The first ``n_reads`` reads (even, at least 2) of ``pixel_index``: ``(n_reads,
        n_pixels)``, time-major. Decodes the whole row groups that hold them and keeps those
        for :meth:`read_pixels` (a second probe replaces the first)."""
        columns, inverse = self._columns(pixel_index)
        n_reads = min(self.n_frames, max(2, 2 * (int(n_reads) // 2)))
        groups = self._groups_to(n_reads)
        data = np.empty((columns.size, int(self._group_start[groups])), dtype=np.uint16)
        self._decode(range(groups), columns, data)
        self._probe_index, self._probe, self._probe_groups = columns, data, groups
        return data[inverse, :n_reads].T

    def read_pixels(self, pixel_index: Sequence[int] | np.ndarray, n_reads: int) -> np.ndarray:
        """The first ``n_reads`` reads of ``pixel_index``: ``(n_pixels, n_reads)`` uint16,
        pixel-major. Rows the probe holds (for probed pixels) are not decoded again."""
        columns, inverse = self._columns(pixel_index)
        if not 0 < n_reads <= self.n_frames:
            raise ValueError(f"{self.path}: n_reads {n_reads} outside 1..{self.n_frames}")
        out = np.empty((columns.size, n_reads), dtype=np.uint16)
        first = 0
        if self._probe_index.size:
            held_index = self._probe_index
            pos = np.minimum(np.searchsorted(held_index, columns), held_index.size - 1)
            if np.array_equal(held_index[pos], columns):
                first = self._probe_groups
                held = min(int(self._group_start[first]), n_reads)
                out[:, :held] = self._probe[pos, :held]
        start = int(self._group_start[first])
        if start < n_reads:
            self._decode(range(first, self._groups_to(n_reads)), columns, out[:, start:])
        return out if np.array_equal(inverse, np.arange(columns.size)) else out[inverse]


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
    with reading(path):
        table = open_parquet(path).read()
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
    values = np.column_stack([_column_values(c) for c in table.columns])
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
    with reading(path, "CSV file"), path.open(newline="", encoding="utf-8") as handle:
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
    with reading(path):
        table = open_parquet(path).read()
    missing = [c for c in layout.AXIS_INFO_COLUMNS if c not in table.column_names]
    if missing:
        raise DataFormatError(
            f"{path}: expected columns {list(layout.AXIS_INFO_COLUMNS)}, missing {missing}"
        )

    def column(name: str) -> np.ndarray:
        values = _column_values(table.column(name)).astype(np.float64)
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
    check_unique_ids(path, ids.tolist())
    return ids, values


def check_unique_ids(path: Path | str, ids: Sequence[int]) -> None:
    """Raise DataFormatError naming the first planet id listed twice (and both rows)."""
    first_row: dict[int, int] = {}
    for i, planet_id in enumerate(ids):
        if planet_id in first_row:
            raise DataFormatError(
                f"{path}: expected each planet_id once, found planet {planet_id} in rows "
                f"{first_row[planet_id] + 2} and {i + 2}"
            )
        first_row[planet_id] = i


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
        ids = [int(row[0]) for row in rows]
    except ValueError as err:
        raise DataFormatError(f"{path}: expected integer planet_id values ({err})") from err
    check_unique_ids(path, ids)
    return ids

