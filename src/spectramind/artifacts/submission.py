"""The submission: ``artifacts/submission/submission.csv`` (FORMAT.md sections 1 and 5).

Columns ``planet_id, wl_1..wl_283, sigma_1..sigma_283``, one row per planet. Floats are
``repr(float(x))``, Python's shortest round-trip string, so the bytes are the same on every
platform for the same values; lines end in ``\\n``. Before the file appears the values pass the
metric's rules and the CSV bytes, written to a temporary file beside the target, validate
against the Frictionless Table Schema ``schemas/submission.tableschema.sample_id.json``; only
then is the file renamed into place. Reading takes the value columns by position, as the
Kaggle metric does (a header that differs is logged).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectramind.artifacts.predictions import check_prediction_values
from spectramind.artifacts.tables import PlanetIdTable, read_planet_table
from spectramind.assets import SUBMISSION_SCHEMA, schema_path
from spectramind.data import layout
from spectramind.errors import DataFormatError, SubmissionFormatError
from spectramind.io import atomic_path

log = logging.getLogger(__name__)

# schemas/ as installed with the package (a checkout, an editable or a wheel install).
DEFAULT_SCHEMA_PATH = schema_path(SUBMISSION_SCHEMA)
N_VALUE_COLUMNS = 2 * layout.N_WAVELENGTHS  # 566


@dataclass(frozen=True)
class Submission:
    """Rows of a submission: planet_id (n,) int64, mu and sigma (n, 283) float64 [(Rp/Rs)^2]."""

    planet_id: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    source: str = "submission"


def format_rows(planet_ids: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> str:
    """The CSV text (header included) of a submission; floats as ``repr`` (round-trip)."""
    lines = [",".join(layout.SUBMISSION_COLUMNS)]
    for pid, depths, sigmas in zip(planet_ids.tolist(), mu.tolist(), sigma.tolist(), strict=True):
        lines.append(",".join([str(int(pid)), *map(repr, depths), *map(repr, sigmas)]))
    return "\n".join(lines) + "\n"


def validate_submission_csv(
    path: Path | str,
    schema_path: Path | str = DEFAULT_SCHEMA_PATH,
    display_name: str | None = None,
) -> None:
    """Validate a submission CSV against the Frictionless Table Schema.

    ``display_name`` names the file in messages (default: ``path``). Raises
    :class:`SubmissionFormatError` with the first error, naming the planet (and its row)
    and the column, and the total number of errors.
    """
    from frictionless import Resource, Schema

    path = Path(path).resolve()
    schema_path = Path(schema_path)
    if not schema_path.is_file():
        raise DataFormatError(f"{schema_path}: submission Table Schema not found")
    # Loaded as a dict: frictionless refuses absolute descriptor paths as "unsafe".
    schema = Schema.from_descriptor(json.loads(schema_path.read_text()))
    # Likewise for the data: give it the folder as basepath and a bare file name.
    resource = Resource(path=path.name, basepath=str(path.parent), schema=schema, format="csv")
    report = resource.validate()
    if report.valid:
        return
    errors = [e for task in report.tasks for e in task.errors] + list(report.errors)
    first = errors[0]
    row_number = getattr(first, "row_number", None)
    where = ""
    if row_number is not None:
        planet = _planet_of_row(path, row_number)
        where = f" planet {planet} (row {row_number})"
    field = getattr(first, "field_name", None)
    if field:
        where += f" column {field}"
    cell = getattr(first, "cell", None)
    found = f", found {cell!r}" if cell is not None else ""
    raise SubmissionFormatError(
        f"{display_name or path}:{where or ' file'}: fails {schema_path.name}: {first.type}{found} "
        f"({len(errors)} errors; {first.note or first.message})"
    )


def _planet_of_row(path: Path, row_number: int) -> str:
    """planet_id cell of CSV row ``row_number`` (1 = header), for error messages."""
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if number == row_number:
                return row[0] if row else "?"
    return "?"


def write_submission_csv(
    path: Path | str,
    submission: Submission,
    schema_path: Path | str = DEFAULT_SCHEMA_PATH,
) -> Path:
    """Check, schema-validate and atomically write ``submission`` in its row order."""
    ids = np.asarray(submission.planet_id, dtype=np.int64)
    check_prediction_values(
        submission.mu, submission.sigma, source=submission.source, planet_ids=ids.tolist()
    )
    path = Path(path)
    with atomic_path(path, ".csv") as tmp:
        tmp.write_text(format_rows(ids, submission.mu, submission.sigma))
        validate_submission_csv(tmp, schema_path, display_name=str(path))
    log.info("wrote %s (%d planets)", path, len(ids))
    return path


def submission_from_table(table: PlanetIdTable) -> Submission:
    """(mu, sigma) by position from a submission table, as Kaggle does, with the value rules."""
    n_values = len(table.header) - 1
    if n_values != N_VALUE_COLUMNS:
        raise SubmissionFormatError(
            f"{table.source}: expected exactly {N_VALUE_COLUMNS} value columns besides planet_id, "
            f"found {n_values}"
        )
    if table.header != layout.SUBMISSION_COLUMNS:
        log.warning(
            "%s: header differs from planet_id, wl_1..wl_283, sigma_1..sigma_283; "
            "columns are taken by position",
            table.source,
        )
    n = layout.N_WAVELENGTHS
    return Submission(table.planet_ids, table.values[:, :n], table.values[:, n:], table.source)


def read_submission_csv(path: Path | str) -> Submission:
    """Read a submission CSV (any header of 1 + 566 columns, values taken by position)."""
    return submission_from_table(read_planet_table(path, error=SubmissionFormatError))
