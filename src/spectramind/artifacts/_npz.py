"""Opening an ``.npz`` artifact: the checks every ``.npz`` reader of this package starts with."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectramind.errors import DataFormatError
from spectramind.io import load_arrays


def open_npz(
    path: Path, what: str, required: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and meta of the ``what`` file ``path`` (written by
    :func:`spectramind.io.save_arrays`), refusing a missing or unreadable file, or one without
    the ``required`` arrays, with a :class:`DataFormatError` naming the file."""
    if not path.is_file():
        raise DataFormatError(f"{path}: {what} file not found")
    try:
        arrays, meta = load_arrays(path)
    # numpy, zipfile and json raise these for a truncated, foreign or corrupt file
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DataFormatError(f"{path}: not a readable {what} .npz ({err})") from err
    missing = [name for name in required if name not in arrays]
    if missing:
        raise DataFormatError(
            f"{path}: missing arrays {missing} (expected {', '.join(required)}; "
            f"found {sorted(arrays)})"
        )
    return arrays, meta
