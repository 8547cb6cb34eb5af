"""The public white-light baseline on batman light curves generated here with known depths."""

from __future__ import annotations

import batman
import numpy as np
import pytest

from spectramind import baselines
from spectramind.artifacts.calibrated import CalibratedVisit, write_calibrated_visit
from spectramind.baselines import BaselineConfig, BaselineFitError
from spectramind.metric import NaiveReference, score_arrays

N_WL = 283
NAIVE = NaiveReference(mean=0.0146890, sigma=0.0106613)  # FORMAT.md section 4


def transit(time_h, depth, t0_h=3.7, u=(0.0, 0.0), inc=89.0, a=10.0, period_d=5.0):
    """Relative flux (n,) of a quadratic-limb-darkened transit computed by batman."""
    params = batman.TransitParams()
    params.t0, params.per, params.rp = t0_h, period_d * 24.0, np.sqrt(depth)
    params.a, params.inc, params.ecc, params.w = a, inc, 0.0, 90.0
    params.limb_dark, params.u = "quadratic", list(u)
    return batman.TransitModel(params, time_h).light_curve(params)


def visit(depth, seed, n_bins=450, white_noise=1e-4, drift=True, **kw):
    """A calibrated-visit-like (time_h, flux (n_bins, 283)): star spectrum x transit x drift."""
    rng = np.random.default_rng(seed)
    time_h = np.linspace(0.0, 7.5, n_bins)
    light = transit(time_h, depth, **kw)
    if drift:
        x = (time_h - 3.75) / 3.75
        light = light * (1 + 2e-3 * x - 1e-3 * x**2 + 5e-4 * x**3)
    spectrum = np.linspace(2e5, 1e5, N_WL)
    # Per-channel noise such that the 282-channel white curve has relative noise white_noise.
    noise = rng.normal(0.0, white_noise * np.sqrt(N_WL - 1), (n_bins, N_WL))
    return time_h, light[:, None] * spectrum[None, :] * (1 + noise)


@pytest.mark.parametrize("depth", [0.006, 0.015, 0.046])
@pytest.mark.parametrize("t0_h", [2.6, 3.7, 4.9])
def test_recovers_depth_of_uniform_disk_within_noise(depth, t0_h):
    # Without limb darkening the flat bottom of the transit is exactly (Rp/Rs)^2.
    time_h, flux = visit(depth, seed=round(depth * 1e4 + t0_h * 10), t0_h=t0_h)
    fit = baselines.fit_visit(time_h, flux)
    assert 1e-5 < fit.depth_err < 1e-4
    assert abs(fit.depth - depth) < 4 * fit.depth_err


def test_window_brackets_the_contact_points():
    time_h, flux = visit(0.03, seed=1, drift=False, t0_h=3.2, inc=88.0)
    fine = np.linspace(0, 7.5, 20001)
    dip = np.flatnonzero(transit(fine, 0.03, t0_h=3.2, inc=88.0) < 1.0)
    t1, t4 = fine[dip[0]], fine[dip[-1]]
    fit = baselines.fit_visit(time_h, flux)
    window = fit.window
    assert window.ingress_start_h <= t1 < window.ingress_end_h
    assert window.egress_start_h < t4 <= window.egress_end_h
    assert window.egress_start_h - window.ingress_end_h > 0.5 * (t4 - t1)
    inside = window.in_transit(time_h)
    np.testing.assert_array_less(transit(time_h[inside], 0.03, t0_h=3.2, inc=88.0), 1.0)


def test_white_light_curve_channels():
    flux = np.arange(3 * N_WL, dtype=float).reshape(3, N_WL) + 1.0
    quality = np.zeros(N_WL, dtype=np.uint16)
    quality[5] = 1
    flux[:, 9] = np.nan
    expected = flux[:, 1:].sum(axis=1, where=np.isfinite(flux[:, 1:])) - flux[:, 5]
    np.testing.assert_allclose(baselines.white_light_curve(flux, quality), expected)
    np.testing.assert_allclose(
        baselines.white_light_curve(flux, quality, include_fgs=True), expected + flux[:, 0]
    )


def test_moving_average():
    np.testing.assert_allclose(baselines.moving_average(np.full(50, 3.0), 7), 3.0)
    ramp = np.arange(50.0)
    np.testing.assert_allclose(baselines.moving_average(ramp, 5)[2:-2], ramp[2:-2])


def test_flat_curve_has_no_transit():
    time_h = np.linspace(0, 7.5, 200)
    with pytest.raises(BaselineFitError):
        baselines.fit_visit(time_h, np.ones((200, N_WL)))


def _calibrated(time_h, flux, meta) -> CalibratedVisit:
    """A calibrated visit with unit errors, good quality and no regressors."""
    n_bins = time_h.size
    quality = np.zeros(N_WL, dtype=np.uint16)
    return CalibratedVisit(time_h, flux, np.ones_like(flux), quality, np.zeros((n_bins, 0)), meta)


def test_planet_baseline_from_calibrated_files(tmp_path):
    paths = []
    for v, seed in enumerate((11, 12)):
        time_h, flux = visit(0.02, seed=seed)
        path = tmp_path / f"visit_{v}.npz"
        write_calibrated_visit(path, _calibrated(time_h, flux, {"planet_id": 77, "visit": v}))
        paths.append(path)
    config = BaselineConfig(sigma=4e-4)
    result = baselines.planet_baseline(paths, config)
    assert result.planet_id == 77 and not result.fallback
    assert len(result.visit_depths) == 2
    np.testing.assert_allclose(result.depth, np.mean(result.visit_depths))
    np.testing.assert_allclose(result.sigma, 4e-4)
    assert abs(result.depth[0] - 0.02) < 1e-4

    flat = tmp_path / "flat.npz"
    write_calibrated_visit(
        flat, _calibrated(np.linspace(0, 7.5, 200), np.ones((200, N_WL)), {"planet_id": 78})
    )
    failed = baselines.planet_baseline([flat], config)
    assert failed.fallback and failed.reasons
    np.testing.assert_allclose(failed.depth, config.fallback_depth)

    out = tmp_path / "pred.npz"
    baselines.write_baseline_predictions({77: paths, 78: [flat]}, out, config)
    with np.load(out) as data:
        assert data["planet_id"].tolist() == [77, 78]
        assert data["mu"].shape == data["sigma"].shape == (2, N_WL)


def test_baseline_beats_naive_on_limb_darkened_planets():
    rng = np.random.default_rng(2025)
    n = 30
    depths = rng.uniform(0.006, 0.046, n)
    # True spectra: a white depth plus a smooth feature of a few 1e-4.
    wl = np.linspace(0, 1, N_WL)
    labels = depths[:, None] * (1 + 0.02 * np.sin(2 * np.pi * (wl[None, :] + rng.random((n, 1)))))
    white = []
    for k in range(n):
        time_h, flux = visit(
            float(labels[k].mean()), seed=100 + k, t0_h=rng.uniform(2.6, 4.9),
            u=(rng.uniform(0, 0.8), rng.uniform(0, 0.4)), inc=rng.uniform(88.0, 90.0),
        )  # fmt: skip
        white.append(baselines.fit_visit(time_h, flux).depth)
    white = np.array(white)
    # Calibrate scale and sigma on the first half, score the second half.
    scale, sigma = baselines.calibrate_baseline(white[:15], labels[:15])
    assert 0.8 < scale < 1.05  # limb darkening deepens the flat bottom: scale below ~1
    config = BaselineConfig(depth_scale=scale, sigma=sigma)
    spectra = [baselines.baseline_spectrum(d, config) for d in white[15:]]
    mu = np.array([s[0] for s in spectra])
    sig = np.array([s[1] for s in spectra])
    result = score_arrays(labels[15:], mu, sig, NAIVE)
    naive = score_arrays(
        labels[15:], np.full_like(mu, NAIVE.mean), np.full_like(mu, NAIVE.sigma), NAIVE
    )
    assert naive.score == 0.0
    assert result.score > 0.15
    assert 0.5 < result.z_rms < 2.0
    # The default (uncalibrated) constant sigma is cautious enough to beat naive too.
    default = [baselines.baseline_spectrum(d) for d in white]
    default_result = score_arrays(
        labels, np.array([s[0] for s in default]), np.array([s[1] for s in default]), NAIVE
    )
    assert default_result.score > 0.0
