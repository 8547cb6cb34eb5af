"""The files passed between stages: for each, one typed record, one reader, one writer, one path.

- planet tables (labels, star info, sample submission, truth; :mod:`.tables`):
  :func:`read_planet_table` and the typed :func:`read_labels`, :func:`read_star_info`,
  :func:`read_sample_submission`; one alignment helper, :func:`align_on_planet_id`.
- predictions (:mod:`.predictions`): :class:`Predictions`, :func:`read_predictions`,
  :func:`write_predictions`, :func:`predictions_path`.
- submission (:mod:`.submission`): :class:`Submission`, :func:`read_submission_csv`,
  :func:`write_submission_csv`, :func:`submission_path`.
- checkpoint (:mod:`.checkpoint`): :func:`read_checkpoint`, :func:`write_checkpoint`,
  :func:`checkpoint_path`.
- validation score (:mod:`.scores`): :class:`ScoreRecord`, :func:`read_score_json`,
  :func:`write_score_json`, :func:`score_path`.

The calibrated visit and the physics fit are the physics stages' own formats
(:mod:`spectramind.calibrate.product`, :mod:`spectramind.physics`). Every reader refuses a bad
file with :class:`~spectramind.errors.DataFormatError` naming the file (and the planet), and every
writer writes atomically, so a refusal leaves no partial output.
"""

from spectramind.artifacts.checkpoint import (
    CHECKPOINT_FORMAT,
    checkpoint_path,
    read_checkpoint,
    write_checkpoint,
)
from spectramind.artifacts.predictions import (
    Predictions,
    check_prediction_values,
    predictions_path,
    read_predictions,
    write_predictions,
)
from spectramind.artifacts.scores import (
    ScoreRecord,
    read_score_json,
    score_path,
    write_score_json,
)
from spectramind.artifacts.submission import (
    DEFAULT_SCHEMA_PATH,
    Submission,
    read_submission_csv,
    submission_from_table,
    submission_path,
    validate_submission_csv,
    write_submission_csv,
)
from spectramind.artifacts.tables import (
    PlanetIdTable,
    align_on_planet_id,
    read_labels,
    read_planet_table,
    read_sample_submission,
    read_star_info,
    table_from_frame,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_SCHEMA_PATH",
    "PlanetIdTable",
    "Predictions",
    "ScoreRecord",
    "Submission",
    "align_on_planet_id",
    "check_prediction_values",
    "checkpoint_path",
    "predictions_path",
    "read_checkpoint",
    "read_labels",
    "read_planet_table",
    "read_predictions",
    "read_sample_submission",
    "read_score_json",
    "read_star_info",
    "read_submission_csv",
    "score_path",
    "submission_from_table",
    "submission_path",
    "table_from_frame",
    "validate_submission_csv",
    "write_checkpoint",
    "write_predictions",
    "write_score_json",
    "write_submission_csv",
]
