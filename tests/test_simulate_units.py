"""Small pure functions of the simulator against analytic limits and independent codes."""

from __future__ import annotations

import numpy as np
import pytest

from spectramind.errors import ConfigError
from spectramind.simulate import SimulationConfig, detector, physics, planet_id
from spectramind.simulate.planet import draw_planet


def test_kepler_and_duration_for_the_earth() -> None:
    # Earth: a = 215 R_sun, T14 about 13 h for a central transit
    a = physics.a_over_rs(365.25, 1.0, 1.0)
    assert a == pytest.approx(215.0, rel=0.01)
    assert physics.total_duration_h(365.25, a, 90.0, 0.0092) == pytest.approx(13.0, rel=0.03)
    assert physics.total_duration_h(365.25, a, 80.0, 0.0092) == 0.0  # no transit


def test_transit_depth_and_limb_darkening_limits() -> None:
    t = np.linspace(-2.0, 2.0, 401)  # T14 = 2.5 h
    depth = np.array([0.01, 0.01])
    ld = np.array([[0.0, 0.0], [0.5, 0.2]])
    flux = physics.transit_light_curves(t, 0.0, 3.0, 10.0, 90.0, depth, ld)
    assert flux[0, 0] == 1.0 and flux[-1, 1] == 1.0
    assert 1 - flux[:, 0].min() == pytest.approx(0.01, rel=1e-3)  # uniform disk: dip = k^2
    # quadratic law, centre of a central transit: k^2 (1 - u1(1-mu) ...) / (1 - u1/3 - u2/6)
    assert 1 - flux[:, 1].min() == pytest.approx(0.01 / (1 - 0.5 / 3 - 0.2 / 6), rel=0.01)


def test_nonlinearity_inverse_series() -> None:
    alpha = np.array([1.5e-7, 2.5e-7])
    maps = detector.DetectorMaps(*(np.zeros(2) for _ in range(5)), alpha=alpha)
    v = np.linspace(-500, 1.5e5, 1000)[:, None]
    back = detector.apply_linear_corr(detector.apply_nonlinearity(v, alpha), maps.linear_corr)
    assert np.max(np.abs(back - v) / np.maximum(np.abs(v), 1)) < 1e-5


def test_adc_encoder() -> None:
    counts = np.array([-2000.0, -1000.0, 0.0, 1.0, 1e6])
    raw = detector.adc_encode(counts, -1000.0, 0.4369)
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, [0, 0, 436, 437, 65535])
    decoded = raw[2:4] / 0.4369 - 1000.0
    assert np.all(np.abs(decoded - counts[2:4]) < 1 / 0.4369)


def test_planet_ids_unique_and_deterministic() -> None:
    ids = [planet_id(3, s, i) for s in ("train", "test") for i in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(10**9 <= i < 2**31 for i in ids)
    assert planet_id(3, "train", 5) == planet_id(3, "train", 5) != planet_id(4, "train", 5)


def test_transit_always_inside_the_window() -> None:
    for index in range(40):
        truth = draw_planet(1, "train", index, 281, 0.5)
        end_h = 281 * 4.8 / 3600
        k = np.sqrt(truth.depth_fgs)
        t14 = physics.total_duration_h(truth.star.P, truth.star.sma, truth.star.i, k)
        for visit in truth.visits:
            assert visit.t0_h - t14 / 2 >= 0.75 * truth.duration_scale - 1e-9
            assert visit.t0_h + t14 / 2 <= end_h - 0.75 * truth.duration_scale + 1e-9
        # star info: P scaled with the frame count, a/R* from Kepler at full size
        full_p = truth.star.P / truth.duration_scale
        kepler = physics.a_over_rs(full_p, truth.star.Ms, truth.star.Rs)
        assert truth.star.sma == pytest.approx(kepler, rel=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"n_train": 0, "n_test": 0}, "--train/--test"),
        ({"frames_scale": 1.5}, "--frames-scale"),
        ({"frames_scale": 0.001}, "--frames-scale"),
        ({"second_visit_fraction": -0.1}, "--second-visit-fraction"),
        ({"workers": 0}, "--workers"),
    ],
)
def test_config_errors(kwargs: dict, needle: str) -> None:
    config = SimulationConfig(**{"n_train": 1, "n_test": 1, "seed": 0, **kwargs})
    with pytest.raises(ConfigError, match=needle):
        config.validate()
