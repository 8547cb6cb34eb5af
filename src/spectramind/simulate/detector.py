"""Detector model: calibration maps, non-linearity, ADC encoder and raw frame generation.

A pixel accumulates charge from reset. The start read comes ``dark_dt_start_s`` (0.1 s) after the
reset, the end read one integration later (AIRS 4.5 s, FGS 0.1 s), so ``CDS = end - start`` is
the charge integrated between the reads. Each read is

    value = bias + photo-charge + dark * t + read noise          [e-]
    (photon noise on the charge integrated between the reads; the charge collected before the
    start read, common to both reads, is its mean)
    measured = value - alpha * value^2                             (non-linearity)
    raw = uint16(clip(floor((measured - offset) * gain), 0, 65535))  (ADC encoder, FORMAT.md 4)

Dead pixels read 0; a cosmic-ray hit saturates a pixel's end read. ``linear_corr`` stores the
inverse non-linearity as a degree-5 polynomial in the measured value: the series of
``v = (1 - sqrt(1 - 4 alpha m)) / (2 alpha)`` is ``m + alpha m^2 + 2 alpha^2 m^3 + 5 alpha^3 m^4
+ 14 alpha^4 m^5 + ...`` (Catalan numbers); truncating after m^5 errs by about ``42 (alpha m)^5``,
below 1e-5 relative up to the ADC ceiling.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from spectramind.data import layout
from spectramind.data.layout import AIRS, InstrumentLayout
from spectramind.simulate import constants as c
from spectramind.simulate import variants

# Catalan numbers C_(k-1): coefficient of alpha^(k-1) m^k in the inverse series, k = 0..5.
_INVERSE_SERIES = np.array([0.0, 1.0, 1.0, 2.0, 5.0, 14.0])


@dataclass(frozen=True)
class DetectorMaps:
    """Per-pixel detector properties of one instrument and visit, each (rows, cols).

    dark: dark current [e-/s]; dead: True where the pixel reads 0; flat: relative response;
    read: read noise per read [e-]; bias: reset pedestal [e-]; alpha: non-linearity [1/e-].
    """

    dark: np.ndarray
    dead: np.ndarray
    flat: np.ndarray
    read: np.ndarray
    bias: np.ndarray
    alpha: np.ndarray

    @property
    def linear_corr(self) -> np.ndarray:
        """(6, rows, cols) coefficients c_k of x^k of the inverse non-linearity."""
        orders = (np.arange(6) - 1.0).reshape(-1, *(1,) * self.alpha.ndim)
        return _INVERSE_SERIES.reshape(orders.shape) * self.alpha[None] ** orders


def draw_maps(
    rng: np.random.Generator, instrument: InstrumentLayout, negative_darks: bool
) -> DetectorMaps:
    """Draw calibration maps: ~1.7% hot pixels, ~1.1% dead, flat 0.57..1.2, read ~10 e-."""
    shape = (instrument.rows, instrument.cols)
    n = instrument.pixels_per_frame
    dark = np.clip(rng.normal(0.005, 0.004, shape), -0.01, 0.02)
    hot = rng.uniform(size=shape) < c.HOT_PIXEL_FRACTION
    # log-uniform 0.5..25 e-/s: hot pixels up to ~25 as in the real maps
    dark[hot] = np.exp(rng.uniform(np.log(0.5), np.log(25.0), int(hot.sum())))
    if negative_darks:
        neg = rng.uniform(size=shape) < c.NEGATIVE_DARK_FRACTION
        dark[neg] = -rng.uniform(0.5, 3.0, int(neg.sum()))
    dead = rng.uniform(size=shape) < c.DEAD_PIXEL_FRACTION
    # Flat: smooth large-scale gradient + pixel-to-pixel scatter + a few strong outliers.
    yy, xx = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    flat = 1.0 + 0.03 * rng.normal() * xx + 0.03 * rng.normal() * yy + rng.normal(0, 0.03, shape)
    flat = np.clip(flat, 0.8, 1.1)
    n_out = max(2, int(0.003 * n))
    low = rng.choice(n, n_out, replace=False)
    high = rng.choice(n, n_out, replace=False)
    flat.flat[low] = rng.uniform(c.FLAT_RANGE[0], 0.75, n_out)
    flat.flat[high] = rng.uniform(1.1, c.FLAT_RANGE[1], n_out)
    read = np.clip(rng.normal(c.READ_NOISE_E, 0.8, shape), 6.0, 16.0)
    bias = rng.normal(c.BIAS_LEVEL_E, 150.0, shape)
    alpha = rng.uniform(*c.NONLINEARITY_ALPHA_RANGE, size=shape)
    return DetectorMaps(dark=dark, dead=dead, flat=flat, read=read, bias=bias, alpha=alpha)


def apply_nonlinearity(value: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Forward non-linearity ``m = v - alpha v^2`` [e-] (broadcasting over pixels)."""
    return value - alpha * value * value


def apply_linear_corr(measured: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Inverse non-linearity by Horner: ``sum_k coeffs[k] * measured^k``; coeffs (6, ...)."""
    out = np.zeros_like(measured, dtype=np.float64) + coeffs[-1]
    for k in range(coeffs.shape[0] - 2, -1, -1):
        out = out * measured + coeffs[k]
    return out


def adc_encode(counts: np.ndarray, offset: float, gain: float) -> np.ndarray:
    """``uint16(clip(floor((counts - offset) * gain), 0, 65535))`` (FORMAT.md section 4)."""
    return np.clip(np.floor((counts - offset) * gain), 0, 65535).astype(np.uint16)


def adc_ceiling(offset: float, gain: float) -> float:
    """Largest measured value [e-] the ADC encodes without clipping."""
    return 65535.0 / gain + offset


def airs_row_profile(
    trace_row: np.ndarray, trace_sigma: np.ndarray, shift_px: np.ndarray
) -> np.ndarray:
    """Fraction of each column's flux falling in each row: pixel-integrated Gaussian.

    Args:
        trace_row: (cols,) nominal centre row; trace_sigma: (cols,) width [pixel].
        shift_px: (n,) pointing offset across rows per frame [pixel].

    Returns:
        (n, rows, cols), each column summing to 1 over the rows (no flux leaves the frame).
    """
    edges = np.arange(AIRS.rows + 1, dtype=np.float64)
    centre = trace_row[None, None, :] + shift_px[:, None, None]
    z = (edges[None, :, None] - centre) / (np.sqrt(2.0) * trace_sigma[None, None, :])
    cdf = erf(z)
    frac = np.diff(cdf, axis=1)
    return frac / frac.sum(axis=1, keepdims=True)


def fgs_psf(sigma: float, offset_px: np.ndarray, size: int) -> np.ndarray:
    """Pixel-integrated circular Gaussian PSF centred at the frame centre + offset.

    Args:
        offset_px: (n, 2) pointing offsets (x, y) [pixel].

    Returns:
        (n, size, size) fractions summing to 1 per frame.
    """
    edges = np.arange(size + 1, dtype=np.float64)
    centre = size / 2.0
    profiles = []
    for axis in (1, 0):  # rows follow y, columns follow x
        z = (edges[None, :] - centre - offset_px[:, axis : axis + 1]) / (np.sqrt(2.0) * sigma)
        frac = np.diff(erf(z), axis=1)
        profiles.append(frac / frac.sum(axis=1, keepdims=True))
    return profiles[0][:, :, None] * profiles[1][:, None, :]


def raw_frames(
    rng: np.random.Generator,
    instrument: InstrumentLayout,
    maps: DetectorMaps,
    cds_electrons: np.ndarray,
    background_e_s: float,
    offset: float,
    gain: float,
    cosmic_rate: float,
    extra: variants.CosmicModel | None = None,
) -> np.ndarray:
    """Raw interleaved start/end reads for a block of CDS frames.

    Args:
        cds_electrons: (n, rows, cols) photo-electrons per pixel per CDS before the flat field.
        background_e_s: sky background per pixel [e-/s], also seen through the flat.
        cosmic_rate: expected cosmic-ray hits per CDS frame over the detector.
        extra: the ``cosmics`` variant: extra hits and dark shot noise, from its own stream
            (the default draws above are unchanged).

    Returns:
        (2 n, rows * cols) uint16, rows alternating start read, end read.
    """
    n = cds_electrons.shape[0]
    t_start = instrument.dark_dt_start_s
    t_int = instrument.dark_dt_end_s - instrument.dark_dt_start_s
    per_cds = (cds_electrons + background_e_s * t_int) * maps.flat
    # The charge before the start read is common to both reads and cancels exactly in CDS, so
    # its mean is used without shot noise (Poisson draws dominate the simulator's run time).
    q_start = per_cds * (t_start / t_int)
    q_int = rng.poisson(per_cds).astype(np.float64)
    start = maps.bias + q_start + maps.dark * t_start
    start += maps.read * rng.standard_normal(start.shape)
    end = maps.bias + q_start + q_int + maps.dark * instrument.dark_dt_end_s
    end += maps.read * rng.standard_normal(end.shape)
    n_hits = rng.poisson(cosmic_rate * n)
    if n_hits:
        frames = rng.integers(0, n, n_hits)
        pixels = rng.integers(0, instrument.pixels_per_frame, n_hits)
        end.reshape(n, -1)[frames, pixels] += c.SATURATED_E
    if extra is not None:
        variants.add_cosmic_hits(extra, end)
        if extra.dark_shot_noise:
            # Dark charge between the reads is Poisson too (it matters for hot pixels only).
            mean = np.clip(maps.dark * t_int, 0.0, None)
            shot = extra.rng.poisson(np.broadcast_to(mean, end.shape)) - mean
            end += shot
    out = np.empty((2 * n, instrument.pixels_per_frame), dtype=np.uint16)
    out[0::2] = adc_encode(apply_nonlinearity(start, maps.alpha), offset, gain).reshape(n, -1)
    out[1::2] = adc_encode(apply_nonlinearity(end, maps.alpha), offset, gain).reshape(n, -1)
    out[:, maps.dead.reshape(-1)] = 0
    return out


def _blocks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def airs_frame_blocks(
    rng: np.random.Generator,
    maps: DetectorMaps,
    flux: np.ndarray,
    jitter_px: np.ndarray,
    trace_row: np.ndarray,
    trace_sigma: np.ndarray,
    background_e_s: float,
    offset: float,
    gain: float,
    block_cds: int,
    extra: variants.CosmicModel | None = None,
) -> Iterator[np.ndarray]:
    """Yield AIRS raw frames, ``block_cds`` CDS frames (2x rows) at a time.

    Args:
        flux: (n_cds, cols) expected e- per CDS per column summed over rows.
        jitter_px: (n_cds, 2) pointing offset; y moves the trace across rows.
    """
    for block in _blocks(flux.shape[0], block_cds):
        profile = airs_row_profile(trace_row, trace_sigma, jitter_px[block, 1])
        electrons = flux[block, None, :] * profile
        yield raw_frames(
            rng, AIRS, maps, electrons, background_e_s, offset, gain, c.AIRS_COSMIC_RATE, extra
        )


def fgs_frame_blocks(
    rng: np.random.Generator,
    maps: DetectorMaps,
    flux: np.ndarray,
    jitter_px: np.ndarray,
    psf_sigma: float,
    background_e_s: float,
    offset: float,
    gain: float,
    block_cds: int,
    extra: variants.CosmicModel | None = None,
) -> Iterator[np.ndarray]:
    """Yield FGS raw frames; ``flux`` (n_cds,) e- per CDS, ``jitter_px`` (n_cds, 2)."""
    fgs = layout.FGS
    for block in _blocks(flux.shape[0], block_cds):
        electrons = flux[block, None, None] * fgs_psf(psf_sigma, jitter_px[block], fgs.rows)
        yield raw_frames(
            rng, fgs, maps, electrons, background_e_s, offset, gain, c.FGS_COSMIC_RATE, extra
        )
