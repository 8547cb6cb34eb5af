"""What the calibration steps work on: the phases of the chain and the state of each phase.

Every step module (:mod:`spectramind.calibrate.steps`) has one entry point,
``run(state, params) -> state``, and lists in ``PHASES`` the phases it acts in. The pipeline
calls it once per phase listed, with that phase's state:

====================  =======================  ===============================================
phase                 state                    what the state holds
====================  =======================  ===============================================
:attr:`Phase.MAPS`    :class:`InstrumentState` one instrument's calibration maps, cropped to the
                                               window, and the static masks built from them
:attr:`Phase.SELECT`  :class:`InstrumentState` the same, plus a probe of the first raw frames:
                                               where the light falls (which pixels to read)
:attr:`Phase.READS`   :class:`FrameBlock`      all raw reads of a block of selected pixels
                                               (uint16, then float counts); ``cds`` ends the
                                               phase by turning read pairs into CDS frames
:attr:`Phase.CDS`     :class:`FrameBlock`      the block's CDS frames, until ``bin`` bins them
:attr:`Phase.IMAGES`  :class:`VisitState`      both instruments' binned images of the visit
====================  =======================  ===============================================

Within a phase, steps run in registry order (:data:`spectramind.calibrate.steps.REGISTRY`),
which is also the order of the step records in the output.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from spectramind.data.layout import AIRS, FGS, InstrumentLayout
from spectramind.data.reader import AdcInfo, AxisInfo, CalibrationMaps

if TYPE_CHECKING:
    from spectramind.calibrate.config import CalibrationConfig
    from spectramind.calibrate.steps.crop import Window
    from spectramind.calibrate.steps.locate import Geometry


class Phase(enum.Enum):
    """When a step acts (see the module docstring); members are in execution order."""

    MAPS = "maps"
    SELECT = "select"
    READS = "reads"
    CDS = "cds"
    IMAGES = "images"


@dataclass
class InstrumentState:
    """One instrument of one visit before its frames are read (phases MAPS and SELECT).

    maps: the calibration maps, full detector until ``crop`` cuts them to ``window``.
    bad, flat_invalid: (rows, cols) bool over the window (``crop`` creates them empty).
    inv_flat: (rows, cols) reciprocal flat over the window, 0 on bad pixels.
    cds_dt: (n_cds,) dark exposure of each CDS frame, end minus start read [s] (``dark``).
    probe: ``probe(window, n_reads)`` -> (n_reads, window pixels) uint16, the first raw reads
        of the window's pixels, row-major (read on demand: only ``locate`` needs it).
    geometry: where ``locate`` found the light (None: not located, fixed by config).
    """

    instrument: InstrumentLayout
    config: CalibrationConfig
    where: str  # the calibration folder, for messages
    maps: CalibrationMaps
    adc: AdcInfo
    axis: AxisInfo
    n_reads: int  # raw reads calibrated (whole bins)
    probe: Callable[[Window, int], np.ndarray]
    window: Window | None = None
    bad: np.ndarray | None = None
    flat_invalid: np.ndarray | None = None
    inv_flat: np.ndarray | None = None
    cds_dt: np.ndarray | None = None
    geometry: Geometry | None = None

    @property
    def is_airs(self) -> bool:
        return self.instrument.name == AIRS.name


@dataclass
class FrameBlock:
    """All raw reads of a block of selected pixels (phases READS and CDS).

    reads: (2 n, p) uint16, alternating start and end reads (a view of a pixel-major buffer).
    values: the float data: (2 n, p) counts in the READS phase, (n, p) CDS frames after ``cds``
        (None until a step creates it; :meth:`counts` converts the raw reads).
    rejected: (n, p) bool CDS frames excluded from their bin (saturated, cosmic ray), or None.
    Per-pixel operands (p = selected pixels, row-major): coeffs (6, p) in ``dtype``, dark (p,)
    [counts/s], inv_flat (p,); cds_dt (n,) [s] or None when ``dark`` does not run.
    n_saturated, n_cosmic: (p,) int64 counts of rejected pixel-frames, incremented in place
    (views of the instrument's totals).
    binned: (n // size, p) float64 and empty: (n // size, p) bool, set by ``bin``.
    """

    reads: np.ndarray
    dtype: np.dtype
    adc: AdcInfo
    coeffs: np.ndarray
    dark: np.ndarray
    inv_flat: np.ndarray
    cds_dt: np.ndarray | None
    size: int  # CDS frames per bin
    n_saturated: np.ndarray
    n_cosmic: np.ndarray
    values: np.ndarray | None = None
    rejected: np.ndarray | None = None
    binned: np.ndarray | None = None
    empty: np.ndarray | None = None

    def counts(self) -> np.ndarray:
        """The float data, created from the raw reads when no step has decoded them."""
        if self.values is None:
            self.values = self.reads.astype(self.dtype)
        return self.values


@dataclass(frozen=True)
class BinnedInstrument:
    """One instrument after its frames are binned.

    cube: (n_bins, rows, cols) float64 binned images of the selected pixels.
    bad: (rows, cols) bool static mask (hot, dead, invalid flat).
    flat_invalid: (rows, cols) bool.
    empty: (n_bins, rows, cols) bool, pixel-bins without any good frame (value meaningless).
    saturated, cosmic: (rows, cols) int, rejected pixel-frames of each kind.
    n_cds: CDS frames used.
    """

    cube: np.ndarray
    bad: np.ndarray
    flat_invalid: np.ndarray
    empty: np.ndarray
    saturated: np.ndarray
    cosmic: np.ndarray
    n_cds: int


@dataclass(frozen=True)
class Selection:
    """The pixels read for one instrument and what each is used for.

    rows, cols: detector rows / columns read (sorted 1-D int arrays); the read pixels are their
        outer product, row-major.
    aperture: (len(rows), len(cols)) bool extraction pixels (a contiguous box).
    background: (len(rows), len(cols)) bool background pixels (may be all False).
    geometry: what was located (or fixed) and any problems found.
    """

    rows: np.ndarray
    cols: np.ndarray
    aperture: np.ndarray
    background: np.ndarray
    geometry: Geometry

    @property
    def aperture_slices(self) -> tuple[slice, slice]:
        r = np.nonzero(self.aperture.any(axis=1))[0]
        c = np.nonzero(self.aperture.any(axis=0))[0]
        return slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1)


@dataclass
class VisitState:
    """Both instruments' binned images of one visit (phase IMAGES) and the products.

    binned, selection, read_noise: per instrument name; read_noise is the (rows, cols) read
    noise map of the selected pixels [counts].
    Products set by the steps: time_h (n_bins,) [h] (``bin``), regressors (n_bins, k) and
    regressor_names (``jitter``), flux and flux_err (n_bins, 283) (``extract``).
    """

    config: CalibrationConfig
    axis: AxisInfo
    n_bins: int
    binned: dict[str, BinnedInstrument]
    selection: dict[str, Selection]
    read_noise: dict[str, np.ndarray]
    time_h: np.ndarray | None = None
    regressors: np.ndarray | None = None
    regressor_names: list[str] = field(default_factory=list)
    flux: np.ndarray | None = None
    flux_err: np.ndarray | None = None

    def airs_trace(self) -> tuple[np.ndarray, int]:
        """(n_bins, trace rows, cols) view of the AIRS aperture and its first detector row."""
        sel = self.selection[AIRS.name]
        rows, _ = sel.aperture_slices
        return self.binned[AIRS.name].cube[:, rows, :], int(sel.rows[rows.start])

    def fgs_aperture(self) -> tuple[np.ndarray, tuple[int, int]]:
        """(n_bins, rows, cols) view of the FGS aperture and its detector (row, col) origin."""
        sel = self.selection[FGS.name]
        rows, cols = sel.aperture_slices
        origin = (int(sel.rows[rows.start]), int(sel.cols[cols.start]))
        return self.binned[FGS.name].cube[:, rows, cols], origin


def reference_paths(names: tuple[str, ...], visit: int) -> list[str]:
    """A step's reference needs as dataset-relative paths, for its record.

    A calibration map name (``"dark"``) stands for that map of both instruments'
    calibration folders of ``visit``; anything else is a dataset-level file (``adc_info.csv``).
    """
    from spectramind.data import layout

    paths: list[str] = []
    for name in names:
        if name in layout.CALIBRATION_MAPS:
            paths += [
                f"{layout.calibration_dir_name(inst, visit)}/{name}.parquet" for inst in (AIRS, FGS)
            ]
        else:
            paths.append(name)
    return paths
