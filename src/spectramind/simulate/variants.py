"""Simulator variants: datasets that differ from the default simulator in one way at a time.

The pipeline is judged on data it was not shaped on, so the simulator can write datasets whose
physics or instrument departs from its default in one named respect (``spectramind simulate
--variant NAME``, config ``simulate.variants``). Variants combine; with none the dataset is
byte-identical to the default simulator's. Every variant draws from its own random streams
(``SeedSequence(seed, spawn_key=(split, index, purpose))`` with purposes 60 and up, or a
dataset-level key for the wavelength grid), so the default draws of every planet are untouched:
a ``star-info`` dataset has the very same frames as the default one, a ``limb-darkening``
dataset the same stars, orbits, spectra and noise streams, and so on.

==================  =============================================================================
variant             what differs from the default simulator
==================  =============================================================================
limb-darkening      4-parameter non-linear law (Claret 2000) projected from a power-2 profile
                    (Maxted 2018) drawn well outside the default quadratic box: stronger and
                    steeper limb darkening; its best quadratic approximation leaves u1 0..0.8,
                    u2 0..0.4 for most planets.
systematics         gain drift 3-4x stronger and of higher order (cubic in time, quadratic in
                    wavelength); an exponential ramp at the visit start; pointing jitter with a
                    power-law spectrum plus narrow lines (reaction-wheel-like) at 2-4x the RMS;
                    a chromatic jitter loss.
wavelengths         the AIRS wavelength solution is shifted, stretched and bent (one draw per
                    dataset): axis_info ``AIRS-CH0-axis2-um``, ``wavelengths.csv`` and every
                    simulated spectrum (depth, limb darkening, stellar flux, trace width, drift)
                    follow the perturbed grid; the closed form of FORMAT.md no longer holds.
cosmics             10x the cosmic-ray rate with a log-uniform charge (most hits no longer
                    saturate) and charge spilling to a neighbour; 4x as many hot pixels, up to
                    8x hotter, with shot noise on their dark current.
star-info           the star-info csv carries catalogue values with realistic errors (Rs 5 %,
                    Ms 8 %, Ts 100 K, Mp 20 %, P 20 ppm, sma 5 %, i 0.7 deg); the simulation
                    (and the truth) uses the exact values.
spectra             transmission spectra that are not a fixed linear combination of a few
                    shapes: each planet's bands are shifted and broadened (temperature,
                    pressure), it has up to four absorbers of its own, and half the planets
                    have a grey cloud deck that truncates their features. The default spectra
                    lie exactly in an 8-dimensional span (grey level, scattering slope, six
                    fixed bands), which a prior learned from the labels reproduces to 0 ppm.
==================  =============================================================================

All draw ranges are named constants of this module (documented in docs/simulate-variants.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectramind.data import layout
from spectramind.errors import ConfigError

LIMB_DARKENING = "limb-darkening"
SYSTEMATICS = "systematics"
WAVELENGTHS = "wavelengths"
COSMICS = "cosmics"
STAR_INFO = "star-info"
SPECTRA = "spectra"
VARIANTS = (LIMB_DARKENING, SYSTEMATICS, WAVELENGTHS, COSMICS, STAR_INFO, SPECTRA)

# spawn_key purposes of the variants' own streams (the default uses 0..59, see planet.py)
PURPOSE_LIMB_DARKENING = 60
PURPOSE_STAR_INFO = 61
PURPOSE_SPECTRA = 62
PURPOSE_SYSTEMATICS = 70  # + visit
PURPOSE_COSMIC_MAPS = 80  # + 2 visit + instrument
PURPOSE_COSMIC_HITS = 90  # + 2 visit + instrument
# dataset-level stream (a 1-element spawn key never equals a planet's 3-element one)
DATASET_KEY_WAVELENGTHS = (7,)

# --- limb darkening -------------------------------------------------------------------------
# Power-2 law I(mu) / I(1) = 1 - c (1 - mu^alpha) at the reference wavelength 0.7 micron, each
# falling with wavelength as (lambda / 0.7)^-slope; projected on the 4-parameter law.
POWER2_C_RANGE = (0.7, 0.95)
POWER2_ALPHA_RANGE = (0.7, 1.6)
POWER2_C_SLOPE_RANGE = (0.2, 0.5)
POWER2_ALPHA_SLOPE_RANGE = (-0.2, 0.1)
LD_REFERENCE_UM = 0.7
_MU_GRID = np.linspace(0.0, 1.0, 201)[1:]  # mu = 0 excluded: mu^alpha is singular in alpha


def power2_profile(mu: np.ndarray, c: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """I(mu)/I(1) of the power-2 law; mu (m,), c and alpha (n,) -> (n, m)."""
    mu = np.asarray(mu, dtype=np.float64)
    c = np.atleast_1d(c)[:, None]
    alpha = np.atleast_1d(alpha)[:, None]
    return 1.0 - c * (1.0 - mu[None, :] ** alpha)


def nonlinear_profile(mu: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """I(mu)/I(1) of the 4-parameter law ``1 - sum_k c_k (1 - mu^(k/2))``; coeffs (n, 4)."""
    mu = np.asarray(mu, dtype=np.float64)
    basis = np.stack([1.0 - mu ** (k / 2.0) for k in range(1, 5)], axis=0)  # (4, m)
    return 1.0 - np.atleast_2d(coeffs) @ basis


def quadratic_equivalent(coeffs: np.ndarray) -> np.ndarray:
    """(n, 2) least-squares quadratic (u1, u2) of 4-parameter profiles (n, 4), on mu in (0, 1]."""
    target = 1.0 - nonlinear_profile(_MU_GRID, coeffs)  # (n, m) = u1 (1-mu) + u2 (1-mu)^2
    basis = np.stack([1.0 - _MU_GRID, (1.0 - _MU_GRID) ** 2], axis=1)  # (m, 2)
    solution, *_ = np.linalg.lstsq(basis, target.T, rcond=None)
    return solution.T


def draw_nonlinear_limb_darkening(
    rng: np.random.Generator, wavelength_um: np.ndarray
) -> np.ndarray:
    """(n, 4) 4-parameter coefficients per wavelength, from one power-2 draw per planet."""
    c_ref = rng.uniform(*POWER2_C_RANGE)
    alpha_ref = rng.uniform(*POWER2_ALPHA_RANGE)
    c_slope = rng.uniform(*POWER2_C_SLOPE_RANGE)
    alpha_slope = rng.uniform(*POWER2_ALPHA_SLOPE_RANGE)
    ratio = np.asarray(wavelength_um, dtype=np.float64) / LD_REFERENCE_UM
    c = c_ref * ratio**-c_slope
    alpha = alpha_ref * ratio**-alpha_slope
    target = 1.0 - power2_profile(_MU_GRID, c, alpha)  # (n, m)
    basis = np.stack([1.0 - _MU_GRID ** (k / 2.0) for k in range(1, 5)], axis=1)  # (m, 4)
    solution, *_ = np.linalg.lstsq(basis, target.T, rcond=None)
    return solution.T


# --- systematics ------------------------------------------------------------------------------
DRIFT_TIME_ORDERS = 3  # Chebyshev T1..T3 in time
DRIFT_WAVELENGTH_ORDERS = 3  # T0..T2 in wavelength
DRIFT_SIGMA = (8e-3, 4e-3, 2.5e-3)  # std of the coefficients of T1, T2, T3 in time
DRIFT_WAVELENGTH_DECAY = 0.5  # each higher wavelength order x this
RAMP_AMPLITUDE_RANGE = (1e-3, 6e-3)  # flux deficit at the first frame (relative)
RAMP_TAU_FULL_H = (0.1, 0.5)  # e-folding time at full size [h] (x frame scale)
JITTER_RMS_PX = (0.12, 0.25)  # per axis
JITTER_POWER_INDEX = (1.0, 2.0)  # PSD ~ f^-index
JITTER_LINES_HZ = (0.02, 0.5)  # narrow oscillations (reaction wheels, cryocooler)
JITTER_LINE_AMPLITUDE_PX = (0.02, 0.08)
JITTER_KAPPA_RANGE = (0.03, 0.08)  # loss per squared pixel at the reference wavelength
JITTER_CHROMATIC_POWER = (1.0, 2.0)  # AIRS loss x (lambda_ref / lambda)^power (PSF grows)
JITTER_CHROMATIC_REFERENCE_UM = 2.9


@dataclass(frozen=True)
class StrongSystematics:
    """Per-visit draws of the ``systematics`` variant."""

    airs_drift: np.ndarray  # (3, 3) Chebyshev coefficients, time T1..T3 x wavelength T0..T2
    fgs_drift: np.ndarray  # (3, 1)
    ramp: np.ndarray  # (3,) AIRS amplitude, FGS amplitude, e-folding time [h, on the clock]
    jitter_px: np.ndarray  # (n_fgs_cds, 2)
    jitter_kappa: float
    jitter_chromatic_power: float


def draw_systematics(
    rng: np.random.Generator, scale: float, n_fgs_cds: int, step_s: float
) -> StrongSystematics:
    sig = np.asarray(DRIFT_SIGMA)[:, None] * DRIFT_WAVELENGTH_DECAY ** np.arange(
        DRIFT_WAVELENGTH_ORDERS
    )
    airs_drift = rng.normal(0.0, 1.0, size=sig.shape) * sig
    fgs_drift = rng.normal(0.0, 1.0, size=(DRIFT_TIME_ORDERS, 1)) * sig[:, :1]
    tau_h = rng.uniform(*RAMP_TAU_FULL_H) * scale
    ramp = np.array([rng.uniform(*RAMP_AMPLITUDE_RANGE), rng.uniform(*RAMP_AMPLITUDE_RANGE), tau_h])
    jitter = np.stack([_coloured_jitter(rng, n_fgs_cds, step_s) for _ in range(2)], axis=1)
    return StrongSystematics(
        airs_drift=airs_drift,
        fgs_drift=fgs_drift,
        ramp=ramp,
        jitter_px=jitter,
        jitter_kappa=float(rng.uniform(*JITTER_KAPPA_RANGE)),
        jitter_chromatic_power=float(rng.uniform(*JITTER_CHROMATIC_POWER)),
    )


def _coloured_jitter(rng: np.random.Generator, n: int, step_s: float) -> np.ndarray:
    """(n,) power-law noise (random phases) plus 2-3 sinusoidal lines, rescaled to its RMS."""
    freq = np.fft.rfftfreq(n, step_s)
    index = rng.uniform(*JITTER_POWER_INDEX)
    amp = np.zeros_like(freq)
    amp[1:] = freq[1:] ** (-index / 2.0)
    spectrum = amp * (rng.standard_normal(freq.size) + 1j * rng.standard_normal(freq.size))
    series = np.fft.irfft(spectrum, n)
    series *= rng.uniform(*JITTER_RMS_PX) / max(np.std(series), 1e-300)
    t = np.arange(n) * step_s
    for _ in range(int(rng.integers(2, 4))):
        f = np.exp(rng.uniform(np.log(JITTER_LINES_HZ[0]), np.log(JITTER_LINES_HZ[1])))
        series += rng.uniform(*JITTER_LINE_AMPLITUDE_PX) * np.sin(
            2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
        )
    return series


def ramp_factor(time_h: np.ndarray, amplitude: float, tau_h: float) -> np.ndarray:
    """(n,) ``1 - amplitude exp(-(t - t_first) / tau)``: the detector settling at visit start."""
    t = np.asarray(time_h, dtype=np.float64)
    return 1.0 - amplitude * np.exp(-(t - t[0]) / tau_h)


# --- wavelength grid --------------------------------------------------------------------------
WL_SHIFT_UM = (0.04, 0.12)  # |shift| of the whole grid, random sign
WL_STRETCH = (0.02, 0.06)  # |relative stretch| about the grid centre, random sign
WL_BEND_UM = (0.02, 0.06)  # |quadratic bend| at the grid ends, random sign


def perturbed_airs_wavelengths(seed: int) -> np.ndarray:
    """(356,) AIRS column wavelengths [micron] of a ``wavelengths`` dataset (still descending)."""
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=DATASET_KEY_WAVELENGTHS))
    )
    base = layout.airs_column_wavelengths_um()
    centre = 0.5 * (base.max() + base.min())
    x = (base - centre) / (0.5 * np.ptp(base))  # -1..1
    sign = lambda: rng.choice((-1.0, 1.0))  # noqa: E731
    shift = sign() * rng.uniform(*WL_SHIFT_UM)
    stretch = sign() * rng.uniform(*WL_STRETCH)
    bend = sign() * rng.uniform(*WL_BEND_UM)
    out = base + shift + stretch * (base - centre) + bend * (x * x - 1.0 / 3.0)
    if not np.all(np.diff(out) < 0):  # pragma: no cover - the ranges keep it monotonic
        raise RuntimeError("perturbed wavelength grid is not monotonic")
    return out


def target_wavelengths(airs_column_wavelengths_um: np.ndarray) -> np.ndarray:
    """(283,) wl_1..wl_283 for a given AIRS column grid (FGS1 stays at its band centre)."""
    airs = np.asarray(airs_column_wavelengths_um)[layout.AIRS_CROP][::-1]
    return np.concatenate([[layout.FGS_WAVELENGTH_UM], airs])


# --- cosmic rays and hot pixels -----------------------------------------------------------------
COSMIC_RATE_FACTOR = 10.0  # extra hits = (factor - 1) x the default rate
COSMIC_CHARGE_E = (200.0, 1.0e6)  # log-uniform charge of an extra hit [e-]
COSMIC_SPILL_PROBABILITY = 0.3  # a hit also deposits in the next pixel of its row
COSMIC_SPILL_FRACTION = 0.3
EXTRA_HOT_PIXEL_FRACTION = 0.05  # on top of the default 1.7 %
EXTRA_HOT_DARK_E_S = (0.5, 200.0)  # log-uniform dark current of the extra hot pixels [e-/s]


@dataclass(frozen=True)
class CosmicModel:
    """Extra detector defects of the ``cosmics`` variant for one instrument and visit."""

    rng: np.random.Generator  # its own stream: the default noise draws stay as they were
    extra_rate: float  # extra hits per CDS frame over the detector
    dark_shot_noise: bool = True  # Poisson noise on the dark charge (hot pixels are noisy)


def add_hot_pixels(rng: np.random.Generator, dark: np.ndarray) -> np.ndarray:
    """A copy of the dark map [e-/s] with ~5 % more pixels made hot (log-uniform to 200 e-/s)."""
    out = dark.copy()
    hot = rng.uniform(size=dark.shape) < EXTRA_HOT_PIXEL_FRACTION
    lo, hi = np.log(EXTRA_HOT_DARK_E_S[0]), np.log(EXTRA_HOT_DARK_E_S[1])
    out[hot] = np.exp(rng.uniform(lo, hi, int(hot.sum())))
    return out


def add_cosmic_hits(model: CosmicModel, end: np.ndarray) -> None:
    """Add extra hits in place to end reads ``end`` (n, rows, cols) [e-]."""
    rng = model.rng
    n, rows, cols = end.shape
    n_hits = rng.poisson(model.extra_rate * n)
    if not n_hits:
        return
    frames = rng.integers(0, n, n_hits)
    r = rng.integers(0, rows, n_hits)
    col = rng.integers(0, cols, n_hits)
    lo, hi = np.log(COSMIC_CHARGE_E[0]), np.log(COSMIC_CHARGE_E[1])
    charge = np.exp(rng.uniform(lo, hi, n_hits))
    np.add.at(end, (frames, r, col), charge)
    spill = rng.uniform(size=n_hits) < COSMIC_SPILL_PROBABILITY
    nxt = np.minimum(col + 1, cols - 1)
    np.add.at(end, (frames[spill], r[spill], nxt[spill]), COSMIC_SPILL_FRACTION * charge[spill])


# --- star info ------------------------------------------------------------------------------------
# 1-sigma catalogue errors (relative unless a unit is given).
STAR_ERR_RS = 0.05
STAR_ERR_MS = 0.08
STAR_ERR_TS_K = 100.0
STAR_ERR_MP = 0.20  # log-normal
STAR_ERR_P = 2e-5
STAR_ERR_SMA = 0.05
STAR_ERR_I_DEG = 0.7


def catalogue_values(rng: np.random.Generator, exact: tuple[float, ...]) -> tuple[float, ...]:
    """Catalogue (Rs, Ms, Ts, Mp, e, P, sma, i) with errors from the exact ones, 6 decimals."""
    rs, ms, ts, mp, e, p, sma, inc = exact
    out = (
        rs * (1 + STAR_ERR_RS * rng.standard_normal()),
        ms * (1 + STAR_ERR_MS * rng.standard_normal()),
        ts + STAR_ERR_TS_K * rng.standard_normal(),
        mp * float(np.exp(STAR_ERR_MP * rng.standard_normal())),
        e,
        p * (1 + STAR_ERR_P * rng.standard_normal()),
        sma * (1 + STAR_ERR_SMA * rng.standard_normal()),
        min(90.0, inc + STAR_ERR_I_DEG * rng.standard_normal()),
    )
    return tuple(float(np.round(v, 6)) for v in out)


# --- spectra ------------------------------------------------------------------------------------
# Per band: centre shifted by a fraction of its width, width scaled (hotter or higher-pressure
# atmospheres broaden bands); per planet, with this probability, a grey cloud deck at a
# fraction of the planet's highest feature truncates every feature above it.
SPECTRA_CENTRE_SHIFT_RANGE = (-0.5, 0.5)  # [band widths]
SPECTRA_WIDTH_FACTOR_RANGE = (0.6, 1.6)
SPECTRA_CLOUD_PROBABILITY = 0.5
SPECTRA_CLOUD_LEVEL_RANGE = (0.3, 0.9)  # [fraction of the highest feature]
# Per planet, absorbers of its own (species the default six bands do not include): a count,
# and for each a centre, a width and an amplitude.
SPECTRA_EXTRA_BANDS_MAX = 4
SPECTRA_EXTRA_CENTRE_RANGE_UM = (1.5, 4.5)
SPECTRA_EXTRA_WIDTH_RANGE_UM = (0.02, 0.2)
SPECTRA_EXTRA_AMPLITUDE_MAX = 3e-4  # [depth units] (the default bands' largest)
# The grid on which "the highest feature" is taken, so FGS1 and AIRS see the same deck [micron].
_SPECTRA_GRID_UM = np.linspace(0.5, 4.5, 801)


@dataclass(frozen=True)
class SpectrumShape:
    """A planet's departures from the default band shapes (the ``spectra`` variant)."""

    centre_shift_um: dict[str, float]
    width_factor: dict[str, float]
    cloud_level: float | None  # fraction of the highest feature; None: no cloud deck
    extra_bands: tuple[tuple[float, float, float], ...] = ()  # (centre, width [micron], amplitude)


def draw_spectrum_shape(rng: np.random.Generator, band_names: tuple[str, ...]) -> SpectrumShape:
    """Band shifts and widths and the cloud deck of one planet, from its own stream."""
    from spectramind.simulate import physics

    shift = {n: float(rng.uniform(*SPECTRA_CENTRE_SHIFT_RANGE)) for n in band_names}
    width = {n: float(rng.uniform(*SPECTRA_WIDTH_FACTOR_RANGE)) for n in band_names}
    cloudy = rng.uniform() < SPECTRA_CLOUD_PROBABILITY
    level = float(rng.uniform(*SPECTRA_CLOUD_LEVEL_RANGE))
    extra = tuple(
        (
            float(rng.uniform(*SPECTRA_EXTRA_CENTRE_RANGE_UM)),
            float(rng.uniform(*SPECTRA_EXTRA_WIDTH_RANGE_UM)),
            float(rng.uniform(0.0, SPECTRA_EXTRA_AMPLITUDE_MAX)),
        )
        for _ in range(int(rng.integers(0, SPECTRA_EXTRA_BANDS_MAX + 1)))
    )
    return SpectrumShape(
        {n: shift[n] * physics.MOLECULAR_BANDS[n][1] for n in band_names},
        width,
        level if cloudy else None,
        extra,
    )


def shaped_transit_spectrum(
    wavelength_um: np.ndarray,
    continuum_depth: float,
    rayleigh_amplitude: float,
    band_amplitudes: dict[str, float],
    shape: SpectrumShape,
) -> np.ndarray:
    """(n,) transit depth of :func:`spectramind.simulate.physics.transit_spectrum` with the
    planet's own band centres and widths, features truncated at its cloud deck."""
    from spectramind.simulate import physics

    def features(wl: np.ndarray) -> np.ndarray:
        out = rayleigh_amplitude * (wl / 0.7) ** -4
        for name, (centre, width, _) in physics.MOLECULAR_BANDS.items():
            amplitude = band_amplitudes.get(name, 0.0)
            c = centre + shape.centre_shift_um.get(name, 0.0)
            w = width * shape.width_factor.get(name, 1.0)
            out = out + amplitude * np.exp(-0.5 * ((wl - c) / w) ** 2)
        for c, w, amplitude in shape.extra_bands:
            out = out + amplitude * np.exp(-0.5 * ((wl - c) / w) ** 2)
        return out

    wl = np.asarray(wavelength_um, dtype=np.float64)
    above = features(wl)
    if shape.cloud_level is not None:
        above = np.minimum(above, shape.cloud_level * float(features(_SPECTRA_GRID_UM).max()))
    return continuum_depth + above


# --- parsing ------------------------------------------------------------------------------------


def parse_variants(names: object) -> tuple[str, ...]:
    """Validated, de-duplicated variant names in :data:`VARIANTS` order."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = [names]
    names = list(names)  # type: ignore[call-overload]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(
            f"unknown simulator variant {unknown[0]!r}; expected one of {', '.join(VARIANTS)}"
        )
    return tuple(v for v in VARIANTS if v in names)
