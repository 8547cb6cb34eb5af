"""Planet tables: CSV files keyed by ``planet_id``, read by one function, aligned by one helper.

The tables are ``train.csv`` (labels), ``<split>_star_info.csv``, ``sample_submission.csv``,
truth files and submissions (docs/FORMAT.md). :func:`read_planet_table` reads any of them
(``columns`` pins the exact header); :func:`align_on_planet_id` lines up the rows of one table
with a list of wanted planet ids and names the first planet that is missing, doubled or extra.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from spectramind.data import layout
from spectramind.data.reader import _read_csv_rows as read_csv_rows
from spectramind.data.reader import check_unique_ids
from spectramind.errors import DataFormatError

log = logging.getLogger(__name__)

LABEL_COLUMNS = ("planet_id", *layout.WL_COLUMNS)


@dataclass(frozen=True)
class PlanetIdTable:
    """A planet_id-keyed numeric table in file order.

    source: the file (or table) it came from, named in messages; header: planet_id first;
    planet_ids: (n,) int64; values: (n, len(header) - 1) float64.
    """

    source: str
    header: tuple[str, ...]
    planet_ids: np.ndarray
    values: np.ndarray


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str) or value.strip() != ""


def _parse_columns(
    source: str,
    header: Sequence[str],
    columns: Sequence[Sequence[Any]],
    error: type[DataFormatError],
) -> PlanetIdTable:
    """A :class:`PlanetIdTable` from raw columns; names the first non-numeric cell's planet."""
    if not header or header[0] != "planet_id":
        raise error(
            f"{source}: expected first column 'planet_id', found {header[0] if header else None!r}"
        )
    n_rows = len(columns[0]) if columns else 0
    try:
        ids = np.array([int(v) for v in columns[0]], dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise error(f"{source}: column planet_id: expected integers ({err})") from err
    values = np.empty((n_rows, len(header) - 1), dtype=np.float64)
    for k, column in enumerate(columns[1:]):
        try:
            values[:, k] = [float(v) for v in column]
        except (TypeError, ValueError):
            row = next(r for r, v in enumerate(column) if not _is_number(v))
            raise error(
                f"{source}: column {header[k + 1]} must be numeric, found {column[row]!r} "
                f"for planet {ids[row]}"
            ) from None
    return PlanetIdTable(source, tuple(header), ids, values)


def read_planet_table(
    path: Path | str,
    columns: Sequence[str] | None = None,
    *,
    finite: bool = False,
    unique: bool = False,
    error: type[DataFormatError] = DataFormatError,
) -> PlanetIdTable:
    """Read a planet_id-keyed CSV: the one reader of labels, star info, sample ids and truth.

    ``columns``: the exact header expected (None: any header starting with planet_id, as the
    Kaggle metric reads a submission); ``finite``: refuse NaN/inf values; ``unique``: refuse a
    planet listed twice. Every refusal names the file, and the planet where there is one: a
    missing file, an empty one or another header as :class:`DataFormatError`, the rows' content
    as ``error``.
    """
    path = Path(path)
    # The data layer's CSV rows: file found, UTF-8, a header (equal to ``columns`` if given).
    header, body = read_csv_rows(path, columns)
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise error(f"{path}: row {i + 2}: expected {len(header)} fields, found {len(row)}")
    table = _parse_columns(
        str(path), header, list(zip(*body, strict=True)) if body else [() for _ in header], error
    )
    if unique:
        check_unique_ids(path, table.planet_ids.tolist())
    if finite and not np.all(np.isfinite(table.values)):
        row, col = (int(k) for k in np.argwhere(~np.isfinite(table.values))[0])
        raise error(
            f"{path}: planet {table.planet_ids[row]} column {header[col + 1]}: expected a finite "
            f"value, found {table.values[row, col]!r}"
        )
    return table


def table_from_frame(
    frame: Any, source: str = "dataframe", error: type[DataFormatError] = DataFormatError
) -> PlanetIdTable:
    """A :class:`PlanetIdTable` from a DataFrame-like object (``.columns``, ``frame[col]``).

    Works with pandas without importing it; a column whose dtype is not numeric is refused as
    the Kaggle metric does.
    """
    header = [str(c) for c in frame.columns]
    columns = []
    for name in frame.columns:
        column = np.asarray(frame[name].to_numpy())
        if name != "planet_id" and column.dtype.kind not in "iuf":
            raise error(f"{source}: column {name} must be numeric, found dtype {column.dtype}")
        columns.append(column.tolist())
    return _parse_columns(source, header, columns, error)


def read_labels(path: Path | str) -> PlanetIdTable:
    """``train.csv`` at any path: planet_id, wl_1..wl_283 [(Rp/Rs)^2], finite, each planet once."""
    return read_planet_table(path, LABEL_COLUMNS, finite=True, unique=True)


def read_star_info(path: Path | str) -> PlanetIdTable:
    """``<split>_star_info.csv`` at any path: planet_id, Rs, Ms, Ts, Mp, e, P, sma, i; finite."""
    return read_planet_table(path, layout.STAR_INFO_COLUMNS, finite=True, unique=True)


def read_sample_submission(path: Path | str) -> PlanetIdTable:
    """``sample_submission.csv``: its planet ids, in file order, give the submission's rows."""
    return read_planet_table(path, layout.SUBMISSION_COLUMNS, unique=True)


def align_on_planet_id(
    wanted: Sequence[int] | np.ndarray,
    available: Sequence[int] | np.ndarray,
    *,
    source: str,
    expected: str,
    extra: Literal["error", "warn", "ignore"] = "ignore",
    error: type[DataFormatError] = DataFormatError,
) -> np.ndarray:
    """Row index into ``available`` for each id of ``wanted``, shape (n_wanted,) int64.

    ``source`` names the table of ``available`` and ``expected`` what every wanted planet needs
    (e.g. "a prediction for every sample-submission planet"). A planet twice in ``available``,
    or a wanted planet missing from it, raises ``error`` naming the planet; an available planet
    that is not wanted raises (``extra="error"``), is logged (``"warn"``) or skipped.
    """
    position: dict[int, int] = {}
    for row, pid in enumerate(np.asarray(available, dtype=np.int64).tolist()):
        if pid in position:
            raise error(f"{source}: planet {pid}: expected one row, found two")
        position[pid] = row
    wanted_ids = np.asarray(wanted, dtype=np.int64).tolist()
    missing = [pid for pid in wanted_ids if pid not in position]
    if missing:
        raise error(
            f"{source}: planet {missing[0]}: expected {expected}, found {len(missing)} missing "
            f"(e.g. {missing[:5]})"
        )
    if extra != "ignore":
        surplus = sorted(set(position) - set(wanted_ids))
        if surplus and extra == "error":
            raise error(
                f"{source}: planet {surplus[0]}: not among the planets expected "
                f"({len(surplus)} extra rows)"
            )
        if surplus:
            log.warning(
                "%s: %d planets are not among those expected (e.g. %d); not used",
                source,
                len(surplus),
                surplus[0],
            )
    return np.array([position[pid] for pid in wanted_ids], dtype=np.int64)
