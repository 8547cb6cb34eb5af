"""Build, validate and write ``submission.csv`` (FORMAT.md sections 1 and 5).

The submission has columns ``planet_id, wl_1..wl_283, sigma_1..sigma_283`` and one row per
planet of ``sample_submission.csv``, in that file's order. It is built from a predictions
``.npz`` (CONTRACTS.md: ``planet_id`` (n,), ``mu`` (n, 283), ``sigma`` (n, 283)).

Before the file appears it is checked twice: the arrays must be finite and non-negative (the
metric's rules), and the CSV bytes, written to a temporary file beside the target, must
validate against the Frictionless Table Schema ``schemas/submission.tableschema.sample_id.json``.
Only then is the temporary file renamed into place. A failure names the planet and column.

Float format: ``repr(float(x))``, Python's shortest string that round-trips to the same
float64 (e.g. ``0.0123456789``, ``1e-05``). It loses no precision and is the same bytes on every
platform for the same value, so the file is byte-deterministic. Lines end in ``\\n``.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spectramind.assets import SUBMISSION_SCHEMA, schema_path
from spectramind.data import layout
from spectramind.errors import DataFormatError
from spectramind.io import atomic_path
from spectramind.metric import SubmissionFormatError, check_prediction_values

log = logging.getLogger(__name__)

SCHEMA_NAME = SUBMISSION_SCHEMA
# schemas/ as installed with the package (a checkout, an editable or a wheel install).
DEFAULT_SCHEMA_PATH = schema_path(SCHEMA_NAME)


def order_like_sample(
    pred_ids: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    sample_ids: Sequence[int],
    source: str = "predictions",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder predictions into the sample submission's planet order.

    Returns (planet_id (m,), mu (m, 283), sigma (m, 283)) for the m sample planets. Planets
    predicted but absent from the sample are dropped with a warning; a sample planet without a
    prediction, or a planet predicted twice, raises :class:`SubmissionFormatError`.
    """
    position: dict[int, int] = {}
    for row, pid in enumerate(np.asarray(pred_ids, dtype=np.int64).tolist()):
        if pid in position:
            raise SubmissionFormatError(
                f"{source}: planet {pid}: expected one prediction, found two"
            )
        position[pid] = row
    sample = [int(p) for p in sample_ids]
    if len(set(sample)) != len(sample):
        dup = next(p for p in sample if sample.count(p) > 1)
        raise SubmissionFormatError(f"sample submission: planet {dup}: listed more than once")
    missing = [p for p in sample if p not in position]
    if missing:
        raise SubmissionFormatError(
            f"{source}: planet {missing[0]}: expected a prediction for every sample-submission "
            f"planet, found {len(missing)} missing"
        )
    extra = sorted(set(position) - set(sample))
    if extra:
        log.warning(
            "%s: %d predicted planets are not in the sample submission (e.g. %d); dropped",
            source,
            len(extra),
            extra[0],
        )
    index = np.array([position[p] for p in sample], dtype=np.int64)
    return (
        np.array(sample, dtype=np.int64),
        np.asarray(mu, dtype=np.float64)[index],
        np.asarray(sigma, dtype=np.float64)[index],
    )


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


def write_submission(
    out_csv: Path | str,
    pred_ids: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    sample_ids: Sequence[int],
    schema_path: Path | str = DEFAULT_SCHEMA_PATH,
    source: str = "predictions",
) -> Path:
    """Order, check, schema-validate and atomically write a submission; returns ``out_csv``.

    Nothing is written at ``out_csv`` unless every check passes.
    """
    ids, mu, sigma = order_like_sample(pred_ids, mu, sigma, sample_ids, source)
    check_prediction_values(mu, sigma, source=source, planet_ids=ids.tolist())
    out_csv = Path(out_csv)
    with atomic_path(out_csv, ".csv") as tmp:
        tmp.write_text(format_rows(ids, mu, sigma))
        validate_submission_csv(tmp, schema_path, display_name=str(out_csv))
    log.info("wrote %s (%d planets)", out_csv, len(ids))
    return out_csv


def write_submission_from_files(
    predictions_npz: Path | str,
    sample_submission_csv: Path | str,
    out_csv: Path | str,
    schema_path: Path | str = DEFAULT_SCHEMA_PATH,
) -> Path:
    """:func:`write_submission` from a predictions ``.npz`` and a ``sample_submission.csv``."""
    from spectramind.metric import read_numeric_csv
    from spectramind.validation import load_predictions

    ids, mu, sigma = load_predictions(predictions_npz)
    sample = read_numeric_csv(sample_submission_csv)
    if sample.header != layout.SUBMISSION_COLUMNS:
        raise DataFormatError(
            f"{sample_submission_csv}: expected columns planet_id, wl_1..wl_283, "
            f"sigma_1..sigma_283 ({len(layout.SUBMISSION_COLUMNS)}), found {len(sample.header)}"
        )
    return write_submission(
        out_csv, ids, mu, sigma, sample.planet_ids.tolist(), schema_path, str(predictions_npz)
    )
