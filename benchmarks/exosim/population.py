"""The planets of the ExoSim validation set: its own population, independent of SpectraMind's.

Nothing here is imported from (or copied from) ``spectramind.simulate``: the stellar and orbital
distributions, the atmosphere model (Lorentzian molecular bands on a haze slope, in radius rather
than depth), the limb-darkening law (quadratic coefficients linear in 1/lambda) and the planet ids
are this generator's own choices. Random numbers: ``numpy.random.default_rng([seed, split, index,
0x45584f])`` per planet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

G = 6.6743e-11
M_SUN = 1.98847e30
R_SUN = 6.957e8
SPLIT_NO = {"train": 0, "test": 1}
TAG = 0x45584F  # "EXO": keeps these streams apart from any other use of the same seed

# Molecular bands in planet radius: centre [micron], half width [micron].
BANDS = {
    "H2O": ((1.38, 0.06), (1.87, 0.08), (2.69, 0.12)),
    "CH4": ((2.32, 0.05), (3.31, 0.09)),
    "CO2": ((2.01, 0.03), (2.77, 0.04)),
    "CO": ((2.34, 0.03),),
    "NH3": ((3.0, 0.07),),
}


@dataclass(frozen=True)
class Planet:
    planet_id: int
    split: str
    index: int
    exosim_seed: int
    # star
    t_eff: float  # [K]
    r_star: float  # [R_sun]
    m_star: float  # [M_sun]
    distance_pc: float
    m_planet: float  # [M_jup]
    # orbit (period already scaled to the frame count, like the observation window)
    period_days: float
    a_rs: float
    inc_deg: float
    t0_h: float  # mid-transit, on the ExoSim clock of the visit [h]
    # atmosphere: radius ratio on a wavelength grid
    rp_wavelength_um: np.ndarray
    rp_rs: np.ndarray
    # limb darkening: u_k(lambda) = a_k + b_k / lambda
    ld_a: tuple[float, float]
    ld_b: tuple[float, float]

    def ld(self, wavelength_um: np.ndarray) -> np.ndarray:
        """(n, 2) quadratic coefficients at ``wavelength_um``."""
        wl = np.asarray(wavelength_um, dtype=np.float64)
        return np.stack([self.ld_a[k] + self.ld_b[k] / wl for k in range(2)], axis=-1)

    def depth(self, wavelength_um: np.ndarray) -> np.ndarray:
        return np.interp(wavelength_um, self.rp_wavelength_um, self.rp_rs) ** 2


def planet_ids(seed: int, n_train: int, n_test: int) -> dict[tuple[str, int], int]:
    """Distinct 10-digit ids for every (split, index) of a dataset."""
    rng = np.random.default_rng([seed, TAG, 7])
    ids = rng.choice(np.arange(1_000_000_000, 9_999_999_999, 7919), n_train + n_test, False)
    out = {("train", i): int(ids[i]) for i in range(n_train)}
    out.update({("test", i): int(ids[n_train + i]) for i in range(n_test)})
    return out


def kepler_a_rs(period_days: float, m_star: float, r_star: float) -> float:
    p = period_days * 86400.0
    return float((G * m_star * M_SUN * p * p / (4 * np.pi**2)) ** (1 / 3) / (r_star * R_SUN))


def draw(
    seed: int, split: str, index: int, planet_id: int, n_airs_cds: int, cadence_s: float
) -> Planet:
    """One planet; ``n_airs_cds`` x ``cadence_s`` is the visit length."""
    rng = np.random.default_rng([seed, SPLIT_NO[split], index, TAG])
    full_cds = 5625
    scale = n_airs_cds / full_cds
    visit_h = n_airs_cds * cadence_s / 3600.0
    t_eff = float(rng.uniform(4300.0, 6900.0))
    r_star = float(np.exp(rng.normal(np.log(1.1), 0.25)))
    m_star = float(np.clip(r_star**0.8 * np.exp(rng.normal(0, 0.1)), 0.5, 2.0))
    distance = float(np.exp(rng.uniform(np.log(8.0), np.log(24.0))))
    m_planet = float(np.exp(rng.normal(-0.3, 1.0)))
    for _ in range(1000):
        period = float(np.exp(rng.uniform(np.log(1.2), np.log(9.0))))
        a_rs = kepler_a_rs(period, m_star, r_star)
        b = float(rng.uniform(0.0, 0.85))
        rp0 = float(np.sqrt(np.exp(rng.uniform(np.log(0.004), np.log(0.03)))))
        if b >= a_rs:
            continue
        inc = float(np.degrees(np.arccos(b / a_rs)))
        arg = np.sqrt((1 + rp0) ** 2 - b * b) / (a_rs * np.sin(np.radians(inc)))
        t14_full_h = period * 24 / np.pi * np.arcsin(min(arg, 1.0))
        if 1.5 <= t14_full_h <= 5.2:
            break
    else:  # pragma: no cover
        raise RuntimeError(f"{split}/{index}: no acceptable orbit")
    # The visit is the full-length one compressed by `scale` (as the quarter-length reference run):
    # period x scale keeps a/R* and i, so T14 shrinks by the same factor.
    t14_h = t14_full_h * scale
    margin = 0.12 * visit_h
    lo, hi = margin + t14_h / 2, visit_h - margin - t14_h / 2
    t0_h = float(rng.uniform(lo, hi)) if hi > lo else visit_h / 2
    # atmosphere: haze slope + Lorentzian bands (in radius), scale-height amplitude
    wl = np.linspace(0.4, 5.0, 921)
    h_amp = float(rng.uniform(0.0, 1.0)) * 0.004 * rp0 / 0.1  # relative radius change
    rp = np.full_like(wl, rp0)
    rp *= 1 + h_amp * float(rng.uniform(0, 1.5)) * ((wl / 0.6) ** -4 - (3.0 / 0.6) ** -4) * 0.3
    for _molecule, bands in BANDS.items():
        abundance = float(rng.uniform(0.0, 1.0)) if rng.uniform() < 0.75 else 0.0
        for centre, width in bands:
            rp *= 1 + h_amp * abundance * 2.0 / (1 + ((wl - centre) / width) ** 2)
    ld_a = (float(rng.uniform(0.0, 0.35)), float(rng.uniform(0.05, 0.3)))
    ld_b = (float(rng.uniform(0.2, 0.5)), float(rng.uniform(-0.1, 0.1)))
    return Planet(
        planet_id=planet_id,
        split=split,
        index=index,
        exosim_seed=int(rng.integers(1, 2**31 - 1)),
        t_eff=t_eff,
        r_star=r_star,
        m_star=m_star,
        distance_pc=distance,
        m_planet=m_planet,
        period_days=period * scale,
        a_rs=a_rs,
        inc_deg=inc,
        t0_h=t0_h,
        rp_wavelength_um=wl,
        rp_rs=rp,
        ld_a=ld_a,
        ld_b=ld_b,
    )
