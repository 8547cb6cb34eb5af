"""Correlated double sampling: end read minus start read of each ramp (FORMAT.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import FrameBlock, Phase
from spectramind.errors import DataFormatError

NAME = "cds"
# The last step of the READS phase: after it the block holds CDS frames (phase CDS).
PHASES = (Phase.READS,)
REQUIRED = True  # no light curve without it: cannot be skipped


@dataclass(frozen=True)
class Params:
    pass


def cds(reads: np.ndarray) -> np.ndarray:
    """(2 n, n_pixels) reads alternating start, end -> (n, n_pixels) ``end - start``."""
    if reads.shape[0] % 2:
        raise DataFormatError(
            f"cds: expected an even number of reads (start/end pairs), found {reads.shape[0]}"
        )
    return np.subtract(reads[1::2], reads[0::2])


def references(params: Params) -> tuple[str, ...]:
    return ()


def run(block: FrameBlock, params: Params) -> FrameBlock:
    block.values = cds(block.counts())
    return block
