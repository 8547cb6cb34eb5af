"""Independent-noise ceiling: one definition of the noise limit for any dataset with a known truth.

The simulator's own ceiling (:mod:`spectramind.oracles.ceiling`) needs the simulator's noise
model, so it exists only for our simulator. The robustness matrix
(``benchmarks/science.py --matrix``) compares datasets from several generators (our simulator,
its variants, ExoSim 2), so it uses this ceiling on every row, computed the same way from what
every row has:

1. the **measured white noise** of each channel, from the calibrated light curve the pipeline
   itself produced (``calibrated/<split>/<planet>_<visit>.npz``, time-binned as the calibration
   bins it): ``sigma_j = 1.4826 MAD(diff(f_j)) / sqrt(2) / F0_j`` with ``F0_j`` the median
   out-of-transit flux. The first difference removes the transit and any slow drift, the MAD
   ignores rare outliers; what remains is the bin-to-bin (independent) noise. Correlated noise
   (drift, jitter residuals) is deliberately left out: no estimator can beat the white-noise
   limit, and every real estimator also pays for the correlated part;
2. the **true transit shape** from the generator's truth: mid-transit time per visit, period,
   a/R*, inclination, limb-darkening law and coefficients per channel and the true depth
   (:class:`TruthGeometry`), evaluated with batman at the calibrated bin times.

For each channel, the model ``m(t) = c T(t; D)`` has two unknowns, the depth D and the stellar
flux level c (a real estimator measures it from the baseline). Its Fisher matrix per visit is
``G^T G / sigma_j^2`` with columns ``dT/dD`` and ``T``; visits add; the ceiling std is
``sqrt((I^-1)_DD)`` (Cramer-Rao). The ceiling *prediction* is ``truth + std x N(0, 1)`` with
``sigma = std`` (:func:`spectramind.oracles.ceiling.ceiling_predictions`): the score of an
estimator that reaches the white-noise bound with known geometry and limb darkening and reports
it honestly. A spectral prior that pools channels can beat it; nothing that treats channels
independently can.

Where the truth lives (read by :func:`truth_geometry`): our simulator's ``<data>.truth/<split>/
<planet_id>.npz``, or for any other generator a ``<data>.truth/<split>/<planet_id>.json`` with
keys ``period_days``, ``a_rs``, ``inc_deg``, ``t0_h`` (list, one per visit, on the axis_info
clock), ``ld_law`` ("quadratic" or "nonlinear"), ``ld`` (283 lists of 2 or 4 coefficients,
wl_1..wl_283) and ``depth`` (283 values, wl_1..wl_283).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectramind.data import layout

_DEPTH_STEP = 1e-3  # relative step of the central difference in depth
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class TruthGeometry:
    """The true transit of one planet, channels in wl_1..wl_283 order."""

    period_days: float
    a_rs: float
    inc_deg: float
    t0_h: tuple[float, ...]  # per visit, axis_info clock [h]
    ld: np.ndarray  # (283, 2) quadratic or (283, 4) non-linear coefficients
    depth: np.ndarray  # (283,) (Rp/Rs)^2


def truth_geometry(data_dir: Path | str, split: str, planet_id: int) -> TruthGeometry:
    """The true transit geometry of a planet, from our simulator's truth or a generic JSON."""
    from spectramind.simulate.dataset import truth_dir_path

    folder = truth_dir_path(data_dir) / split
    generic = folder / f"{int(planet_id)}.json"
    if generic.is_file():
        raw = json.loads(generic.read_text())
        ld = np.asarray(raw["ld"], dtype=np.float64)
        law = raw.get("ld_law", "quadratic")
        if {"quadratic": 2, "nonlinear": 4}.get(law) != ld.shape[-1]:
            raise ValueError(
                f"{generic}: ld_law {law!r} does not match {ld.shape[-1]} coefficients"
            )
        return TruthGeometry(
            period_days=float(raw["period_days"]),
            a_rs=float(raw["a_rs"]),
            inc_deg=float(raw["inc_deg"]),
            t0_h=tuple(float(t) for t in raw["t0_h"]),
            ld=ld.reshape(layout.N_WAVELENGTHS, -1),
            depth=np.asarray(raw["depth"], dtype=np.float64).reshape(layout.N_WAVELENGTHS),
        )
    from spectramind.simulate.truth import planet_truth

    truth = planet_truth(data_dir, split, planet_id)
    ld = np.vstack([truth.ld_fgs[None, :], truth.ld_airs[layout.AIRS_CROP][::-1]])
    return TruthGeometry(
        period_days=truth.star.P,
        a_rs=truth.star.sma,
        inc_deg=truth.star.i,
        t0_h=tuple(vt.t0_h for vt in truth.visits),
        ld=ld,
        depth=truth.labels,
    )


def white_noise(flux: np.ndarray, out_of_transit: np.ndarray) -> np.ndarray:
    """(channels,) relative white noise per bin: 1.4826 MAD(diff f) / sqrt(2) / median_oot(f).

    Args:
        flux: (n_bins, channels) calibrated flux, any unit.
        out_of_transit: (n_bins,) or (n_bins, channels) True where the truth has no transit.
    """
    flux = np.asarray(flux, dtype=np.float64)
    diff = np.diff(flux, axis=0)
    med = np.nanmedian(diff, axis=0)
    mad = np.nanmedian(np.abs(diff - med), axis=0)
    oot = np.broadcast_to(np.asarray(out_of_transit, dtype=bool).reshape(len(flux), -1), flux.shape)
    level = np.array(
        [np.nanmedian(flux[oot[:, j], j]) for j in range(flux.shape[1])], dtype=np.float64
    )
    return _MAD_TO_SIGMA * mad / np.sqrt(2.0) / np.abs(level)


def visit_information(
    time_h: np.ndarray, flux: np.ndarray, geometry: TruthGeometry, visit: int
) -> np.ndarray:
    """(283,) Fisher information of the depth from one calibrated visit (normalisation free)."""
    from spectramind.simulate.physics import transit_light_curves

    t0 = geometry.t0_h[visit]
    args = (time_h, t0, geometry.period_days, geometry.a_rs, geometry.inc_deg)
    model = transit_light_curves(*args, geometry.depth, geometry.ld)  # (n, 283)
    up = transit_light_curves(*args, geometry.depth * (1 + _DEPTH_STEP), geometry.ld)
    down = transit_light_curves(*args, geometry.depth * (1 - _DEPTH_STEP), geometry.ld)
    d_depth = (up - down) / (2 * _DEPTH_STEP * geometry.depth)  # (n, 283)
    sigma = white_noise(flux, model >= 1.0)  # (283,)
    g = np.stack([d_depth, model], axis=2)  # (n, 283, 2)
    info = np.einsum("tci,tcj->cij", g, g) / sigma[:, None, None] ** 2
    return 1.0 / np.linalg.inv(info)[:, 0, 0]


def planet_depth_std(
    data_dir: Path | str, calibrated_dir: Path | str, split: str, planet_id: int
) -> np.ndarray:
    """(283,) independent-noise ceiling std of one planet, all its calibrated visits combined."""
    from spectramind.physics.lightcurves import load_calibrated_visit

    geometry = truth_geometry(data_dir, split, planet_id)
    info = np.zeros(layout.N_WAVELENGTHS)
    for visit in range(len(geometry.t0_h)):
        path = Path(calibrated_dir) / split / f"{int(planet_id)}_{visit}.npz"
        lc = load_calibrated_visit(path)
        info += visit_information(lc.time_h, lc.flux, geometry, visit)
    return 1.0 / np.sqrt(info)
