"""The noise-limited ceiling: Fisher std vs. the scatter of least-squares depths on noise draws."""

from __future__ import annotations

import numpy as np
import pytest

from spectramind.oracles import ceiling
from spectramind.simulate import physics


def _transit_problem(depth: float = 0.012, n: int = 400):
    """A limb-darkened transit with photon + read noise: signal, d signal / d depth, variance."""
    t = np.linspace(0.0, 6.0, n)
    ld = np.array([[0.45, 0.2]])
    args = (t, 3.0, 3.0, 10.0, 88.5)
    step = 1e-4 * depth
    shape = physics.transit_light_curves(*args, np.array([depth]), ld)[:, 0]
    dshape = (
        physics.transit_light_curves(*args, np.array([depth + step]), ld)[:, 0]
        - physics.transit_light_curves(*args, np.array([depth - step]), ld)[:, 0]
    ) / (2 * step)
    f0 = 2.0e6  # electrons per sample out of transit
    signal = f0 * shape
    variance = signal + 2 * 12.0**2 * 30  # Poisson + read noise of 30 pixels, two reads each
    return signal, f0 * dshape, variance


@pytest.mark.parametrize("free_normalisation", [False, True])
def test_fisher_std_matches_least_squares_scatter(free_normalisation: bool) -> None:
    signal, dsignal, variance = _transit_problem()
    nuisance = signal[:, None, None] if free_normalisation else None
    std = ceiling.fisher_depth_std(dsignal[:, None], variance[:, None], nuisance)[0]

    # Weighted least squares of (depth, normalisation) on many noise draws. The model is linear
    # in the normalisation and, over a noise-sized step, in the depth: one Gauss-Newton step
    # from the truth is the least-squares estimate.
    rng = np.random.default_rng(1)
    n_draws = 4000
    data = signal + np.sqrt(variance) * rng.standard_normal((n_draws, signal.size))
    columns = [dsignal, signal] if free_normalisation else [dsignal]
    design = np.stack(columns, axis=1) / np.sqrt(variance)[:, None]
    residual = (data - signal) / np.sqrt(variance)
    coeffs, *_ = np.linalg.lstsq(design, residual.T, rcond=None)
    scatter = coeffs[0].std()
    # 4000 draws: the sample std is known to ~1.1 %.
    assert scatter == pytest.approx(std, rel=0.05)
    assert 1e-6 < std < 1e-3


def test_free_normalisation_costs_precision() -> None:
    signal, dsignal, variance = _transit_problem()
    fixed = ceiling.fisher_depth_std(dsignal[:, None], variance[:, None])[0]
    free = ceiling.fisher_depth_std(dsignal[:, None], variance[:, None], signal[:, None, None])[0]
    assert free > fixed


def test_planet_depth_std_on_simulated_planet(tiny_dataset) -> None:
    from spectramind.data import reader

    planet = reader.discover_planets(tiny_dataset, "train")[0]
    std = ceiling.planet_depth_std(tiny_dataset, "train", planet)
    fixed = ceiling.planet_depth_std(tiny_dataset, "train", planet, free_normalisation=False)
    assert std.shape == (283,)
    assert np.all(np.isfinite(std)) and np.all(std > 0)
    assert np.all(fixed <= std * (1 + 1e-9))
    # 1 % of the frames: the photon floor of ~140 ppm per AIRS column at full size (FORMAT.md
    # section 7) grows by sqrt(100) to ~1.4e-3; FGS1 collects far more light per band.
    assert 3e-4 < np.median(std[1:]) < 5e-3
    assert std[0] < np.median(std[1:])


def test_ceiling_predictions_are_seeded_and_honest() -> None:
    truth = np.full((200, 283), 0.01)
    std = np.full((200, 283), 1e-4)
    mu, sigma = ceiling.ceiling_predictions(truth, std, seed=3)
    mu2, _ = ceiling.ceiling_predictions(truth, std, seed=3)
    np.testing.assert_array_equal(mu, mu2)
    z = (mu - truth) / sigma
    assert np.sqrt(np.mean(z**2)) == pytest.approx(1.0, abs=0.02)
