"""Linearity correction with the stored inverse non-linearity polynomial (FORMAT.md section 3).

``linear = c0 + c1 x + ... + c5 x^5`` per pixel, evaluated by Horner's rule in place: five
multiply-adds over the frame block, no temporary powers and no loop over pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import FrameBlock, Phase

NAME = "linearity"
PHASES = (Phase.READS,)


@dataclass(frozen=True)
class Params:
    pass  # the coefficients come from linear_corr.parquet


def correct(counts: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Apply the inverse non-linearity polynomial in place.

    Args:
        counts: (n_frames, n_pixels) float counts (decoded reads, not CDS).
        coeffs: (n_terms, n_pixels) coefficients, ``coeffs[k]`` multiplies x^k.

    Returns:
        ``counts`` itself, overwritten with the linearised counts.
    """
    coeffs = coeffs.astype(counts.dtype, copy=False)
    x = counts.copy()
    counts[...] = coeffs[-1]
    for k in range(coeffs.shape[0] - 2, -1, -1):
        counts *= x
        counts += coeffs[k]
    return counts


def references(params: Params) -> tuple[str, ...]:
    return ("linear_corr",)


def run(block: FrameBlock, params: Params) -> FrameBlock:
    correct(block.counts(), block.coeffs)
    return block
