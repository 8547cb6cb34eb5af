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


def _read_and_bin(
    data_dir: Path,
    split: str,
    planet_id: int,
    visit: int,
    adc: dict,
    linearity: bool,
    instrument: layout.InstrumentLayout,
    integration_s: np.ndarray | float,
    binning: int,
    crop: slice,
) -> np.ndarray:
    """One instrument of one visit read and run through :func:`_instrument_light_curve`.

    ``integration_s``: per-frame integration time [s] (axis_info's, AIRS) or one for all frames
    (FGS); the dark is scaled by it plus 0.1 s on the end read of each CDS pair.
    """
    raw = read_signal(layout.signal_path(data_dir, split, planet_id, instrument, visit), instrument)
    if np.ndim(integration_s):
        dt = np.asarray(integration_s, dtype=np.float64)[: raw.shape[0]].copy()
    else:
        dt = np.full(raw.shape[0], float(integration_s))
    dt[1::2] += 0.1
    return _instrument_light_curve(
        raw,
        read_calibration(data_dir, split, planet_id, instrument, visit),
        adc[instrument.name].gain,
        adc[instrument.name].offset,
        dt,
        binning,
        crop,
        linearity,
    )


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

    args = (data_dir, split, planet_id, visit, adc, linearity)
    airs = _read_and_bin(*args, AIRS, axis.airs_integration_time_s, airs_binning, slice(39, 321))
    airs_lc = airs[:, 10:22, :].sum(axis=1)[:, ::-1]
    fgs = _read_and_bin(*args, FGS, 0.1, fgs_binning, slice(0, 32))
    fgs_lc = fgs.sum(axis=(1, 2))
    n = min(len(fgs_lc), len(airs_lc))
    return np.column_stack([fgs_lc[:n], airs_lc[:n]])
