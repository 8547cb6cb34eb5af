"""The files passed between stages: for each, one typed record, one reader, one writer, one path.

- calibrated visit (:mod:`.calibrated`): :class:`CalibratedVisit`, :func:`read_calibrated_visit`,
  :func:`write_calibrated_visit`, :func:`spectramind.plan.calibrated_path`.
- physics fit (:mod:`.fits`): :class:`PlanetFit`, :func:`read_planet_fit`,
  :func:`write_planet_fit`, :func:`spectramind.plan.fit_path`.
- planet tables (labels, star info, sample submission, truth; :mod:`.tables`):
  :func:`read_planet_table` and the typed :func:`read_labels`, :func:`read_star_info`,
  :func:`read_sample_submission`; one alignment helper, :func:`align_on_planet_id`.
- predictions (:mod:`.predictions`): :class:`Predictions`, :func:`read_predictions`,
  :func:`write_predictions`, :func:`~.paths.predictions_path`.
- submission (:mod:`.submission`): :class:`Submission`, :func:`read_submission_csv`,
  :func:`write_submission_csv`, :func:`~.paths.submission_path`.
- checkpoint (:mod:`.checkpoint`): :func:`read_checkpoint`, :func:`write_checkpoint`,
  :func:`~.paths.checkpoint_path`.
- validation score (:mod:`.scores`): :class:`ScoreRecord`, :func:`read_score_json`,
  :func:`write_score_json`, :func:`~.paths.score_path`.

Import the reader or writer from its module (``from spectramind.artifacts.predictions import
read_predictions``): the package itself only carries the paths (:mod:`.paths`), so that the
command parsers can name them without importing numpy, and so that the static import closure of
a stage (``spectramind lineage``) names exactly the artifact modules it uses.

The per-planet paths of the calibrated visits and the physics fits are :mod:`spectramind.plan`'s
(they depend on the dataset's planets and visits). Every reader refuses a bad file with
:class:`~spectramind.errors.DataFormatError` naming the file (and the planet), and every writer
writes atomically, so a refusal leaves no partial output.
"""

from spectramind.artifacts.paths import (
    checkpoint_path,
    predictions_path,
    score_path,
    submission_path,
)

__all__ = ["checkpoint_path", "predictions_path", "score_path", "submission_path"]
