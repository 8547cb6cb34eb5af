"""Calibration steps, one module each (JWST ``calwebb_detector1`` style), and their registry.

Every step module defines the same interface:

- ``NAME``: the step's name in the config (``steps.<NAME>``) and in the output's records;
- ``Params``: a frozen dataclass of its parameters (units in the field comments);
- ``PHASES``: the :class:`~spectramind.calibrate.state.Phase` values it acts in;
- ``references(params) -> tuple[str, ...]``: the reference files it uses (calibration map names
  such as ``"dark"``, or dataset files such as ``adc_info.csv``), for its record;
- ``run(state, params) -> state``: called once per phase in ``PHASES`` with that phase's state
  (:mod:`spectramind.calibrate.state`);
- optionally ``REQUIRED = True``: no light curve without it, so it cannot be skipped;

plus the pure numpy functions that ``run`` applies (tested on their own). Steps never read
files: the pipeline hands them what they need in the state.

:data:`REGISTRY` is the order in which the steps run (within each phase) and are recorded.
Adding a step = writing its module and listing it here; the pipeline
(:mod:`spectramind.calibrate.pipeline`) skips, times and records every step in one place, and
the config (:mod:`spectramind.calibrate.config`) accepts ``steps.<NAME>`` from ``Params``.

Array conventions: time-ordered frames are ``(n_frames, n_pixels)`` where the pixels are the
selected (cropped) detector pixels in row-major order; images are ``(..., rows, cols)``.
"""

from spectramind.calibrate.steps import (
    adc,
    background,
    binning,
    cds,
    cosmic,
    crop,
    dark,
    extract,
    flat,
    jitter,
    linearity,
    locate,
    mask,
)

REGISTRY = (
    adc,
    crop,
    mask,
    locate,
    linearity,
    dark,
    cds,
    flat,
    cosmic,
    binning,
    background,
    jitter,
    extract,
)
