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
from numba import njit

# The frame steps this kernel implements, in the order it applies them.
STEPS = ("adc", "linearity", "cds", "dark", "flat", "cosmic", "bin")


def supports(active: tuple[str, ...]) -> bool:
    """True when the frame steps that run (in execution order) are a subsequence of
    :data:`STEPS`, i.e. the kernel runs exactly them."""
    known = iter(STEPS)
    return all(name in known for name in active)


@njit(cache=True, nogil=True)
def _median_inplace(values, half):  # pragma: no cover - compiled
    """Median of a 1-D float array as ``np.median`` computes it (reorders ``values``).

    Odd size: the middle order statistic; even: the two middle ones added in the array's float
    type and halved (``half`` = 0.5 in that type; halving is exact either way).
    """
    n = values.size
    k = n // 2
    lo, hi = 0, n - 1
    while lo < hi:  # Wirth's selection: afterwards values[k] is the k-th smallest
        pivot = values[k]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while pivot < values[j]:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    upper = values[k]
    if n % 2:
        return upper
    lower = values[0]  # values[:k] are all <= values[k]: the (k-1)-th is their maximum
    for i in range(1, k):
        if values[i] > lower:
            lower = values[i]
    return (lower + upper) * half


@njit(cache=True, nogil=True)
def calibrate_pixels(
    raw,
    n_cds,
    size,
    do_adc,
    gain_inv,
    offset,
    saturation_raw,
    do_linearity,
    coeffs,
    do_dark,
    dark,
    cds_dt,
    do_flat,
    inv_flat,
    do_cosmic,
    nsigma,
    mad_to_sigma,
    half,
    scale_samples,
    window,
    sum_bins,
    counts,
    frames,
    spike,
    sample,
    totals,
    binned,
    empty,
    n_saturated,
    n_cosmic,
):  # pragma: no cover - compiled
    """Calibrate and bin each pixel's time series (one pixel at a time, in cache).

    Args:
        raw: (p, >= 2 n_cds) uint16 reads of p pixels, pixel-major, start/end alternating.
        n_cds: CDS frames used (n_bins x size); size: CDS frames per bin.
        do_*: whether each step runs; scalars and operands in the chain's float type:
            gain_inv, offset (adc); coeffs (6, p) (linearity); dark (p,), cds_dt (n_cds,)
            (dark); inv_flat (p,) (flat); nsigma, mad_to_sigma = 1.4826, half = 0.5,
            scale_samples, window (cosmic); saturation_raw (adc) an int.
        sum_bins: True for the ``sum`` statistic, False for ``mean``.
        counts (2 n_cds,), frames, spike, sample (n_cds,): scratch in the float type;
        totals (n_bins,) float64 scratch.
        binned: (n_bins, p) float64 out; empty: (n_bins, p) bool out; n_saturated,
            n_cosmic: (p,) int64, incremented.

    Each pass is a plain loop over one pixel's series with the step switches hoisted out of it,
    so that the compiler vectorises the elementwise passes; every operation keeps the numpy
    step's order and float type.
    """
    n_pix = raw.shape[0]
    n_bins = n_cds // size
    n_reads = 2 * n_cds
    horner6 = coeffs.shape[0] == 6  # FORMAT.md: degree 5
    rejected = np.zeros(n_cds, dtype=np.bool_)
    for p in range(n_pix):
        series = raw[p]
        # READS and CDS: decode (adc), linearise (linearity), end - start (cds), dark, flat.
        if do_adc and do_linearity and horner6 and do_dark and do_flat:  # the usual chain
            c0, c1, c2 = coeffs[0, p], coeffs[1, p], coeffs[2, p]
            c3, c4, c5 = coeffs[3, p], coeffs[4, p], coeffs[5, p]
            dark_p, flat_p = dark[p], inv_flat[p]
            for i in range(n_cds):
                # uint16 -> float32 is exact, and so is float32 -> float64 when the chain is.
                xs = np.float32(series[2 * i]) * gain_inv + offset
                xe = np.float32(series[2 * i + 1]) * gain_inv + offset
                xs = ((((c5 * xs + c4) * xs + c3) * xs + c2) * xs + c1) * xs + c0
                xe = ((((c5 * xe + c4) * xe + c3) * xe + c2) * xe + c1) * xe + c0
                frames[i] = ((xe - xs) - cds_dt[i] * dark_p) * flat_p
        else:
            for t in range(n_reads):
                counts[t] = np.float32(series[t])
                if do_adc:
                    counts[t] = counts[t] * gain_inv + offset
                if do_linearity:
                    x = counts[t]
                    y = coeffs[coeffs.shape[0] - 1, p]
                    for k in range(coeffs.shape[0] - 2, -1, -1):
                        y = y * x + coeffs[k, p]
                    counts[t] = y
            for i in range(n_cds):
                f = counts[2 * i + 1] - counts[2 * i]
                if do_dark:
                    f = f - cds_dt[i] * dark[p]
                if do_flat:
                    f = f * inv_flat[p]
                frames[i] = f
        # adc: saturated read pairs are rejected.
        n_rejected = 0
        for i in range(n_cds):
            hit = do_adc and max(series[2 * i], series[2 * i + 1]) >= saturation_raw
            rejected[i] = hit
            n_rejected += hit
        n_saturated[p] += n_rejected
        # cosmic: positive spikes above nsigma robust sigma of their window.
        if do_cosmic and n_cds >= 3:
            spike[0] = frames[0] - frames[1]
            for i in range(1, n_cds - 1):
                spike[i] = frames[i] - half * (frames[i - 1] + frames[i + 1])
            spike[n_cds - 1] = frames[n_cds - 1] - frames[n_cds - 2]
            n_windows = max(1, (n_cds + window // 2) // window)
            n_hits = 0
            for w in range(n_windows):
                w0 = w * n_cds // n_windows
                w1 = (w + 1) * n_cds // n_windows
                m = 0
                for i in range(w0, w1, max(1, (w1 - w0) // scale_samples)):
                    sample[m] = abs(spike[i])
                    m += 1
                threshold = nsigma * (mad_to_sigma * _median_inplace(sample[:m], half))
                for i in range(w0, w1):
                    if spike[i] > threshold and not rejected[i]:
                        rejected[i] = True
                        n_hits += 1
            n_cosmic[p] += n_hits
            n_rejected += n_hits
        # bin: the good frames of each bin added in float64 in time order. Looping over the
        # frame within the bin outside keeps that order while the bins run side by side.
        totals[:] = 0.0
        if n_rejected == 0:
            for k in range(size):
                for b in range(n_bins):
                    totals[b] += frames[b * size + k]
            for b in range(n_bins):
                binned[b, p] = totals[b] if sum_bins else totals[b] / size
                empty[b, p] = False
            continue
        for k in range(size):
            for b in range(n_bins):
                if not rejected[b * size + k]:
                    totals[b] += frames[b * size + k]
        for b in range(n_bins):
            good = 0
            for i in range(b * size, (b + 1) * size):
                good += not rejected[i]
            mean = totals[b] / max(good, 1)
            if sum_bins:
                binned[b, p] = totals[b] if good == size else mean * size
            else:
                binned[b, p] = mean
            empty[b, p] = good == 0


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
        binned, empty: (n_bins, p) outputs; n_saturated, n_cosmic: (p,) int64, incremented.
    """
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
