"""Per-planet physics fit on synthetic planets drawn directly from batman (no simulator)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from physics_tolerances import assert_physics_close

from spectramind import cli
from spectramind.data import layout
from spectramind.io import load_arrays, save_arrays
from spectramind.oracles import synthetic_light_curves as synthetic
from spectramind.physics.fallback import FALLBACK_SIGMA_FLOOR
from spectramind.physics.fit import (
    FEATURE_NAMES,
    FitConfig,
    combine_visits,
    fit_planet,
    fit_visit,
)
from spectramind.physics.transit import TransitGeometry

TRUTH = synthetic.make_truth()


def _assert_finite_output(result) -> None:
    assert result.depth.shape == (283,) and result.depth_err.shape == (283,)
    assert np.all(np.isfinite(result.depth)) and np.all(np.isfinite(result.depth_err))
    assert np.all(result.depth_err > 0)
    assert np.all(np.isfinite(result.features)) and result.features.shape == (len(FEATURE_NAMES),)


def test_noise_free_planet_recovers_injected_depths():
    lc = synthetic.make_visit(TRUTH)
    result = fit_planet([lc], TRUTH.star_info())
    _assert_finite_output(result)
    assert not result.meta["fallback"], result.meta["reasons"]
    assert_physics_close(result.depth, TRUTH.depth, "depth_noise_free")
    geometry = result.meta["geometry"]
    assert abs(geometry["t0_h"] - TRUTH.geometry.t0_h) < 1e-4
    assert abs(geometry["a_over_rs"] - TRUTH.geometry.a_over_rs) < 1e-2
    # the fitted limb darkening follows the injected wavelength dependence
    u1_bins = np.array(result.meta["limb_darkening"]["airs_bins_u1"])
    wl_bins = np.array(result.meta["limb_darkening"]["airs_bins_um"])
    np.testing.assert_allclose(u1_bins, 0.45 - 0.12 * (wl_bins - 2.9), atol=2e-3)


def test_noise_free_planet_with_geometry_off_the_star_info():
    """Priors are priors: a 3% wrong sma / 0.3 deg wrong i in the star info must not bias."""
    lc = synthetic.make_visit(TRUTH)
    star = TRUTH.star_info() | {"sma": TRUTH.geometry.a_over_rs * 1.03, "i": 88.5}
    result = fit_planet([lc], star)
    assert_physics_close(result.depth, TRUTH.depth, "depth_noise_free")


def test_noisy_depth_errors_match_the_scatter():
    z = []
    for seed in range(3):
        lc = synthetic.make_visit(TRUTH, relative_noise=2e-3, seed=seed)
        result = fit_planet([lc], TRUTH.star_info())
        _assert_finite_output(result)
        z.append((result.depth[1:] - TRUTH.depth[1:]) / result.depth_err[1:])
    z = np.concatenate(z)
    z_rms = float(np.sqrt(np.mean(z**2)))
    assert 0.85 < z_rms < 1.2, z_rms
    # the quoted error follows the photon noise: ~2e-3 per 24 s bin over a 3.6 h transit
    assert 1e-4 < np.median(result.depth_err[1:]) < 4e-4


def test_two_visits_combine_by_inverse_variance():
    visits = [
        synthetic.make_visit(TRUTH, relative_noise=2e-3, seed=11, visit=0),
        synthetic.make_visit(
            replace(TRUTH, geometry=replace(TRUTH.geometry, t0_h=4.2)),
            relative_noise=3e-3,
            seed=12,
            visit=1,
        ),
    ]
    star = TRUTH.star_info()
    single = [fit_visit(lc, star) for lc in visits]
    result = fit_planet(visits, star)
    _assert_finite_output(result)
    w = [1 / f.depth_err**2 for f in single]
    expected = (w[0] * single[0].depth + w[1] * single[1].depth) / (w[0] + w[1])
    assert_physics_close(result.depth, expected, "exact")
    assert_physics_close(result.depth_err, 1 / np.sqrt(w[0] + w[1]), "exact")
    assert [v["geometry"]["t0_h"] for v in result.meta["visits"]] == pytest.approx(
        [3.6, 4.2], abs=5e-3
    )
    # the noisier visit gets less weight: combined error is below both
    assert np.all(result.depth_err < np.minimum(single[0].depth_err, single[1].depth_err))


def test_combine_visits_downweights_a_fallback_visit():
    good = fit_visit(synthetic.make_visit(TRUTH), TRUTH.star_info())
    bad = replace(good, depth=good.depth + 0.01, depth_err=np.full(283, 1e-2), fallback=True)
    depth, _, chi2 = combine_visits([good, bad])
    assert np.max(np.abs(depth - good.depth)) < 1e-5
    assert np.isfinite(chi2)


def test_all_nan_and_flagged_channels_fall_back_and_are_flagged():
    lc = synthetic.make_visit(TRUTH, relative_noise=2e-3, seed=4)
    flux = lc.flux.copy()
    flux[:, 50] = np.nan
    quality = lc.quality.copy()
    quality[100] = 1
    result = fit_planet([replace(lc, flux=flux, quality=quality)], TRUTH.star_info())
    _assert_finite_output(result)
    assert result.meta["fallback"] is True
    assert result.meta["visits"][0]["fallback_channels"] == [50, 100]
    assert result.depth_err[50] >= FALLBACK_SIGMA_FLOOR
    good = np.ones(283, bool)
    good[[50, 100]] = False
    assert np.all(result.depth_err[good] < FALLBACK_SIGMA_FLOOR)


def test_flat_light_curve_without_transit_falls_back():
    flat = replace(TRUTH, depth=np.full(283, 1e-9))
    lc = synthetic.make_visit(flat, relative_noise=2e-3, seed=5)
    result = fit_planet([lc], TRUTH.star_info())
    _assert_finite_output(result)
    assert result.meta["fallback"] is True
    assert any("no transit" in r for r in result.meta["reasons"])
    assert np.all(result.depth_err >= FALLBACK_SIGMA_FLOOR)


@pytest.mark.parametrize("garbage", ["random", "all_nan", "negative_inf", "constant_time"])
def test_garbage_never_crashes_or_returns_nan(garbage):
    lc = synthetic.make_visit(TRUTH, relative_noise=2e-3, seed=6)
    rng = np.random.default_rng(0)
    if garbage == "random":
        lc = replace(lc, flux=rng.normal(0, 1e5, size=lc.flux.shape))
    elif garbage == "all_nan":
        lc = replace(lc, flux=np.full_like(lc.flux, np.nan))
    elif garbage == "negative_inf":
        flux = -lc.flux
        flux[::7] = np.inf
        lc = replace(lc, flux=flux, flux_err=np.where(rng.uniform(size=flux.shape) < 0.1, 0, 1.0))
    else:
        lc = replace(lc, time_h=np.full_like(lc.time_h, 2.0))
    result = fit_planet([lc], TRUTH.star_info())
    _assert_finite_output(result)
    assert result.meta["fallback"] is True and result.meta["reasons"]


def _write_inputs(tmp_path, planet_id: int = 7):
    lc = synthetic.make_visit(TRUTH, relative_noise=2e-3, seed=8, planet_id=planet_id)
    visit_path = tmp_path / "calibrated" / f"{planet_id}_0.npz"
    save_arrays(
        visit_path,
        {
            "time_h": lc.time_h,
            "flux": lc.flux,
            "flux_err": lc.flux_err,
            "quality": lc.quality,
            "regressors": lc.regressors,
        },
        {"planet_id": planet_id, "split": "train", "visit": 0, "regressor_names": ["jitter"]},
    )
    star = TRUTH.star_info()
    csv_path = tmp_path / "data" / layout.STAR_INFO_CSV["train"]
    csv_path.parent.mkdir()
    names = layout.STAR_INFO_COLUMNS
    csv_path.write_text(
        ",".join(names)
        + "\n"
        + ",".join([str(planet_id)] + [repr(star[n]) for n in names[1:]])
        + "\n"
    )
    return visit_path, csv_path


def test_cli_writes_the_physics_fit_file_byte_stable(tmp_path):
    visit_path, csv_path = _write_inputs(tmp_path)
    outs = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for out in outs:
        argv = ["fit", "--calibrated", str(visit_path), "--star-info", str(csv_path)]
        assert cli.main([*argv, "--planet", "7", "--out", str(out)]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    arrays, meta = load_arrays(outs[0])
    assert sorted(arrays) == ["depth", "depth_err", "features"]
    assert arrays["features"].shape == (len(meta["feature_names"]),)
    assert meta["planet_id"] == 7 and meta["split"] == "train" and meta["fallback"] is False
    assert {"t0_h", "a_over_rs", "inc_deg"} <= set(meta["geometry"])
    assert "fgs" in meta["limb_darkening"]


def test_cli_rejects_unknown_planet_with_exit_2(tmp_path, caplog):
    visit_path, csv_path = _write_inputs(tmp_path)
    argv = ["fit", "--calibrated", str(visit_path), "--star-info", str(csv_path)]
    assert cli.main([*argv, "--planet", "8", "--out", str(tmp_path / "x.npz")]) == 2
    assert "planet 8" in caplog.text
    assert not (tmp_path / "x.npz").exists()


def test_cli_limb_darkening_range_reaches_the_fit_and_a_bad_one_is_refused(tmp_path, caplog):
    visit_path, csv_path = _write_inputs(tmp_path)
    argv = ["fit", "--calibrated", str(visit_path), "--star-info", str(csv_path), "--planet", "7"]
    out = tmp_path / "narrow.npz"
    assert cli.main([*argv, "--out", str(out), "--ld-u1-range", "0", "0.3"]) == 0
    _, meta = load_arrays(out)
    assert meta["config"]["ld_u1_bounds"] == [0.0, 0.3]
    assert meta["limb_darkening"]["fgs"][0] <= 0.3 + 1e-9
    bad = tmp_path / "bad.npz"
    assert cli.main([*argv, "--out", str(bad), "--ld-u2-range", "0.4", "0.1"]) == 2
    assert "ld_u2_bounds" in caplog.text and "low < high" in caplog.text
    assert not bad.exists()


def test_geometry_prior_mirrors_inclination_above_90():
    g = replace(TRUTH.geometry, inc_deg=180 - TRUTH.geometry.inc_deg)
    lc = synthetic.make_visit(replace(TRUTH, geometry=g))
    result = fit_planet([lc], TRUTH.star_info() | {"i": g.inc_deg})
    assert result.meta["geometry"]["inc_deg"] == pytest.approx(g.inc_deg, abs=1e-2)
    assert_physics_close(result.depth, TRUTH.depth, "depth_noise_free")


def test_smooth_drift_recovers_a_drift_linear_in_wavelength():
    from spectramind.physics.lightcurves import drift_basis
    from spectramind.physics.spectrum import smooth_drift

    rng = np.random.default_rng(0)
    time_h = np.linspace(0.0, 7.5, 300)
    basis = drift_basis(time_h, None, 2)  # (n, 3): P0, P1, P2
    wl = np.linspace(1.9, 3.9, 282)
    x = (wl - wl.mean()) / (np.ptp(wl) / 2)
    relative = np.stack([2e-3 + 1e-3 * x, -1e-3 + 5e-4 * x], axis=1)  # (m, 2), linear in x
    norm = rng.uniform(0.5, 2.0, wl.size)
    coef = np.column_stack([norm, norm[:, None] * relative])
    noisy = coef + np.column_stack([np.zeros(wl.size), 1e-4 * rng.standard_normal((wl.size, 2))])
    drift = smooth_drift(basis, noisy, np.ones(wl.size), wl, 1)  # (n, m)
    expected = 1.0 + basis[:, 1:] @ relative.T
    # 282 channels with 1e-4 noise per coefficient: the fitted line is good to ~1e-5.
    assert np.max(np.abs(drift - expected)) < 5e-5


def test_wavelength_smooth_drift_beats_free_drift_on_noisy_planet():
    """Per-channel drift is degenerate with the depth; a drift smooth in wavelength is not."""
    truth = synthetic.make_truth()
    lc = synthetic.make_visit(truth, relative_noise=2e-3, seed=3)
    free_cfg = replace(FitConfig(), drift_wavelength_degree=-1)
    free = fit_planet([lc], truth.star_info(), free_cfg)
    smooth = fit_planet([lc], truth.star_info())
    assert np.median(smooth.depth_err[1:]) < np.median(free.depth_err[1:])
    err = smooth.depth[1:] - truth.depth[1:]
    z = (err - err.mean()) / smooth.depth_err[1:]
    assert 0.7 < np.sqrt(np.mean(z**2)) < 1.4


def _high_impact_truth(impact: float = 0.8):
    """The synthetic planet on a chord that misses the stellar centre (b = 0.8)."""
    a_over_rs = 9.5
    inc = float(np.degrees(np.arccos(impact / a_over_rs)))
    geometry = TransitGeometry(3.6, 4.2, a_over_rs, inc)
    return synthetic.make_truth(geometry=geometry)


def test_documented_limb_darkening_range_stops_the_common_mode_drift():
    """At b = 0.8 free (u1, u2) trade against the depth; FORMAT.md's range must cut that error.

    Same noisy light curves fitted twice: with the default FitConfig (u1 0..0.8, u2 0..0.4) and
    with the wide box the optimizer used before; the injected u (0.6, 0.18 for FGS1; AIRS
    0.25..0.57 / 0.15..0.23) lies inside both.
    """
    truth = _high_impact_truth()
    wide = replace(FitConfig(), ld_u1_bounds=(-0.2, 1.5), ld_u2_bounds=(-0.8, 1.0))
    errors = {"documented": [], "wide": []}
    for seed in range(3):
        lc = synthetic.make_visit(truth, relative_noise=2e-3, seed=seed)
        for name, cfg in (("documented", FitConfig()), ("wide", wide)):
            err = fit_planet([lc], truth.star_info(), cfg).depth - truth.depth
            errors[name].append((err[0], err[1:].mean()))  # FGS1, AIRS common mode
    rms = {k: np.sqrt(np.mean(np.square(v), axis=0)) for k, v in errors.items()}
    assert rms["documented"][0] < 0.6 * rms["wide"][0], rms
    assert rms["documented"][1] < 0.75 * rms["wide"][1], rms


def test_limb_darkening_bounds_reach_every_fit():
    """A box that excludes the injected u pins the white-light and binned fits to its edge."""
    lc = synthetic.make_visit(TRUTH)
    cfg = replace(FitConfig(), ld_u1_bounds=(0.0, 0.3), ld_u2_bounds=(0.25, 0.4))
    ld = fit_planet([lc], TRUTH.star_info(), cfg).meta["limb_darkening"]
    fgs_u1, fgs_u2 = ld["fgs"]
    assert 0.0 <= fgs_u1 <= 0.3 + 1e-9 and 0.25 - 1e-9 <= fgs_u2 <= 0.4
    assert max(ld["airs_bins_u1"]) <= 0.3 + 1e-9  # injected AIRS u1 is 0.25..0.57
    assert min(ld["airs_bins_u2"]) >= 0.25 - 1e-9  # injected AIRS u2 is 0.15..0.23
