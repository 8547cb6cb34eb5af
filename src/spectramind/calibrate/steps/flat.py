"""Flat-field division (FORMAT.md section 3: divide by the flat, seen range about 0.57..1.2).

A flat value that is not finite or not positive cannot be divided by. With
``on_invalid="mask"`` (default) such pixels join the bad-pixel mask (filled like dead pixels)
and their channels get the ``FLAT_INVALID`` quality bit; ``"error"`` refuses the visit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import FrameBlock, InstrumentState, Phase
from spectramind.errors import DataFormatError

NAME = "flat"
# MAPS: find invalid values, mask them and take the reciprocal; CDS: apply it.
PHASES = (Phase.MAPS, Phase.CDS)

log = logging.getLogger(__name__)


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


def references(params: Params) -> tuple[str, ...]:
    return ("flat",)


def run(state: InstrumentState | FrameBlock, params: Params) -> InstrumentState | FrameBlock:
    """MAPS: mask (or refuse) invalid flat values, ``state.inv_flat`` = 1 / flat.
    CDS: multiply the block's CDS frames by it."""
    if isinstance(state, FrameBlock):
        apply(state.values, state.inv_flat)
        return state
    bad = invalid(state.maps.flat, params.min_value)
    if bad.any():
        if params.on_invalid == "error":
            raise DataFormatError(
                f"{state.where}/flat.parquet: expected finite flat values > {params.min_value}, "
                f"found {int(bad.sum())} invalid (set steps.flat.on_invalid: mask to mask them)"
            )
        log.warning("%s: %d invalid flat values masked", state.where, int(bad.sum()))
    state.flat_invalid = bad
    state.bad |= bad
    state.inv_flat = reciprocal(state.maps.flat, state.bad)
    return state
