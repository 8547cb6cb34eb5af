"""The validation score: ``artifacts/metrics/score.json`` (and ``spectramind score --json``).

Sorted, indented JSON of a :class:`spectramind.metric.ScoreBreakdown` (score, per-instrument
scores, z-score RMS, fraction within 1 sigma, number of planets, naive reference, per-planet
scores; a non-finite value is written as null) plus ``inputs``: the files the score was computed
on, so a number always names its data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectramind.errors import DataFormatError
from spectramind.io import atomic_path

REQUIRED_KEYS = ("score", "n_planets", "inputs")


@dataclass(frozen=True)
class ScoreRecord:
    """A score file: the score in [0, 1], the number of planets, the input files, all values."""

    score: float
    n_planets: int
    inputs: dict[str, str]
    values: dict[str, Any]


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def write_score_json(
    path: Path | str, values: Mapping[str, Any], inputs: Mapping[str, Any] | None = None
) -> None:
    """Write ``values`` (``ScoreBreakdown.to_dict()``) and ``inputs`` as sorted JSON (atomic)."""
    report = {
        key: (_json_float(value) if isinstance(value, float) else value)
        for key, value in values.items()
    }
    if inputs:
        report["inputs"] = dict(inputs)
    text = json.dumps(report, sort_keys=True, indent=2) + "\n"
    with atomic_path(path, ".json") as tmp:
        tmp.write_text(text)


def read_score_json(path: Path | str) -> ScoreRecord:
    """Read and check a score file; a bad one raises naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{path}: not a JSON score file ({err})") from err
    if not isinstance(values, dict):
        raise DataFormatError(f"{path}: expected a JSON object, found {type(values).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in values]
    if missing:
        raise DataFormatError(f"{path}: expected keys {list(REQUIRED_KEYS)}, missing {missing}")
    score = values["score"]
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 1:
        raise DataFormatError(f"{path}: expected a score in [0, 1], found {score!r}")
    if not isinstance(values["inputs"], dict):
        raise DataFormatError(f"{path}: expected inputs as an object of file names")
    return ScoreRecord(float(score), int(values["n_planets"]), dict(values["inputs"]), values)
