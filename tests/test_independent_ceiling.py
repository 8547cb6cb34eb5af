"""The independent-noise ceiling of the robustness matrix (spectramind.oracles.independent_ceiling).

Checks that the white-noise estimator recovers a known noise under a transit and a drift, that
the Fisher std equals the scatter of least-squares depths on many noise draws, and that the
generic JSON truth and our simulator's truth give the same ceiling for the same planet.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spectramind.data import layout
from spectramind.oracles import independent_ceiling as ic
from spectramind.simulate.physics import transit_light_curves

N_BINS = 400
TIME_H = np.linspace(0.0, 1.9, N_BINS)
GEOMETRY = dict(period_days=1.3, a_rs=8.0, inc_deg=88.0, t0_h=(0.95,))


def geometry(depth: np.ndarray, ld: np.ndarray) -> ic.TruthGeometry:
    return ic.TruthGeometry(ld=ld, depth=depth, **GEOMETRY)


def test_white_noise_ignores_transit_and_drift() -> None:
    rng = np.random.default_rng(0)
    depth = np.full(3, 0.012)
    ld = np.tile([0.4, 0.2], (3, 1))
    model = transit_light_curves(TIME_H, 0.95, 1.3, 8.0, 88.0, depth, ld)
    drift = 1 + 2e-3 * (TIME_H[:, None] - 1.0) ** 2  # slow, much larger than the noise
    sigma = np.array([1e-4, 3e-4, 1e-3])
    flux = 5e4 * model * drift * (1 + sigma * rng.standard_normal((N_BINS, 3)))
    flux[7, 1] *= 1.05  # an outlier: the MAD ignores it
    got = ic.white_noise(flux, model >= 1.0)
    np.testing.assert_allclose(got, sigma, rtol=0.12)


def test_fisher_std_is_the_least_squares_scatter() -> None:
    """Depth and flux level fitted by least squares on 3000 noise draws scatter as predicted."""
    rng = np.random.default_rng(1)
    depth, ld = np.array([0.01]), np.array([[0.45, 0.15]])
    truth = geometry(depth, ld)
    sigma = 4e-4
    model = transit_light_curves(TIME_H, 0.95, 1.3, 8.0, 88.0, depth, ld)[:, 0]
    step = 1e-3
    up, down = (
        transit_light_curves(TIME_H, 0.95, 1.3, 8.0, 88.0, depth * f, ld)[:, 0]
        for f in (1 + step, 1 - step)
    )
    d_depth = (up - down) / (2 * step * depth[0])
    design = np.stack([d_depth, model], axis=1)  # linear in (depth offset, flux level)
    noise = sigma * rng.standard_normal((3000, N_BINS))
    flux = model[None, :] + noise
    coeffs, *_ = np.linalg.lstsq(design, (flux - model).T, rcond=None)
    scatter = np.std(coeffs[0])
    # the ceiling, fed the same noise level through the estimator on one realisation
    predicted = 1 / np.sqrt(ic.visit_information(TIME_H, flux[0][:, None], truth, 0)[0])
    assert predicted == pytest.approx(scatter, rel=0.1)
    # a known normalisation would be tighter: the free one is what is reported
    known = sigma / np.sqrt(np.sum(d_depth**2))
    assert predicted > 1.05 * known


def test_generic_json_matches_simulator_truth(tmp_path: Path) -> None:
    from spectramind.calibrate import product
    from spectramind.calibrate.pipeline import calibrate_visit
    from spectramind.data import reader
    from spectramind.simulate import SimulationConfig, planet_truth, simulate_dataset

    data = simulate_dataset(
        tmp_path / "sim" / "data",
        SimulationConfig(0, 1, seed=3, frames_scale=0.01, second_visit_fraction=0.0),
    )
    (pid,) = reader.discover_planets(data, "test")
    cal = tmp_path / "cal"
    (cal / "test").mkdir(parents=True)
    product.save(cal / "test" / f"{pid}_0.npz", calibrate_visit(data, "test", pid, 0))
    from_npz = ic.planet_depth_std(data, cal, "test", pid)
    assert from_npz.shape == (layout.N_WAVELENGTHS,) and np.all(np.isfinite(from_npz))
    assert 1e-5 < np.median(from_npz[1:]) < 1e-2

    # The same truth written as the generic JSON of another generator.
    truth = planet_truth(data, "test", pid)
    other = tmp_path / "other" / "data"
    (other.with_name("data.truth") / "test").mkdir(parents=True)
    ld = np.vstack([truth.ld_fgs[None], truth.ld_airs[layout.AIRS_CROP][::-1]])
    record = {
        "period_days": truth.star.P,
        "a_rs": truth.star.sma,
        "inc_deg": truth.star.i,
        "t0_h": [truth.visits[0].t0_h],
        "ld_law": "quadratic",
        "ld": ld.tolist(),
        "depth": truth.labels.tolist(),
    }
    path = other.with_name("data.truth") / "test" / f"{pid}.json"
    path.write_text(json.dumps(record))
    np.testing.assert_allclose(ic.planet_depth_std(other, cal, "test", pid), from_npz, rtol=1e-9)
    # A mislabelled law is refused, naming the file.
    record["ld_law"] = "nonlinear"
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=str(path.name)):
        ic.truth_geometry(other, "test", pid)
