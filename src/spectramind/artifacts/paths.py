"""Where each inter-stage artifact lives, relative to the workflow folder.

The one spelling of these paths: the Snakemake rules, the commands' defaults, the determinism
check and the benchmarks call these functions. No numpy here: the command parsers import it.
(The calibrated-visit and physics-fit paths, per planet, are :mod:`spectramind.plan`'s.)
"""

from __future__ import annotations

ARTIFACTS = "artifacts"


def checkpoint_path() -> str:
    """The trained model: ``artifacts/ckpt/model.pt``."""
    return f"{ARTIFACTS}/ckpt/model.pt"


def predictions_path(name: str) -> str:
    """``artifacts/preds/{name}.npz``: ``test`` (for the submission), ``holdout`` (the score)."""
    return f"{ARTIFACTS}/preds/{name}.npz"


def submission_path() -> str:
    """The Kaggle submission: ``artifacts/submission/submission.csv``."""
    return f"{ARTIFACTS}/submission/submission.csv"


def score_path() -> str:
    """The validation score of the hold-out predictions: ``artifacts/metrics/score.json``."""
    return f"{ARTIFACTS}/metrics/score.json"
