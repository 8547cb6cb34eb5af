"""A checkpoint that travels without its workspace, and the proof of where it came from.

A model folder (``spectramind export-model``, the ``model/`` folder of a Kaggle bundle) holds:

- ``model.pt``: the checkpoint, byte for byte what the train job wrote;
- ``training-record.json``: that job's ``ok`` run-manifest record (run id, git commit, config
  snapshot hash, the checkpoint's size and SHA-256 as it recorded them);
- ``config-snapshot.yaml``: the frozen config of that run, whose SHA-256 is the record's
  ``config_sha256``;
- ``fit-selected.json`` (when the training run chose its fit settings with rule fit_select):
  the settings its fits used, whose size and SHA-256 are that input's in the record; a
  predict-only run fits the test planets with them, as the train planets were fitted.

Predict-only runs (config key ``model``) start with :func:`verify_model`: the checkpoint must have
the size and hash its own training record lists, and the snapshot the hash the record lists, or
nothing runs. The record cannot vouch for itself, so a record edited to match a swapped
checkpoint still passes here; what ties the folder to a commit is the record's ``git_commit``
and, in a bundle, ``BUNDLE.json``'s hash of the whole folder.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from spectramind.errors import SpectraMindError
from spectramind.io import atomic_path
from spectramind.repro.hashing import sha256_file
from spectramind.repro.lineage import (
    TamperedInputError,
    describe_record,
    path_key,
    verify_against_record,
    verify_consumed,
    verify_file,
)
from spectramind.repro.manifest import STATUS_OK

log = logging.getLogger(__name__)

CHECKPOINT = "model.pt"
TRAINING_RECORD = "training-record.json"
CONFIG_SNAPSHOT = "config-snapshot.yaml"
FIT_SELECTION = "fit-selected.json"
#: Where the workflow writes the chosen fit settings (rule fit_select), as train records list it.
SELECTED_FIT_INPUT = "artifacts/fit_select/selected.json"
TRAIN_STAGE = "train"
#: Config keys that shape the features and predictions: a predict-only run must use the
#: training run's values, or the checkpoint sees features it was not trained on.
SCIENCE_KEYS = ("calibrate", "fit", "seed")


class ShippedModelError(SpectraMindError):
    """A model folder is incomplete or its files do not match the training record."""


def record_path_of(ckpt: Path | str) -> Path:
    """The training record that must sit beside a shipped checkpoint."""
    return Path(ckpt).parent / TRAINING_RECORD


def recorded_checkpoint(record: dict[str, Any], source: str) -> str:
    """The path under which ``record`` lists its checkpoint (its one ``.pt`` artifact)."""
    paths = [a["path"] for a in record.get("artifacts") or [] if str(a["path"]).endswith(".pt")]
    if len(paths) != 1:
        raise ShippedModelError(f"{source}: expected one .pt artifact in the record, found {paths}")
    return paths[0]


def read_training_record(path: Path | str) -> dict[str, Any]:
    """Load and sanity-check a ``training-record.json``: an ``ok`` record of the train stage."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ShippedModelError(
            f"{path}: expected the checkpoint's training record beside it, found none "
            "(make the folder with spectramind export-model or spectramind bundle)"
        ) from None
    except (OSError, ValueError) as err:
        raise ShippedModelError(f"{path}: expected a JSON training record, found {err}") from None
    if not isinstance(record, dict):
        raise ShippedModelError(f"{path}: expected a JSON object, found {type(record).__name__}")
    if record.get("stage") != TRAIN_STAGE or record.get("status") != STATUS_OK:
        raise ShippedModelError(
            f"{path}: expected an ok record of the train stage, found stage "
            f"{record.get('stage')!r} status {record.get('status')!r}"
        )
    return record


def fit_selection_of(ckpt: Path | str) -> str | None:
    """The fit settings shipped beside ``ckpt`` (:data:`FIT_SELECTION`), or None."""
    path = Path(ckpt).parent / FIT_SELECTION
    return str(path) if path.is_file() else None


def recorded_fit_selection(record: dict[str, Any]) -> dict[str, Any] | None:
    """The ``{path, size, sha256}`` input entry of the chosen fit settings in a train record."""
    for entry in record.get("inputs") or []:
        if path_key(entry["path"], record.get("workdir")) == SELECTED_FIT_INPUT:
            return entry
    return None


def _verify_fit_selection(ckpt: Path, record: dict[str, Any], source: str) -> None:
    """The shipped fit settings must be the ones the training record lists (both or neither)."""
    entry = recorded_fit_selection(record)
    shipped = ckpt.parent / FIT_SELECTION
    if entry is None:
        if shipped.is_file():
            raise ShippedModelError(
                f"{shipped}: {source} lists no fit selection input ({SELECTED_FIT_INPUT}), "
                "so nothing vouches for these fit settings"
            )
        return
    if not shipped.is_file():
        raise ShippedModelError(
            f"{ckpt.parent}: expected {FIT_SELECTION} (the fit settings {source} was trained "
            f"with, {SELECTED_FIT_INPUT}), found none"
        )
    mismatch = verify_file(shipped, entry, source)
    if mismatch is not None:
        raise TamperedInputError([mismatch])


def verify_model(ckpt: Path | str) -> dict[str, Any]:
    """Check a shipped checkpoint (and its config snapshot, when present) against its training
    record; return the record. Raises :class:`TamperedInputError` naming the file and both
    hashes on a mismatch, :class:`ShippedModelError` when the record is missing or unusable."""
    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise ShippedModelError(f"{ckpt}: expected a checkpoint file (config key model), none")
    record_file = record_path_of(ckpt)
    record = read_training_record(record_file)
    recorded = recorded_checkpoint(record, str(record_file))
    mismatch = verify_against_record(ckpt, record, recorded_path=recorded)
    if mismatch is not None:
        raise TamperedInputError([mismatch])
    snapshot = ckpt.parent / CONFIG_SNAPSHOT
    if snapshot.is_file():
        found = sha256_file(snapshot)
        if found != record.get("config_sha256"):
            raise ShippedModelError(
                f"{snapshot}: sha256 {found}, but {describe_record(record)} recorded config "
                f"sha256 {record.get('config_sha256')}"
            )
    _verify_fit_selection(ckpt, record, describe_record(record))
    log.info(
        "%s: sha256 matches %s (git commit %s)", ckpt, describe_record(record), record["git_commit"]
    )
    return record


def check_same_science(ckpt: Path | str, config: dict[str, Any]) -> None:
    """Raise when ``config`` differs from the shipped config snapshot in a :data:`SCIENCE_KEYS`
    key (no snapshot beside ``ckpt``: nothing to compare)."""
    import yaml

    snapshot = Path(ckpt).parent / CONFIG_SNAPSHOT
    if not snapshot.is_file():
        return
    trained = yaml.safe_load(snapshot.read_text()) or {}
    for key in SCIENCE_KEYS:
        if key in trained and trained[key] != config.get(key):
            raise ShippedModelError(
                f"{snapshot}: config key {key} was {trained[key]!r} when the model was trained, "
                f"this run has {config.get(key)!r} (run with --configfile {snapshot})"
            )


def export_model(
    ckpt: Path | str, out_dir: Path | str, runs_root: Path | str | None = None
) -> Path:
    """Write the model folder of ``ckpt`` (a checkpoint the workflow trained here) to ``out_dir``.

    The training record is the ``ok`` record that produced ``ckpt`` (found through the run
    manifests under ``runs_root``; the file must still have the hash it recorded). Returns the
    copied checkpoint. Files are written whole (temporary name, then rename).
    """
    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise ShippedModelError(f"{ckpt}: expected a checkpoint file, found none")
    found = verify_consumed(ckpt, runs_root)
    if found is None:
        raise ShippedModelError(
            f"{ckpt}: expected a checkpoint recorded by a train job under the run manifests, "
            "found no record that produced it (train it with the workflow)"
        )
    record = found.record
    if record.get("stage") != TRAIN_STAGE:
        raise ShippedModelError(
            f"{ckpt}: produced by {describe_record(record)}, expected a train job"
        )
    snapshot_src = record.get("config_snapshot_path")
    if not snapshot_src or not Path(snapshot_src).is_file():
        raise ShippedModelError(
            f"{ckpt}: the config snapshot {snapshot_src} of {describe_record(record)} is missing"
        )
    if sha256_file(snapshot_src) != record.get("config_sha256"):
        raise ShippedModelError(
            f"{snapshot_src}: differs from the config sha256 {describe_record(record)} recorded"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for src, name in ((ckpt, CHECKPOINT), (Path(snapshot_src), CONFIG_SNAPSHOT)):
        with atomic_path(out_dir / name) as tmp:
            shutil.copyfile(src, tmp)
    selection = recorded_fit_selection(record)
    if selection is not None:  # the fits this model learned from used these settings
        source = Path(selection["path"])
        if not source.is_absolute():
            source = Path(record.get("workdir") or ".") / source
        mismatch = verify_file(source, selection, describe_record(record))
        if mismatch is not None:
            raise TamperedInputError([mismatch])
        with atomic_path(out_dir / FIT_SELECTION) as tmp:
            shutil.copyfile(source, tmp)
    with atomic_path(out_dir / TRAINING_RECORD) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    verify_model(out_dir / CHECKPOINT)
    return out_dir / CHECKPOINT


def import_model(ckpt: Path | str, out: Path | str) -> dict[str, Any]:
    """Verify ``ckpt`` (:func:`verify_model`) and copy it to ``out``, checking the copy against
    the record too (what predict reads is what was verified); return the record."""
    record = verify_model(ckpt)
    recorded = recorded_checkpoint(record, str(record_path_of(ckpt)))
    with atomic_path(out) as tmp:
        shutil.copyfile(ckpt, tmp)
        mismatch = verify_against_record(tmp, record, recorded_path=recorded)
        if mismatch is not None:
            raise TamperedInputError([mismatch])
    return record
