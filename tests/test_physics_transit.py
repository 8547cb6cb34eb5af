"""Transit model vs analytic limits and an independent numerical integration of the disk."""

from __future__ import annotations

import math

import numpy as np
import pytest
from physics_tolerances import assert_physics_close

from spectramind.physics.transit import (
    TransitGeometry,
    central_depth_small_planet,
    supersample_for,
    transit_duration_h,
    transit_flux,
)

GEOMETRY_B0 = TransitGeometry(t0_h=3.0, period_days=4.0, a_over_rs=10.0, inc_deg=90.0)


def _deficit_at_mid(geometry: TransitGeometry, k: float, u1: float, u2: float) -> float:
    return 1.0 - float(transit_flux(np.array([geometry.t0_h]), geometry, k, u1, u2)[0])


@pytest.mark.parametrize("k", [0.01, 0.08, 0.2])
def test_uniform_disk_full_occultation_depth_is_k_squared(k):
    assert_physics_close(_deficit_at_mid(GEOMETRY_B0, k, 0.0, 0.0), k * k, "exact")


@pytest.mark.parametrize("u1,u2", [(0.0, 0.0), (0.4, 0.2), (0.8, 0.0), (0.1, 0.4)])
def test_limb_darkened_central_depth_small_planet(u1, u2):
    k = 0.01
    expected = central_depth_small_planet(k, u1, u2)  # k^2 I(1) / <I>
    assert_physics_close(_deficit_at_mid(GEOMETRY_B0, k, u1, u2), expected, "small_planet")


def test_small_planet_off_centre_follows_local_intensity():
    k, u1, u2, b = 0.01, 0.5, 0.2, 0.6
    geometry = TransitGeometry.from_impact(3.0, 4.0, 10.0, b)
    mu = math.sqrt(1 - b * b)
    intensity = 1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2
    expected = k * k * intensity / (1 - u1 / 3 - u2 / 6)
    assert_physics_close(_deficit_at_mid(geometry, k, u1, u2), expected, "small_planet")


def _disk_quadrature_deficit(k: float, b: float, u1: float, u2: float, n: int = 400) -> float:
    """Occulted fraction by Gauss-Legendre (radius) x trapezoid (angle) over the planet disk."""
    r_nodes, r_weights = np.polynomial.legendre.leggauss(n)
    r = 0.5 * k * (r_nodes + 1)
    wr = 0.5 * k * r_weights
    theta = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    x = b + r[:, None] * np.cos(theta)[None, :]
    y = r[:, None] * np.sin(theta)[None, :]
    mu = np.sqrt(np.clip(1 - x * x - y * y, 0, None))
    intensity = 1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2
    occulted = np.sum(intensity * (r * wr)[:, None]) * (2 * np.pi / theta.size)
    return occulted / (np.pi * (1 - u1 / 3 - u2 / 6))


@pytest.mark.parametrize("k,b,u1,u2", [(0.1, 0.3, 0.4, 0.25), (0.15, 0.0, 0.7, 0.1)])
def test_matches_independent_numerical_integration(k, b, u1, u2):
    geometry = TransitGeometry.from_impact(3.0, 4.0, 10.0, b)
    expected = _disk_quadrature_deficit(k, b, u1, u2)
    assert_physics_close(_deficit_at_mid(geometry, k, u1, u2), expected, "quadrature")


def test_duration_matches_contact_points_and_inclination_symmetry():
    geometry = TransitGeometry(3.0, 4.0, 10.0, 88.0)
    k = 0.1
    t14 = transit_duration_h(geometry, k)
    times = np.array([3.0 - 0.5 * t14 - 1e-3, 3.0 - 0.5 * t14 + 1e-3, 3.0 + 0.5 * t14 - 1e-3])
    flux = transit_flux(times, geometry, k, 0.3, 0.2)
    assert flux[0] == 1.0 and flux[1] < 1.0 and flux[2] < 1.0
    mirrored = TransitGeometry(3.0, 4.0, 10.0, 92.0)
    grid = np.linspace(1.0, 5.0, 200)
    assert_physics_close(
        transit_flux(grid, mirrored, k, 0.3, 0.2),
        transit_flux(grid, geometry, k, 0.3, 0.2),
        "exact",
    )
    assert transit_duration_h(TransitGeometry(3.0, 4.0, 10.0, 80.0), k) == 0.0


def test_impact_parameter_round_trip_and_supersampling():
    g = TransitGeometry.from_impact(1.0, 3.0, 8.0, 0.45)
    assert_physics_close(g.impact_parameter, 0.45, "exact")
    assert supersample_for(0.4 / 60, 1 / 60) == 1
    assert supersample_for(2.4 / 60, 1 / 60) == 3
    assert supersample_for(1.0, 1 / 60) == 15


@pytest.mark.parametrize("k,u1,u2", [(0.1, 0.4, 0.25), (0.15, 0.7, 0.1), (0.05, 0.1, 0.4)])
@pytest.mark.parametrize("b", [0.0, 0.5, 0.9, 1.02])
def test_whole_light_curves_match_an_independent_radial_integration(k, u1, u2, b):
    """Ingress, egress and grazing chords included: batman vs tests/independent_transit.py."""
    from independent_transit import light_curve, quadratic_law

    geometry = TransitGeometry.from_impact(3.0, 4.0, 10.0, b)
    times = np.linspace(1.5, 4.5, 1201)
    expected = light_curve(times, 3.0, 4.0, 10.0, geometry.inc_deg, k, quadratic_law(u1, u2))
    assert expected.min() < 1.0  # the chord transits
    assert_physics_close(transit_flux(times, geometry, k, u1, u2), expected, "quadrature")


def test_exposure_averaging_matches_independent_supersampling():
    from independent_transit import light_curve, quadratic_law

    geometry = TransitGeometry.from_impact(3.0, 4.0, 10.0, 0.4)
    times = np.linspace(1.2, 4.8, 181)  # ingress and egress included
    exposure = 10.0 / 60  # 10 minutes
    expected = light_curve(
        times, 3.0, 4.0, 10.0, geometry.inc_deg, 0.12, quadratic_law(0.5, 0.2), exposure, 15
    )
    got = transit_flux(times, geometry, 0.12, 0.5, 0.2, exposure_h=exposure, supersample=15)
    assert_physics_close(got, expected, "quadrature")
    # and the averaging matters at this exposure: the instantaneous curve differs
    assert np.max(np.abs(transit_flux(times, geometry, 0.12, 0.5, 0.2) - expected)) > 1e-4
