"""The numba kernel of :mod:`spectramind.calibrate.fused` (imported only when it runs).

Kept apart so that deciding whether the kernel runs, and the rest of the package, never import
numba (about 0.2 s); see :mod:`spectramind.calibrate.fused` for what it computes and why numba.
"""

import numpy as np
from numba import njit


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
        binned: (p, n_bins) float64 out; empty: (p, n_bins) bool out; n_saturated,
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
                binned[p, b] = totals[b] if sum_bins else totals[b] / size
                empty[p, b] = False
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
                binned[p, b] = totals[b] if good == size else mean * size
            else:
                binned[p, b] = mean
            empty[p, b] = good == 0
