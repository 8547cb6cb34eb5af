"""The checkpoint: ``artifacts/ckpt/model.pt``, written by train, read by predict and bundle.

A plain dict of tensors and primitive types (``torch.load(..., weights_only=True)``) whose
``format`` names its layout (:data:`CHECKPOINT_FORMAT` for :mod:`spectramind.model.train`,
:data:`CROSSFIT_FORMAT` for :mod:`spectramind.model.crossfit`),
carrying its config, input normalisation, spectral basis, the SHA-256 of every input file and
the hold-out planet ids. It stays a dict, not a dataclass, because its bytes are the
reproducibility proof: the same seed must give the same file. torch is imported only here and
only when a checkpoint is read or written (the other stages' jobs do not pay for it).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
from pathlib import Path
from typing import Any

from spectramind.errors import DataFormatError
from spectramind.io import atomic_path

CHECKPOINT_FORMAT = "spectramind.model/1"
# K cross-fitted members, the spectral prior and the calibrated sigma scales
# (spectramind.model.crossfit); predict, bundle and the determinism check read both layouts.
CROSSFIT_FORMAT = "spectramind.model.crossfit/1"
FORMATS = (CHECKPOINT_FORMAT, CROSSFIT_FORMAT)
# Keys every checkpoint of CHECKPOINT_FORMAT carries (checked on reading).
REQUIRED_KEYS = ("format", "config", "model_args", "state_dict", "normalisation", "holdout_ids")


def write_checkpoint(checkpoint: dict[str, Any], path: Path | str) -> str:
    """Write ``checkpoint`` atomically; return its SHA-256.

    Serialised to memory first: ``torch.save`` on a path names the zip's records after the file,
    so the temporary name of an atomic write would change the bytes.
    """
    import torch

    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("format"), str):
        raise DataFormatError(f"{path}: refusing to write a checkpoint without a format name")
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    payload = buffer.getvalue()
    with atomic_path(path, ".pt") as tmp:
        tmp.write_bytes(payload)
    return hashlib.sha256(payload).hexdigest()


def read_checkpoint(
    path: Path | str, verify: bool = True, formats: tuple[str, ...] = FORMATS
) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (tensors and primitives only).

    ``verify``: first check the file against the record of the train job that wrote it, if one
    is recorded (:func:`spectramind.repro.lineage.verify_consumed`); a changed byte raises
    :class:`~spectramind.repro.lineage.TamperedInputError` naming both hashes. ``formats``: the
    layouts accepted; a :data:`CHECKPOINT_FORMAT` checkpoint must carry :data:`REQUIRED_KEYS`.
    """
    import torch

    from spectramind.repro.lineage import verify_consumed

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: checkpoint not found")
    if verify:
        verify_consumed(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    # A truncated or foreign file fails inside torch with any of these (struct.error: a zip
    # header cut short).
    except (
        RuntimeError,
        pickle.UnpicklingError,
        EOFError,
        OSError,
        ValueError,
        struct.error,
    ) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataFormatError(f"{path}: not a readable checkpoint ({message})") from err
    if not isinstance(checkpoint, dict) or checkpoint.get("format") not in formats:
        raise DataFormatError(f"{path}: expected a checkpoint of format {' or '.join(formats)}")
    if checkpoint["format"] == CHECKPOINT_FORMAT:
        missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
        if missing:
            raise DataFormatError(f"{path}: checkpoint without {missing}")
    return checkpoint
