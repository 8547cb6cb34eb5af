"""The quality bits of the calibrated visit file (docs/CONTRACTS.md, "Calibrated visit file").

The file itself (record, reader, writer) is :mod:`spectramind.artifacts.calibrated`; its
``quality`` array (283,) uint16 holds these bits per channel, 0 = good.
"""

from __future__ import annotations

from enum import IntFlag


class Quality(IntFlag):
    """Per-channel quality bits of ``quality`` (uint16)."""

    GOOD = 0
    MASKED_MANY = 1  # more than mask.max_masked_fraction of the extraction pixels were masked
    FLAT_INVALID = 2  # an extraction pixel had a NaN/inf/zero/negative flat (masked)
    SATURATED = 4  # more than adc.max_saturated_fraction of pixel-frames saturated (rejected)
    COSMIC_MANY = 8  # more than cosmic.max_flagged_fraction of pixel-frames rejected
    BIN_EMPTY = 16  # an extraction pixel had a time bin with no good frame (filled)
    ROW_FILLED = 32  # a masked pixel's whole row was masked: filled across rows instead
    GEOMETRY = 64  # trace / PSF location looked odd (see the locate step record): fallback used


def describe_quality(bits: int) -> list[str]:
    """Names of the quality bits set in ``bits`` (for logs and reports)."""
    return [flag.name for flag in Quality if flag and bits & flag]
