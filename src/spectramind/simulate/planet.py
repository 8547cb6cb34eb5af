"""Per-planet truth: the drawn parameters of one simulated planet and its visits.

A :class:`PlanetTruth` holds everything astrophysical and systematic about a planet (star,
orbit, transit spectrum, limb darkening, stellar flux per detector column, and per visit the
mid-transit time, pointing jitter, gain drift and background). The detector model
(:mod:`.detector`) turns it into raw frames; :func:`visit_light_curves` turns it into the
noise-free light curves that a perfect calibration recovers. Both the simulator and the public
truth API (:mod:`.truth`) call the same functions, so they cannot drift apart.

Randomness: every draw comes from ``numpy.random.Generator(PCG64(SeedSequence(seed,
spawn_key=(split_no, index, purpose))))`` so a planet depends only on (seed, split, index).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from spectramind.data import layout
from spectramind.data.layout import AIRS, FGS
from spectramind.io import load_arrays, save_arrays
from spectramind.simulate import constants as c
from spectramind.simulate import physics, variants

SPLIT_NUMBER = {"train": 0, "test": 1}
# spawn_key purposes: one independent stream per use, so adding a draw to one never shifts another
PURPOSE_PARAMS = 0
PURPOSE_VISIT = 10  # + visit: systematics truth
PURPOSE_MAPS = 20  # + visit: calibration maps (x2 + instrument)
PURPOSE_NOISE = 40  # + visit: frame noise (x2 + instrument)

_ID_PRIME = 999_999_937  # prime below 1e9: multiplication modulo it is a bijection
_ID_MULTIPLIER = 387_420_489  # 3^18, coprime with the prime: spreads consecutive slots


def planet_rng(seed: int, split: str, index: int, purpose: int) -> np.random.Generator:
    """The generator for one (seed, split, planet index, purpose)."""
    key = (SPLIT_NUMBER[split], int(index), int(purpose))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def planet_id(seed: int, split: str, index: int) -> int:
    """A 10-digit planet id from (seed, split, index), unique over both splits of one seed.

    ``1e9 + ((base + 2 index + split_no) * K mod p)`` with p prime: a bijection of
    ``2 index + split_no`` on 0..p-1, so no two planets of a dataset share an id.
    """
    base = int(np.random.SeedSequence(seed).generate_state(1)[0]) % _ID_PRIME
    slot = (base + 2 * int(index) + SPLIT_NUMBER[split]) % _ID_PRIME
    return 1_000_000_000 + (slot * _ID_MULTIPLIER) % _ID_PRIME


def airs_cds_time_h(n_airs_cds: int) -> np.ndarray:
    """Time of each AIRS CDS frame [h]: mean of its start- and end-read times in axis_info."""
    mid = 0.5 * (AIRS.start_read_offset_s + AIRS.end_read_offset_s)
    return (mid + AIRS.cds_cadence_s * np.arange(n_airs_cds)) / c.SECONDS_PER_HOUR


def fgs_cds_time_h(n_fgs_cds: int) -> np.ndarray:
    """Time of each FGS CDS frame [h]: mean of its start- and end-read times in axis_info."""
    mid = 0.5 * (FGS.start_read_offset_s + FGS.end_read_offset_s)
    return (mid + FGS.cds_cadence_s * np.arange(n_fgs_cds)) / c.SECONDS_PER_HOUR


@dataclass(frozen=True)
class StarInfo:
    """One row of ``*_star_info.csv``; exactly the values the simulation used."""

    Rs: float  # stellar radius [R_sun]
    Ms: float  # stellar mass [M_sun]
    Ts: float  # effective temperature [K]
    Mp: float  # planet mass [M_jup] (units disputed in the real data)
    e: float  # eccentricity (always 0)
    P: float  # orbital period [days], scaled with the frame count (see module simulate)
    sma: float  # semi-major axis [stellar radii]
    i: float  # inclination [deg]

    def as_row(self) -> tuple[float, ...]:
        return (self.Rs, self.Ms, self.Ts, self.Mp, self.e, self.P, self.sma, self.i)


@dataclass(frozen=True)
class VisitTruth:
    """Systematics truth of one visit."""

    t0_h: float  # mid-transit time on the axis_info clock [h]
    jitter_px: np.ndarray  # (n_fgs_cds, 2) pointing offset (x, y) at the FGS CDS times [pixel]
    jitter_kappa: float  # photometric loss per squared pixel offset [1/pixel^2]
    airs_drift: np.ndarray  # (2, 2) Chebyshev coefficients, time order 1..2 x wavelength 0..1
    fgs_drift: np.ndarray  # (2, 1) Chebyshev coefficients, time order 1..2
    airs_background: float  # sky background per pixel [e-/s]
    fgs_background: float  # [e-/s]
    # ``systematics`` variant only (None / 0 otherwise): (3,) ramp at the visit start (AIRS
    # amplitude, FGS amplitude, e-folding time [h]) and the power of a chromatic jitter loss.
    ramp: np.ndarray | None = None
    jitter_chromatic_power: float = 0.0


@dataclass(frozen=True)
class PlanetTruth:
    """Everything drawn for one planet. Flux arrays are before the flat field."""

    planet_id: int
    split: str
    index: int
    seed: int
    n_airs_cds: int  # CDS frames per visit (frames / 2)
    n_fgs_cds: int
    star: StarInfo
    depth_airs: np.ndarray  # (356,) (Rp/Rs)^2 per AIRS detector column
    depth_fgs: float  # (Rp/Rs)^2 in the FGS1 band (wl_1)
    # Quadratic limb darkening (u1, u2) per AIRS detector column (356, 2) and for FGS1 (2,); the
    # ``limb-darkening`` variant stores the 4 coefficients of the non-linear law instead.
    ld_airs: np.ndarray
    ld_fgs: np.ndarray
    airs_flux: np.ndarray  # (356,) stellar e- per 4.5 s CDS per column, summed over rows
    fgs_flux: float  # stellar e- per 0.1 s CDS, summed over the frame
    airs_trace_row: np.ndarray  # (356,) trace centre row per column [pixel]
    airs_trace_sigma: np.ndarray  # (356,) Gaussian width of the trace across rows [pixel]
    fgs_psf_sigma: float  # Gaussian width of the FGS PSF [pixel]
    visits: tuple[VisitTruth, ...]
    # Variants (see :mod:`.variants`); the defaults describe the default simulator.
    variants: tuple[str, ...] = ()
    airs_wavelength_um: np.ndarray | None = None  # (356,) when the grid is perturbed
    catalogue: StarInfo | None = None  # star-info values written to the csv, when not exact

    @property
    def airs_wavelengths(self) -> np.ndarray:
        """(356,) wavelength of each AIRS detector column [micron] (descending)."""
        if self.airs_wavelength_um is None:
            return layout.airs_column_wavelengths_um()
        return self.airs_wavelength_um

    @property
    def star_info_row(self) -> tuple[float, ...]:
        """The values of this planet's star-info row (catalogue values where the variant says)."""
        return (self.catalogue or self.star).as_row()

    @property
    def labels(self) -> np.ndarray:
        """(283,) the target spectrum wl_1..wl_283 (FGS1 then ascending AIRS columns)."""
        return np.concatenate([[self.depth_fgs], self.depth_airs[layout.AIRS_CROP][::-1]])

    @property
    def duration_scale(self) -> float:
        """Frame-count scale actually simulated: n_airs_cds / 5625 (1 for full size)."""
        return self.n_airs_cds / AIRS.full_cds_frames


# --- drawing ---------------------------------------------------------------------------------


def _round(x: float) -> float:
    # Star-info values are written with repr(); rounding first keeps the csv short while the
    # simulation uses exactly the written numbers.
    return float(np.round(x, 6))


def draw_planet(
    seed: int,
    split: str,
    index: int,
    n_airs_cds: int,
    second_visit_fraction: float,
    variant_names: tuple[str, ...] = (),
) -> PlanetTruth:
    """Draw one planet's parameters and the systematics of its visits.

    ``variant_names`` (:mod:`.variants`) change one aspect each, from their own random streams:
    the default draws are made (and consumed) exactly as without them.

    Transit timing scales with the observation: with ``s = n_airs_cds / 5625`` the mid-transit
    time is drawn in ``s x (2.5..5) h`` (kept at least ``s x 0.75 h`` from both window edges)
    and the star-info period is ``s x`` the Kepler period, so T14 (proportional to P at fixed
    a/R* and i) shrinks by ``s`` too and the light curve is the full-size one compressed in time.
    """
    rng = planet_rng(seed, split, index, PURPOSE_PARAMS)
    scale = n_airs_cds / AIRS.full_cds_frames
    n_fgs_cds = n_airs_cds * c.FGS_CDS_PER_AIRS_CDS

    ts = float(np.clip(rng.normal(5839.0, 512.0), 4200.0, 7200.0))
    mp = float(np.exp(rng.normal(0.0, 0.8)))
    continuum = float(np.clip(np.exp(rng.normal(np.log(0.012), 0.55)), 0.006, 0.046))
    rp_rs = np.sqrt(continuum)

    # Star and orbit: Kepler a/R*; resample until T14 is in the accepted range (a dense star
    # with a short period transits too briefly to resemble the real set).
    for _ in range(10000):
        rs = float(np.clip(rng.normal(1.25, 0.35), 0.6, 2.3))
        ms = float(np.clip(rng.normal(1.09, 0.21), 0.6, 1.8))
        period = float(np.clip(rng.normal(5.19, 1.41), 2.0, 10.0))
        sma = _round(physics.a_over_rs(period, ms, rs))
        impact = rng.uniform(0.0, 0.8)
        inc = _round(float(np.degrees(np.arccos(impact / sma))))
        duration = physics.total_duration_h(period, sma, inc, rp_rs)
        if c.DURATION_RANGE_H[0] <= duration <= c.DURATION_RANGE_H[1]:
            break
    else:  # pragma: no cover - about half of the draws are accepted
        raise RuntimeError(f"planet {split}/{index}: no orbit with T14 in {c.DURATION_RANGE_H}")

    star = StarInfo(
        Rs=_round(rs),
        Ms=_round(ms),
        Ts=_round(ts),
        Mp=_round(mp),
        e=0.0,
        P=_round(period * scale),
        sma=sma,
        i=inc,
    )

    bands = {
        name: float(rng.uniform(0.0, amp)) * float(rng.uniform() < 0.7)
        for name, (_, _, amp) in physics.MOLECULAR_BANDS.items()
    }
    rayleigh = float(rng.uniform(0.0, 3e-4))
    perturbed_wl = (
        variants.perturbed_airs_wavelengths(seed) if variants.WAVELENGTHS in variant_names else None
    )
    wl_airs = layout.airs_column_wavelengths_um() if perturbed_wl is None else perturbed_wl
    if variants.SPECTRA in variant_names:
        shape = variants.draw_spectrum_shape(
            planet_rng(seed, split, index, variants.PURPOSE_SPECTRA),
            tuple(physics.MOLECULAR_BANDS),
        )

        def spectrum(wl: np.ndarray) -> np.ndarray:
            return variants.shaped_transit_spectrum(wl, continuum, rayleigh, bands, shape)
    else:

        def spectrum(wl: np.ndarray) -> np.ndarray:
            return physics.transit_spectrum(wl, continuum, rayleigh, bands)

    depth_airs = spectrum(wl_airs)
    depth_fgs = float(spectrum(np.array([layout.FGS_WAVELENGTH_UM]))[0])
    u1_ref, u2_ref = rng.uniform(0.45, 0.75), rng.uniform(0.15, 0.35)
    slope1, slope2 = rng.uniform(0.6, 1.0), rng.uniform(0.2, 0.6)
    ld_airs = physics.limb_darkening(wl_airs, u1_ref, u2_ref, slope1, slope2)
    ld_fgs = physics.limb_darkening(
        np.array([layout.FGS_WAVELENGTH_UM]), u1_ref, u2_ref, slope1, slope2
    )[0]
    if variants.LIMB_DARKENING in variant_names:
        ld_rng = planet_rng(seed, split, index, variants.PURPOSE_LIMB_DARKENING)
        ld_all = variants.draw_nonlinear_limb_darkening(
            ld_rng, np.concatenate([[layout.FGS_WAVELENGTH_UM], wl_airs])
        )
        ld_fgs, ld_airs = ld_all[0], ld_all[1:]

    # Stellar flux per column: photon Planck x throughput x column width, normalised to the
    # real count level over the cropped columns.
    brightness = float(np.clip(np.exp(rng.normal(0.0, 0.15)), 0.7, 1.4))
    column_width = np.abs(np.gradient(wl_airs))
    shape = physics.photon_planck(wl_airs, ts) * physics.airs_throughput(wl_airs) * column_width
    airs_flux = shape * (c.AIRS_CDS_ELECTRONS * brightness / shape[layout.AIRS_CROP].sum())
    fgs_flux = c.FGS_CDS_ELECTRONS * brightness

    columns = np.arange(AIRS.cols)
    curvature = rng.uniform(0.3, 1.0)
    row_centre = rng.uniform(15.0, 16.0)
    airs_trace_row = row_centre + curvature * ((columns - 178.0) / 178.0) ** 2
    airs_trace_sigma = 1.0 + 0.8 * (wl_airs - wl_airs.min()) / np.ptp(wl_airs)
    fgs_psf_sigma = float(rng.uniform(1.1, 1.5))

    n_visits = 2 if rng.uniform() < second_visit_fraction else 1
    visits = tuple(
        _draw_visit(planet_rng(seed, split, index, PURPOSE_VISIT + v), scale, n_fgs_cds, duration)
        for v in range(n_visits)
    )
    if variants.SYSTEMATICS in variant_names:
        visits = tuple(
            _strong_systematics(
                vt, planet_rng(seed, split, index, variants.PURPOSE_SYSTEMATICS + v), scale
            )
            for v, vt in enumerate(visits)
        )
    catalogue = None
    if variants.STAR_INFO in variant_names:
        cat_rng = planet_rng(seed, split, index, variants.PURPOSE_STAR_INFO)
        catalogue = StarInfo(*variants.catalogue_values(cat_rng, star.as_row()))
    return PlanetTruth(
        planet_id=planet_id(seed, split, index),
        split=split,
        index=index,
        seed=seed,
        n_airs_cds=n_airs_cds,
        n_fgs_cds=n_fgs_cds,
        star=star,
        depth_airs=depth_airs,
        depth_fgs=depth_fgs,
        ld_airs=ld_airs,
        ld_fgs=ld_fgs,
        airs_flux=airs_flux,
        fgs_flux=fgs_flux,
        airs_trace_row=airs_trace_row,
        airs_trace_sigma=airs_trace_sigma,
        fgs_psf_sigma=fgs_psf_sigma,
        visits=visits,
        variants=tuple(variant_names),
        airs_wavelength_um=perturbed_wl,
        catalogue=catalogue,
    )


def _strong_systematics(vt: VisitTruth, rng: np.random.Generator, scale: float) -> VisitTruth:
    """The ``systematics`` variant of a visit: its drift, ramp and jitter replace the default."""
    strong = variants.draw_systematics(rng, scale, vt.jitter_px.shape[0], FGS.cds_cadence_s)
    return replace(
        vt,
        jitter_px=strong.jitter_px,
        jitter_kappa=strong.jitter_kappa,
        airs_drift=strong.airs_drift,
        fgs_drift=strong.fgs_drift,
        ramp=strong.ramp,
        jitter_chromatic_power=strong.jitter_chromatic_power,
    )


def _draw_visit(
    rng: np.random.Generator, scale: float, n_fgs_cds: int, duration_full_h: float
) -> VisitTruth:
    half = duration_full_h / 2 + c.BASELINE_MARGIN_H
    low = max(c.MID_TRANSIT_RANGE_H[0], half)
    high = min(c.MID_TRANSIT_RANGE_H[1], c.FULL_OBSERVATION_H - half)
    t0_h = rng.uniform(low, high) * scale
    step = FGS.cds_cadence_s
    jitter = np.empty((n_fgs_cds, 2))
    time_s = np.arange(n_fgs_cds) * step
    for axis in range(2):
        period = rng.uniform(100.0, 600.0)
        jitter[:, axis] = physics.ar1_series(rng, n_fgs_cds, step, rng.uniform(10.0, 40.0), 0.06)
        jitter[:, axis] += 0.03 * np.sin(2 * np.pi * time_s / period + rng.uniform(0, 2 * np.pi))
    return VisitTruth(
        t0_h=float(t0_h),
        jitter_px=jitter,
        jitter_kappa=float(rng.uniform(0.01, 0.03)),
        airs_drift=rng.normal(0.0, 2.5e-3, size=(2, 2)),
        fgs_drift=rng.normal(0.0, 2.5e-3, size=(2, 1)),
        airs_background=float(rng.uniform(1.0, 10.0)),
        fgs_background=float(rng.uniform(1.0, 10.0)),
    )


# --- light curves ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedLightCurves:
    """Noise-free light curves of one visit: what a perfect calibration recovers.

    Fluxes are electrons per CDS frame (AIRS: 4.5 s, FGS: 0.1 s), summed over all detector rows
    (AIRS) or the whole frame (FGS), of the light that reached the detector *before* the flat
    field: transit x gain drift x jitter loss x stellar flux. Not included: flat, dark, bias,
    background, non-linearity, ADC, read/photon noise, cosmic rays, dead pixels.

    airs_time_h: (n_airs_cds,) CDS times [h] (mean of the pair's axis_info times)
    airs_flux: (n_airs_cds, 356) per detector column (descending wavelength, uncropped)
    airs_transit: (n_airs_cds, 356) the transit alone (1 out of transit)
    airs_systematics: (n_airs_cds, 356) gain drift x jitter loss
    airs_jitter_px: (n_airs_cds, 2) mean pointing offset (x, y) over each AIRS cadence [pixel]
    fgs_time_h, fgs_flux, fgs_transit, fgs_systematics: (n_fgs_cds,)
    fgs_jitter_px: (n_fgs_cds, 2)
    """

    airs_time_h: np.ndarray
    airs_flux: np.ndarray
    airs_transit: np.ndarray
    airs_systematics: np.ndarray
    airs_jitter_px: np.ndarray
    fgs_time_h: np.ndarray
    fgs_flux: np.ndarray
    fgs_transit: np.ndarray
    fgs_systematics: np.ndarray
    fgs_jitter_px: np.ndarray

    @property
    def airs_flux_targets(self) -> np.ndarray:
        """(n_airs_cds, 282) AIRS flux cropped and flipped to wl_2..wl_283 order."""
        return self.airs_flux[:, layout.AIRS_CROP][:, ::-1]


def visit_light_curves(truth: PlanetTruth, visit: int) -> ExpectedLightCurves:
    """Noise-free light curves of ``visit`` from the planet's truth (see ExpectedLightCurves)."""
    if not 0 <= visit < len(truth.visits):
        raise IndexError(f"planet {truth.planet_id} has visits 0..{len(truth.visits) - 1}")
    vt = truth.visits[visit]
    star = truth.star
    airs_t = airs_cds_time_h(truth.n_airs_cds)
    fgs_t = fgs_cds_time_h(truth.n_fgs_cds)
    airs_transit = physics.transit_light_curves(
        airs_t, vt.t0_h, star.P, star.sma, star.i, truth.depth_airs, truth.ld_airs
    )
    fgs_transit = physics.transit_light_curves(
        fgs_t,
        vt.t0_h,
        star.P,
        star.sma,
        star.i,
        np.array([truth.depth_fgs]),
        truth.ld_fgs[None, :],
    )[:, 0]
    # One AIRS cadence spans 12 FGS cadences: AIRS sees their mean pointing.
    airs_jitter = vt.jitter_px.reshape(truth.n_airs_cds, c.FGS_CDS_PER_AIRS_CDS, 2).mean(axis=1)
    wl = truth.airs_wavelengths
    omega = 2 * (wl - wl.min()) / np.ptp(wl) - 1
    airs_sys = physics.chebyshev_drift(_tau(truth.n_airs_cds), omega, vt.airs_drift)
    if vt.jitter_chromatic_power:
        # A wider PSF at long wavelengths loses less flux for the same pointing offset.
        ref = variants.JITTER_CHROMATIC_REFERENCE_UM
        kappa = vt.jitter_kappa * (ref / wl) ** vt.jitter_chromatic_power  # (356,)
        airs_sys *= 1.0 - np.sum(airs_jitter**2, axis=-1)[:, None] * kappa[None, :]
    else:
        airs_sys *= physics.jitter_loss(airs_jitter, vt.jitter_kappa)[:, None]
    fgs_sys = physics.chebyshev_drift(_tau(truth.n_fgs_cds), np.zeros(1), vt.fgs_drift)[:, 0]
    fgs_sys *= physics.jitter_loss(vt.jitter_px, vt.jitter_kappa)
    if vt.ramp is not None:
        airs_amp, fgs_amp, tau_h = (float(v) for v in vt.ramp)
        airs_sys *= variants.ramp_factor(airs_t, airs_amp, tau_h)[:, None]
        fgs_sys *= variants.ramp_factor(fgs_t, fgs_amp, tau_h)
    return ExpectedLightCurves(
        airs_time_h=airs_t,
        airs_flux=truth.airs_flux[None, :] * airs_transit * airs_sys,
        airs_transit=airs_transit,
        airs_systematics=airs_sys,
        airs_jitter_px=airs_jitter,
        fgs_time_h=fgs_t,
        fgs_flux=truth.fgs_flux * fgs_transit * fgs_sys,
        fgs_transit=fgs_transit,
        fgs_systematics=fgs_sys,
        fgs_jitter_px=vt.jitter_px,
    )


def _tau(n: int) -> np.ndarray:
    """Frame index scaled to -1..1 over the visit, shape (n,)."""
    return np.linspace(-1.0, 1.0, n)


# --- storage -----------------------------------------------------------------------------------

_STAR_FIELDS = ("Rs", "Ms", "Ts", "Mp", "e", "P", "sma", "i")
_VISIT_ARRAYS = ("jitter_px", "airs_drift", "fgs_drift")
_VISIT_SCALARS = ("t0_h", "jitter_kappa", "airs_background", "fgs_background")
_PLANET_ARRAYS = (
    "depth_airs",
    "ld_airs",
    "ld_fgs",
    "airs_flux",
    "airs_trace_row",
    "airs_trace_sigma",
)


def save_truth(path: Path | str, truth: PlanetTruth) -> None:
    """Write a planet's truth to a byte-stable ``.npz`` (see :func:`spectramind.io.save_arrays`).

    Variant fields are written only when set, so a default planet's file is what it always was.
    """
    arrays = {name: getattr(truth, name) for name in _PLANET_ARRAYS}
    arrays["labels"] = truth.labels
    if truth.airs_wavelength_um is not None:
        arrays["airs_wavelength_um"] = truth.airs_wavelength_um
    for v, vt in enumerate(truth.visits):
        for name in _VISIT_ARRAYS:
            arrays[f"visit{v}_{name}"] = getattr(vt, name)
        if vt.ramp is not None:
            arrays[f"visit{v}_ramp"] = vt.ramp
    meta = {
        "planet_id": truth.planet_id,
        "split": truth.split,
        "index": truth.index,
        "seed": truth.seed,
        "n_airs_cds": truth.n_airs_cds,
        "n_fgs_cds": truth.n_fgs_cds,
        "depth_fgs": truth.depth_fgs,
        "fgs_flux": truth.fgs_flux,
        "fgs_psf_sigma": truth.fgs_psf_sigma,
        "star": {name: getattr(truth.star, name) for name in _STAR_FIELDS},
        "visits": [_visit_meta(vt) for vt in truth.visits],
    }
    if truth.variants:
        meta["variants"] = list(truth.variants)
    if truth.catalogue is not None:
        meta["catalogue"] = {name: getattr(truth.catalogue, name) for name in _STAR_FIELDS}
    save_arrays(path, arrays, meta)


def _visit_meta(vt: VisitTruth) -> dict:
    out = {name: getattr(vt, name) for name in _VISIT_SCALARS}
    if vt.jitter_chromatic_power:
        out["jitter_chromatic_power"] = vt.jitter_chromatic_power
    return out


def load_truth(path: Path | str) -> PlanetTruth:
    """Read a file written by :func:`save_truth`."""
    arrays, meta = load_arrays(path)
    visits = tuple(
        VisitTruth(
            **scalars,
            **{name: arrays[f"visit{v}_{name}"] for name in _VISIT_ARRAYS},
            ramp=arrays.get(f"visit{v}_ramp"),
        )
        for v, scalars in enumerate(meta["visits"])
    )
    catalogue = meta.get("catalogue")
    return PlanetTruth(
        planet_id=meta["planet_id"],
        split=meta["split"],
        index=meta["index"],
        seed=meta["seed"],
        n_airs_cds=meta["n_airs_cds"],
        n_fgs_cds=meta["n_fgs_cds"],
        star=StarInfo(**meta["star"]),
        depth_fgs=meta["depth_fgs"],
        fgs_flux=meta["fgs_flux"],
        fgs_psf_sigma=meta["fgs_psf_sigma"],
        visits=visits,
        variants=tuple(meta.get("variants", ())),
        airs_wavelength_um=arrays.get("airs_wavelength_um"),
        catalogue=None if catalogue is None else StarInfo(**catalogue),
        **{name: arrays[name] for name in _PLANET_ARRAYS},
    )
