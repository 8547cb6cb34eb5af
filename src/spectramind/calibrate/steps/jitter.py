"""Pointing-jitter regressors: where the star sits on the detectors in each time bin.

FGS1 is the jitter sensor: its flux-weighted PSF centroid (x, y) moves with the pointing.
For AIRS the trace's flux-weighted mean row and its rms width follow the same jitter and
defocus. The fit stage decorrelates the light curves against these (they are written to the
calibrated visit's ``regressors``); removing them here, before the transit is modelled, would
let the fit absorb part of the transit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.calibrate.state import Phase, VisitState

NAME = "jitter"
PHASES = (Phase.IMAGES,)

REGRESSOR_NAMES = ("fgs_centroid_x", "fgs_centroid_y", "airs_trace_y", "airs_trace_width")


@dataclass(frozen=True)
class Params:
    pass


def centroid(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flux-weighted centroid of (n_bins, rows, cols) images: (x, y) [pixel], each (n_bins,).

    Negative pixels (noise after background subtraction) are clipped to 0 so they cannot pull
    the centroid off the star.
    """
    w = np.clip(images, 0, None)
    total = w.sum(axis=(1, 2))
    total = np.where(total > 0, total, 1.0)
    ys = np.arange(images.shape[1], dtype=np.float64)
    xs = np.arange(images.shape[2], dtype=np.float64)
    # Products then a numpy sum, not ``@``: BLAS dot kernels differ per CPU (summation order,
    # FMA), a ufunc reduction does not (docs/reproducibility.md, "Same bytes on any CPU").
    y = (w.sum(axis=2) * ys).sum(axis=1) / total
    x = (w.sum(axis=1) * xs).sum(axis=1) / total
    return x, y


def trace_position(images: np.ndarray, row0: int) -> tuple[np.ndarray, np.ndarray]:
    """Trace mean row and rms width of (n_bins, rows, cols) AIRS images [pixel], each (n_bins,).

    ``row0`` is the detector row of ``images[:, 0]`` so the position is in detector rows.
    """
    profile = np.clip(images, 0, None).sum(axis=2)  # (n_bins, rows)
    total = profile.sum(axis=1)
    total = np.where(total > 0, total, 1.0)
    rows = np.arange(images.shape[1], dtype=np.float64) + row0
    mean = (profile * rows).sum(axis=1) / total  # not ``@``: see centroid()
    var = (profile * rows**2).sum(axis=1) / total - mean**2
    return mean, np.sqrt(np.clip(var, 0, None))


def references(params: Params) -> tuple[str, ...]:
    return ()


def run(state: VisitState, params: Params) -> VisitState:
    """``state.regressors`` (n_bins, 4) in detector pixels, columns :data:`REGRESSOR_NAMES`."""
    fgs_ap, (row0, col0) = state.fgs_aperture()
    fx, fy = centroid(fgs_ap)
    ty, tw = trace_position(*state.airs_trace())
    state.regressors = np.column_stack([fx + col0, fy + row0, ty, tw])
    state.regressor_names = list(REGRESSOR_NAMES)
    return state
