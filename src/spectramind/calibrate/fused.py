"""The per-frame steps fused into one pass per pixel (numba), bit-identical to the steps.

The READS and CDS phases (``adc`` -> ``linearity`` -> ``cds``, then ``dark`` -> ``flat`` ->
``cosmic`` -> ``bin``) are a chain of per-pixel operations over each pixel's time series. As
numpy passes over a block they cost one memory round trip per operation (about 25 for the
default chain); here one compiled loop runs them all on one pixel's series while it sits in
cache. numpy cannot fuse them, and the robust scale of ``cosmic`` (a median per pixel and time
window) is a selection that numpy does only through a transposed copy.

Why numba (0.68): it compiles plain Python loops over numpy arrays for float32 and float64
from one source, caches the machine code on disk (``cache=True``: compiled once per machine),
and its arithmetic is IEEE with no reassociation and no fused multiply-add unless asked for
(``fastmath`` is off), so each operation rounds exactly as the numpy step function does and the
result does not depend on the CPU's instruction set. Kernels are single-threaded: parallelism
comes from running visits side by side, and the result never depends on a thread count.

Every operation mirrors its step's numpy function, in the same order and the same float type:
:func:`spectramind.calibrate.steps.adc.decode`, ``linearity.correct`` (Horner), ``cds.cds``,
``dark.subtract``, ``flat.apply``, ``cosmic.flag`` and ``binning.bin_frames``. The tests
compare the two paths bit for bit (``tests/test_calibrate_steps.py``); a frame step the kernel
does not know (a new one) makes the pipeline run the numpy step functions instead.
"""

from __future__ import annotations

import numpy as np

# The frame steps this kernel implements, in the order it applies them.
STEPS = ("adc", "linearity", "cds", "dark", "flat", "cosmic", "bin")


def supports(active: tuple[str, ...]) -> bool:
    """True when the frame steps that run (in execution order) are a subsequence of
    :data:`STEPS`, i.e. the kernel runs exactly them."""
    known = iter(STEPS)
    return all(name in known for name in active)


def run(
    raw: np.ndarray,
    n_bins: int,
    size: int,
    cfg,
    adc,
    coeffs: np.ndarray,
    dark: np.ndarray,
    cds_dt: np.ndarray | None,
    inv_flat: np.ndarray,
    binned: np.ndarray,
    empty: np.ndarray,
    n_saturated: np.ndarray,
    n_cosmic: np.ndarray,
) -> None:
    """Run the kernel on a pixel block with the steps and parameters of ``cfg``.

    Args:
        raw: (p, 2 n_bins size) uint16 pixel-major reads; coeffs (6, p), dark (p,), inv_flat
            (p,), cds_dt (n_bins size,) or None: the operands of these pixels.
        binned, empty: (p, n_bins) C-contiguous outputs (pixel-major); n_saturated,
            n_cosmic: (p,) int64, incremented.

    Every argument has the same type and layout on every call, so one compiled version per
    float type is loaded (see :func:`warm_up`).
    """
    from spectramind.calibrate.fused_kernel import calibrate_pixels

    dtype = np.dtype(cfg.dtype)
    f = dtype.type
    n_cds = n_bins * size
    adc_p, cosmic_p = cfg.params("adc"), cfg.params("cosmic")
    calibrate_pixels(
        raw,
        n_cds,
        size,
        cfg.runs("adc"),
        f(1.0 / adc.gain),
        f(adc.offset),
        int(adc_p.saturation_raw),
        cfg.runs("linearity"),
        np.ascontiguousarray(coeffs, dtype=dtype),
        cfg.runs("dark"),
        dark.astype(dtype),
        (np.zeros(n_cds) if cds_dt is None else cds_dt).astype(dtype),
        cfg.runs("flat"),
        inv_flat.astype(dtype),
        cfg.runs("cosmic"),
        f(cosmic_p.nsigma),
        f(1.4826),
        f(0.5),
        max(1, int(cosmic_p.scale_samples)),
        int(cosmic_p.window_cds),
        cfg.params("bin").statistic == "sum",
        np.empty(2 * n_cds, dtype=dtype),
        np.empty(n_cds, dtype=dtype),
        np.empty(n_cds, dtype=dtype),
        np.empty(n_cds, dtype=dtype),
        np.empty(n_bins),
        binned,
        empty,
        n_saturated,
        n_cosmic,
    )


def warm_up(dtype: str) -> None:
    """Load (or, the first time on a machine, compile) the kernel for ``dtype`` on a tiny
    input: the pipeline runs this in a thread while it reads, so that the numba import and the
    cache load overlap with parquet decoding instead of adding to it."""
    from spectramind.calibrate.config import build_config
    from spectramind.data.reader import AdcInfo

    n_bins, size, p = 1, 3, 1
    run(
        np.zeros((p, 2 * n_bins * size), dtype=np.uint16),
        n_bins,
        size,
        build_config({"dtype": dtype}),
        AdcInfo(offset=0.0, gain=1.0),
        np.zeros((6, p)),
        np.zeros(p),
        np.zeros(n_bins * size),
        np.ones(p),
        np.empty((p, n_bins)),
        np.empty((p, n_bins), dtype=bool),
        np.zeros(p, dtype=np.int64),
        np.zeros(p, dtype=np.int64),
    )
