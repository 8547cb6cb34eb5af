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
from spectramind.physics.config import FitConfig
from spectramind.physics.fallback import FALLBACK_SIGMA_FLOOR
from spectramind.physics.features import FEATURE_NAMES
from spectramind.physics.fit import combine_visits, fit_planet
from spectramind.physics.transit import TransitGeometry
from spectramind.physics.visit import fit_visit

TRUTH = synthetic.make_truth()


def _assert_finite_output(result) -> None:
    assert result.depth.shape == (283,) and result.depth_err.shape == (283,)
    assert np.all(np.isfinite(result.depth)) and np.all(np.isfinite(result.depth_err))
    assert np.all(result.depth_err > 0)
    assert np.all(np.isfinite(result.features)) and result.features.shape == (len(FEATURE_NAMES),)


NO_LD_PRIOR = FitConfig(ld_prior_sigma=(0.0, 0.0))


def test_noise_free_planet_recovers_injected_depths():
    """The model itself: no limb-darkening prior, so nothing but the light curve decides."""
    lc = synthetic.make_visit(TRUTH)
    result = fit_planet([lc], TRUTH.star_info(), NO_LD_PRIOR)
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
    result = fit_planet([lc], star, NO_LD_PRIOR)
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


def write_wavelengths(path, wavelengths) -> None:
    path.write_text(
        ",".join(layout.WL_COLUMNS) + "\n" + ",".join(f"{v:.6f}" for v in wavelengths) + "\n"
    )


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
    write_wavelengths(csv_path.parent / layout.WAVELENGTHS_CSV, layout.target_wavelengths_um())
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


def test_cli_fit_config_reaches_the_fit_and_a_bad_one_is_refused(tmp_path, caplog):
    visit_path, csv_path = _write_inputs(tmp_path)
    argv = ["fit", "--calibrated", str(visit_path), "--star-info", str(csv_path), "--planet", "7"]
    out = tmp_path / "tight.npz"
    tight = '{"ld_prior_sigma": [0.001, 0.001], "drift_degree": 2}'
    assert cli.main([*argv, "--out", str(out), "--fit-config", tight]) == 0
    _, meta = load_arrays(out)
    assert meta["config"]["ld_prior_sigma"] == [0.001, 0.001]
    assert meta["config"]["drift_degree"] == 2
    # a prior 0.001 wide holds FGS1 at the grey-atmosphere value, far from the injected 0.6
    assert meta["limb_darkening"]["fgs"][0] == pytest.approx(
        meta["limb_darkening"]["fgs_prior"][0], abs=0.01
    )
    for bad, message in (
        ('{"ld_u1_bounds": [0, 0.8]}', "unknown keys"),
        ('{"ld_prior_sigma": [0.2]}', "ld_prior_sigma"),
        ('{"drift_degree": 1.5}', "drift_degree"),
        ("[1, 2]", "JSON mapping"),
    ):
        target = tmp_path / "bad.npz"
        assert cli.main([*argv, "--out", str(target), "--fit-config", bad]) == 2
        assert message in caplog.text
        assert not target.exists()


def test_fit_reads_the_wavelengths_of_the_dataset(tmp_path):
    """A perturbed wavelengths.csv reaches every wavelength-dependent step of the fit.

    Wavelengths enter the grey-atmosphere limb-darkening prior (per band), the AIRS bins' law
    and the smooth drift. Moving FGS1 from 0.7 to 1.2 um and stretching AIRS (non-affinely) must
    move the recorded grid, the bins' wavelengths and the FGS1 prior, and change the depths.
    """
    visit_path, csv_path = _write_inputs(tmp_path)
    documented = layout.target_wavelengths_um()
    perturbed = documented.copy()
    perturbed[0] = 1.2
    airs = documented[1:]
    perturbed[1:] = airs + 0.15 * ((airs - airs.min()) / np.ptp(airs)) ** 2
    argv = ["fit", "--calibrated", str(visit_path), "--star-info", str(csv_path), "--planet", "7"]
    metas, depths = {}, {}
    for name, grid in (("documented", documented), ("perturbed", perturbed)):
        path = tmp_path / name / layout.WAVELENGTHS_CSV
        path.parent.mkdir()
        write_wavelengths(path, grid)
        out = tmp_path / f"{name}.npz"
        assert cli.main([*argv, "--out", str(out), "--wavelengths", str(path)]) == 0
        arrays, metas[name] = load_arrays(out)
        depths[name] = arrays["depth"]
    for name, grid in (("documented", documented), ("perturbed", perturbed)):
        np.testing.assert_allclose(metas[name]["wavelengths_um"], np.round(grid, 6), atol=1e-9)
    ld = {name: metas[name]["limb_darkening"] for name in metas}
    assert ld["perturbed"]["fgs_wavelength_um"] == 1.2
    # a grey atmosphere darkens less at longer wavelengths
    assert ld["perturbed"]["fgs_prior"][0] < ld["documented"]["fgs_prior"][0] - 0.05
    shift = np.array(ld["perturbed"]["airs_bins_um"]) - np.array(ld["documented"]["airs_bins_um"])
    assert np.all(shift > 0) and shift[-1] > 0.1
    assert not np.array_equal(depths["documented"], depths["perturbed"])
    # a malformed file is refused with its name
    bad = tmp_path / "bad" / layout.WAVELENGTHS_CSV
    bad.parent.mkdir()
    write_wavelengths(bad, np.where(np.arange(283) == 5, np.nan, documented))
    assert cli.main([*argv, "--out", str(tmp_path / "x.npz"), "--wavelengths", str(bad)]) == 2
    assert not (tmp_path / "x.npz").exists()


def test_geometry_prior_mirrors_inclination_above_90():
    g = replace(TRUTH.geometry, inc_deg=180 - TRUTH.geometry.inc_deg)
    lc = synthetic.make_visit(replace(TRUTH, geometry=g))
    result = fit_planet([lc], TRUTH.star_info() | {"i": g.inc_deg}, NO_LD_PRIOR)
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


def test_limb_darkening_prior_stops_the_common_mode_drift_and_keeps_fgs1_sigma_honest():
    """At b = 0.8 free (u1, u2) trade against the depth; the grey-atmosphere prior must cut it.

    Same noisy light curves fitted twice: with the default prior and with the physical region
    only. The injected law (FGS1 0.6 / 0.18, AIRS u1 0.33..0.56) is not the grey one (FGS1
    0.47 / 0.09, AIRS u1 ~0.2), so the prior is tested where it is wrong by 1-2 sigma, and the
    FGS1 error, which includes the limb-darkening uncertainty, must still cover the error.
    """
    truth = _high_impact_truth()
    errors = {"prior": [], "physical only": []}
    z_fgs = []
    for seed in range(3):
        lc = synthetic.make_visit(truth, relative_noise=2e-3, seed=seed)
        for name, cfg in (("prior", FitConfig()), ("physical only", NO_LD_PRIOR)):
            result = fit_planet([lc], truth.star_info(), cfg)
            err = result.depth - truth.depth
            errors[name].append((err[0], err[1:].mean()))  # FGS1, AIRS common mode
            if name == "prior":
                z_fgs.append(err[0] / result.depth_err[0])
    rms = {k: np.sqrt(np.mean(np.square(v), axis=0)) for k, v in errors.items()}
    assert rms["prior"][0] < 0.5 * rms["physical only"][0], rms
    assert rms["prior"][1] < 0.5 * rms["physical only"][1], rms
    assert np.max(np.abs(z_fgs)) < 2.5, z_fgs


def test_limb_darkening_prior_reaches_every_fit():
    """A prior 0.001 wide pins the white-light, binned and smooth AIRS laws to the grey one."""
    from spectramind.physics.limb_darkening import grey_atmosphere_ld

    lc = synthetic.make_visit(TRUTH)
    cfg = FitConfig(ld_prior_sigma=(1e-3, 1e-3))
    ld = fit_planet([lc], TRUTH.star_info(), cfg).meta["limb_darkening"]
    grey_u1, grey_u2 = grey_atmosphere_ld(np.array(ld["airs_bins_um"]), TRUTH.star_info()["Ts"])
    np.testing.assert_allclose(ld["airs_bins_u1"], grey_u1, atol=0.01)  # injected 0.33..0.56
    np.testing.assert_allclose(ld["airs_bins_u2"], grey_u2, atol=0.01)
    assert ld["fgs"] == pytest.approx(ld["fgs_prior"], abs=0.01)


def test_limb_darkening_stays_physical_when_the_data_pull_outside():
    """Limb-brightened light curves (u1 < 0) cannot drag the law out of the physical region."""
    truth = replace(TRUTH, u1=np.full(283, -0.3), u2=np.full(283, 0.1))
    lc = synthetic.make_visit(truth)
    ld = fit_planet([lc], truth.star_info(), NO_LD_PRIOR).meta["limb_darkening"]
    u1 = np.array([ld["fgs"][0], *ld["airs_bins_u1"]])
    u2 = np.array([ld["fgs"][1], *ld["airs_bins_u2"]])
    assert np.all(u1 >= -1e-12) and np.all(u1 + 2 * u2 >= -1e-12) and np.all(u1 + u2 <= 1 + 1e-12)
    assert u1.min() < 0.05  # pushed against the edge the data point to


def _independent_visit(impact: float, seed: int, ramp: bool):
    """A visit made without any fitter code (tests/independent_transit.py): Claret's 4-parameter
    limb darkening (not the fitted quadratic law), a start-up ramp and a sinusoidal gain drift
    that no Legendre polynomial of the fitter's basis is, Gaussian noise 1e-3 per bin."""
    from independent_transit import light_curve, nonlinear_law

    from spectramind.artifacts.calibrated import CalibratedVisit

    rng = np.random.default_rng(seed)
    wl = layout.target_wavelengths_um()
    a_over_rs, t0, period = 9.5, 3.6, 4.2
    inc = float(np.degrees(np.arccos(impact / a_over_rs)))
    n = 900
    time_h = (np.arange(n) + 0.5) * 7.5 / n
    s = (wl / 0.7) ** -0.8  # darkening falls with wavelength
    coeffs = np.stack([0.55 * s, -0.1 * s, 0.45 * s**1.2, -0.2 * s**1.2], axis=1)
    transit = np.column_stack(
        [
            light_curve(time_h, t0, period, a_over_rs, inc, np.sqrt(d), nonlinear_law(tuple(c)))
            for d, c in zip(TRUTH.depth, coeffs, strict=True)
        ]
    )
    drift = np.ones_like(transit)
    if ramp:
        tilt = (wl - 2.9)[None, :]
        drift = (1 - 2e-3 * np.exp(-time_h / 0.4)[:, None] * (1 + 0.3 * tilt)) * (
            1 + 1.5e-3 * np.sin(2 * np.pi * 0.7 * time_h / 7.5 + 0.3)[:, None] * (1 + 0.2 * tilt)
        )
    stellar = 1e5 * (wl / 2.5) ** -2
    err = 1e-3 * stellar * np.ones_like(transit)
    flux = stellar * drift * transit + err * rng.standard_normal(transit.shape)
    lc = CalibratedVisit(
        time_h,
        flux,
        err,
        np.zeros(283, np.uint16),
        np.zeros((n, 0)),
        {"planet_id": 1, "split": "train"},
    )
    star = TRUTH.star_info() | {"P": period, "sma": a_over_rs, "i": inc}
    return lc, star


@pytest.mark.parametrize(("impact", "ramp"), [(0.3, True), (0.8, True), (0.3, False)])
def test_fit_of_independently_made_light_curves_is_unbiased_within_its_errors(impact, ramp):
    """Data the fitter's own model did not make: quadratic vs 4-parameter law, polynomial drift
    vs a ramp and a sinusoid. Depths per channel scatter as their errors say, the common offset
    of AIRS stays small, FGS1 lands within 3 of its (marginal) sigma; a ramp is found when there
    is one."""
    lc, star = _independent_visit(impact, seed=0, ramp=ramp)
    result = fit_planet([lc], star)
    assert not result.meta["fallback"], result.meta["reasons"]
    err = result.depth - TRUTH.depth
    common = err[1:].mean()
    z = (err[1:] - common) / result.depth_err[1:]
    assert 0.8 < np.sqrt(np.mean(z**2)) < 1.3
    assert abs(common) < 80e-6, common  # ~0.6 % of the depth
    assert abs(err[0] / result.depth_err[0]) < 3.0
    diagnostics = result.meta["visits"][0]["diagnostics"]
    assert (diagnostics["airs_white_drift_ramp_tau_h"] > 0) == ramp


def test_drift_cross_validation_picks_the_drift_the_data_have():
    """Ten noise draws each of no drift, a cubic drift and a start-up ramp (tau = 0.3 h)."""
    from spectramind.physics.drift import select_drift_degree

    time_h = np.linspace(0.0, 7.5, 900)
    x = 2 * time_h / 7.5 - 1
    err = np.full_like(time_h, 1e-4)
    drifts = {
        "flat": np.ones_like(x),
        "cubic": 1 + 2e-3 * x - 1e-3 * x**2 + 1.5e-3 * x**3,
        "ramp": 1 - 3e-3 * np.exp(-time_h / 0.3),
    }
    chosen = {name: [] for name in drifts}
    for seed in range(10):
        noise = err * np.random.default_rng(seed).standard_normal(x.size)
        for name, drift in drifts.items():
            choice = select_drift_degree(
                time_h, drift + noise, err, np.ones(x.size, bool), np.ones_like(x), None, 5
            )
            chosen[name].append((choice.degree, choice.ramp_tau_h))
    assert sum(c == (0, None) for c in chosen["flat"]) >= 7, chosen["flat"]
    assert all(d in (3, 4) for d, _ in chosen["cubic"]), chosen["cubic"]
    assert sum(c == (3, None) for c in chosen["cubic"]) >= 7, chosen["cubic"]
    assert all(tau is not None and 0.2 < tau < 0.45 for _, tau in chosen["ramp"]), chosen["ramp"]


def test_pointing_loss_quadratic_in_the_offset_is_modelled():
    """A PSF moved by (dx, dy) loses flux ~ dx^2 + dy^2 whichever way it moves: with only the
    linear centroid regressors the jitter stays in the residuals; the second-order basis
    (FitConfig.regressor_order 2, the default) takes it out and the depths follow the truth."""
    from spectramind.artifacts.calibrated import CalibratedVisit

    rng = np.random.default_rng(5)
    base = synthetic.make_visit(TRUTH)  # noise-free, drift + one linear regressor
    n = base.n_bins
    offsets = np.cumsum(rng.normal(0, 0.02, (n, 2)), axis=0)  # random-walk pointing [pixel]
    offsets -= offsets.mean(axis=0)
    loss = 1.0 - 0.02 * np.sum(offsets**2, axis=1)  # up to ~1e-3
    flux = base.flux * loss[:, None]
    err = np.full_like(flux, 1e-4) * flux
    flux = flux + err * rng.standard_normal(flux.shape)
    lc = CalibratedVisit(
        base.time_h, flux, err, base.quality, np.column_stack([base.regressors, offsets]),
        {"planet_id": 1, "split": "train"},
    )  # fmt: skip
    results = {
        order: fit_planet([lc], TRUTH.star_info(), FitConfig(regressor_order=order))
        for order in (1, 2)
    }
    rms = {k: np.sqrt(np.mean((r.depth[1:] - TRUTH.depth[1:]) ** 2)) for k, r in results.items()}
    chi2 = {k: r.meta["visits"][0]["diagnostics"]["white_chi2_red"] for k, r in results.items()}
    assert chi2[2] < 1.3 < chi2[1], chi2
    assert rms[2] < 0.5 * rms[1], rms


def test_fgs1_sigma_covers_its_limb_darkening_uncertainty():
    """FGS1 is one band: on a chord at b = 0.8 its (u1, u2) trade against the depth, and at
    high S/N that, not the photon noise, sets the error. The reported FGS1 sigma (the white-light
    fit's, geometry and limb darkening marginalised) must cover the scatter over noise draws; the
    error with everything else held fixed (~35 ppm here) does not."""
    truth = _high_impact_truth()
    errors, sigmas, conditional = [], [], []
    for seed in range(5):
        lc = synthetic.make_visit(truth, relative_noise=3e-4, seed=seed)
        result = fit_planet([lc], truth.star_info())
        errors.append(result.depth[0] - truth.depth[0])
        sigmas.append(result.depth_err[0])
        conditional.append(result.meta["visits"][0]["diagnostics"]["fgs_depth_err_conditional"])
    scatter = np.sqrt(np.mean(np.square(errors)))
    assert scatter < 1.2 * np.median(sigmas), (errors, sigmas)
    assert scatter > 1.5 * np.median(conditional), (errors, conditional)
    assert np.median(sigmas) < 5 * scatter  # honest, not merely huge


@pytest.mark.parametrize("drift_degree", [-1, 2])
def test_every_diagnostic_feature_reads_a_key_the_fit_writes(drift_degree):
    # A feature whose diagnostics key no stage writes is silently 0 for every planet (the AIRS
    # drift degree once read "airs_drift_degree" while the fit wrote "airs_white_drift_degree").
    from spectramind.physics.features import DIAGNOSTIC_FEATURES

    lc = synthetic.make_visit(TRUTH, relative_noise=1e-4, seed=3)
    result = fit_planet([lc], TRUTH.star_info(), FitConfig(drift_degree=drift_degree))
    assert not result.meta["fallback"]
    diagnostics = result.meta["visits"][0]["diagnostics"]
    missing = {name: key for name, key in DIAGNOSTIC_FEATURES.items() if key not in diagnostics}
    assert not missing, f"features read keys no fit wrote: {missing}"
    features = dict(zip(FEATURE_NAMES, result.features, strict=True))
    for name in ("fgs_drift_degree", "airs_drift_degree"):
        degree = features[name]
        assert degree == round(degree) and 0 <= degree <= FitConfig().drift_degree_max
        if drift_degree >= 0:
            assert degree == drift_degree
