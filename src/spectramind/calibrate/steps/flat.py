"""Flat-field division (FORMAT.md section 3: divide by the flat, seen range about 0.57..1.2).

A flat value that is not finite or not positive cannot be divided by. With
``on_invalid="mask"`` (default) such pixels join the bad-pixel mask (filled like dead pixels)
and their channels get the ``FLAT_INVALID`` quality bit; ``"error"`` refuses the visit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAME = "flat"


@dataclass(frozen=True)
class Params:
    on_invalid: str = "mask"  # "mask" or "error" for NaN/inf/zero/negative flat values
    min_value: float = 1e-3  # flat values at or below this are invalid [dimensionless]


def invalid(flat: np.ndarray, min_value: float) -> np.ndarray:
    """True where the flat cannot be used (not finite or <= ``min_value``)."""
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(flat) | (flat <= min_value)


def reciprocal(flat: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """1 / flat with masked pixels set to 0 (their values are replaced later anyway)."""
    safe = np.where(bad, 1.0, flat)
    return np.where(bad, 0.0, 1.0 / safe)


def apply(frames: np.ndarray, inv_flat: np.ndarray) -> np.ndarray:
    """Divide (n_frames, n_pixels) frames by the flat in place, via its reciprocal (n_pixels,)."""
    frames *= inv_flat.astype(frames.dtype)[None, :]
    return frames
