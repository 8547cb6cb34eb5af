"""Reference implementation of the official starter notebook's calibration order.

Written independently of :mod:`spectramind.calibrate.steps` and deliberately plain: whole
visits in float64, every step over full arrays in the notebook order (FORMAT.md section 6):

1. ADC decode; 2. crop AIRS columns 39:321; 3. hot (5-sigma clip of the dark, numpy masked
arrays) and dead masks; 4. linearity ``sum_k c_k x^k`` with explicit powers (optional: the
notebook skips it); 5. ``signal -= dark * dt`` per read, dt = integration time + 0.1 s on end
reads (AIRS) and 0.1 / 0.2 s (FGS); 6. CDS; 7. sum-binning 30 AIRS / 360 FGS CDS frames;
8. flat division; masked pixels contribute zero; AIRS light curve = rows 10:22 summed per
column, flipped to ascending wavelength; FGS = the whole frame summed.

It exists to test the fast pipeline's ``starter`` preset and as the benchmark's baseline.
Memory: about 8 bytes x frames x pixels per instrument (1.1 GB for a full-size FGS visit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spectramind.data import layout
from spectramind.data.layout import AIRS, FGS
from spectramind.data.reader import read_adc_info, read_axis_info, read_calibration, read_signal


def _hot_pixels(dark: np.ndarray, sigma: float = 5.0, maxiters: int = 5) -> np.ndarray:
    """astropy-style sigma_clip(dark, sigma, maxiters).mask with numpy masked arrays."""
    data = np.ma.masked_invalid(dark)
    for _ in range(maxiters):
        centre = np.ma.median(data)
        std = data.std()
        new = np.ma.masked_where(np.abs(dark - centre) > sigma * std, data)
        if np.ma.count_masked(new) == np.ma.count_masked(data):
            break
        data = new
    return np.ma.getmaskarray(data)


def _instrument_light_curve(
    signal: np.ndarray,
    maps,
    gain: float,
    offset: float,
    dt: np.ndarray,
    binning: int,
    crop: slice,
    linearity: bool,
) -> np.ndarray:
    """(n_bins, rows, cols) binned, flat-fielded images with masked pixels set to zero."""
    signal = signal.astype(np.float64)
    signal /= gain
    signal += offset
    signal = signal[:, :, crop]
    dark = maps.dark[:, crop]
    dead = maps.dead[:, crop]
    flat = maps.flat[:, crop]
    coeffs = maps.linear_corr[:, :, crop]
    masked = _hot_pixels(dark) | dead
    if linearity:
        corrected = np.zeros_like(signal)
        for k in range(coeffs.shape[0]):
            corrected += coeffs[k] * signal**k
        signal = corrected
    signal -= dark[None, :, :] * dt[:, None, None]
    cds = signal[1::2] - signal[0::2]
    n_bins = cds.shape[0] // binning
    binned = np.zeros((n_bins, *cds.shape[1:]))
    for i in range(n_bins):
        binned[i] = cds[i * binning : (i + 1) * binning].sum(axis=0)
    binned = binned / flat[None]
    binned[:, masked] = 0.0
    return binned


def starter_light_curves(
    data_dir: Path | str,
    split: str,
    planet_id: int,
    visit: int = 0,
    linearity: bool = False,
    airs_binning: int = 30,
    fgs_binning: int = 360,
) -> np.ndarray:
    """The starter chain's light curves: (n_bins, 283), column 0 FGS, then wl_2..wl_283.

    Values are CDS counts summed over each bin (not normalised).
    """
    data_dir = Path(data_dir)
    adc = read_adc_info(data_dir)
    axis = read_axis_info(data_dir)

    airs_raw = read_signal(layout.signal_path(data_dir, split, planet_id, AIRS, visit), AIRS)
    dt_airs = axis.airs_integration_time_s[: airs_raw.shape[0]].copy()
    dt_airs[1::2] += 0.1
    airs = _instrument_light_curve(
        airs_raw,
        read_calibration(data_dir, split, planet_id, AIRS, visit),
        adc[AIRS.name].gain,
        adc[AIRS.name].offset,
        dt_airs,
        airs_binning,
        slice(39, 321),
        linearity,
    )
    del airs_raw
    airs_lc = airs[:, 10:22, :].sum(axis=1)[:, ::-1]

    fgs_raw = read_signal(layout.signal_path(data_dir, split, planet_id, FGS, visit), FGS)
    dt_fgs = np.ones(fgs_raw.shape[0]) * 0.1
    dt_fgs[1::2] += 0.1
    fgs = _instrument_light_curve(
        fgs_raw,
        read_calibration(data_dir, split, planet_id, FGS, visit),
        adc[FGS.name].gain,
        adc[FGS.name].offset,
        dt_fgs,
        fgs_binning,
        slice(0, 32),
        linearity,
    )
    del fgs_raw
    fgs_lc = fgs.sum(axis=(1, 2))
    n = min(len(fgs_lc), len(airs_lc))
    return np.column_stack([fgs_lc[:n], airs_lc[:n]])
