"""Unit tests of the calibration steps on tiny synthetic arrays (no files)."""

from __future__ import annotations

import dataclasses
import inspect
import itertools

import numpy as np
import pytest

from spectramind.calibrate import config as cfgmod
from spectramind.calibrate.pipeline import StepTimer, run_steps
from spectramind.calibrate.state import FrameBlock, Phase, reference_paths
from spectramind.calibrate.steps import (
    REGISTRY,
    adc,
    background,
    binning,
    cds,
    cosmic,
    crop,
    dark,
    extract,
    flat,
    jitter,
    linearity,
    locate,
    mask,
)
from spectramind.data.layout import AIRS, FGS
from spectramind.data.reader import AdcInfo
from spectramind.errors import ConfigError, DataFormatError

RNG = np.random.default_rng(1234)


def test_adc_decode_matches_formula_and_flags_saturation():
    raw = np.array([[0, 100, 65535], [1, 65535, 30000]], dtype=np.uint16)
    counts = adc.decode(raw, 0.4369, -1000.0, np.float64)
    np.testing.assert_allclose(counts, raw / 0.4369 - 1000.0, rtol=1e-15)
    assert adc.decode(raw, 0.4369, -1000.0, np.float32).dtype == np.float32
    sat = adc.saturated_pairs(raw, 65535)
    assert sat.tolist() == [[False, True, True]]


def test_persistently_saturated_pixels_are_those_above_the_frame_wide_level():
    n_cds = 500
    counts = np.zeros((4, 6), dtype=np.int64)
    counts[1, 2] = 200  # a trace pixel near full scale: saturated in 40 % of its frames
    counts[3, 5] = 3  # a cosmic-ray hit or two (0.6 %): stays rejected frame by frame
    assert np.argwhere(adc.persistently_saturated(counts, n_cds, 0.01)).tolist() == [[1, 2]]
    # Whole frames at full scale (every pixel in the same 40 frames) mask nothing: those frames
    # are rejected instead, and the pixel above them is still found.
    assert np.argwhere(adc.persistently_saturated(counts + 40, n_cds, 0.01)).tolist() == [[1, 2]]
    assert not adc.persistently_saturated(counts, n_cds, 1.0).any()
    assert adc.persistently_saturated(np.zeros((0, 3), dtype=np.int64), n_cds, 0.01).shape == (0, 3)


def test_crop_pixel_index_selects_the_window_in_row_major_order():
    frame = np.arange(AIRS.rows * AIRS.cols).reshape(AIRS.rows, AIRS.cols)
    win = crop.window(AIRS, (10, 22), (39, 321))
    idx = crop.pixel_index(AIRS, win)
    np.testing.assert_array_equal(frame.ravel()[idx].reshape(12, 282), frame[10:22, 39:321])
    assert crop.crop_map(np.ones((6, 32, 356)), win).shape == (6, 12, 282)
    with pytest.raises(ConfigError):
        crop.window(FGS, (0, 33), (0, 32))


def test_sigma_clip_finds_hot_pixels_only():
    darkmap = RNG.normal(0.005, 0.004, (32, 40))
    hot = [(3, 4), (20, 30), (31, 0)]
    for r, c in hot:
        darkmap[r, c] = 5.0
    darkmap[10, 10] = 0.04  # 9 sigma, but clipped only after the hot ones are removed
    found = mask.sigma_clip_mask(darkmap, 5.0, 5)
    assert set(zip(*np.nonzero(found), strict=True)) == {*hot, (10, 10)}
    # One iteration with the hot pixels inflating the std misses the moderate outlier.
    assert not mask.sigma_clip_mask(darkmap, 5.0, 1)[10, 10]


def test_fill_masked_interpolates_along_wavelength_and_across_empty_rows():
    rows, cols = 6, 8
    truth = (np.arange(cols)[None, :] * 2.0 + np.arange(rows)[:, None] * 10.0)[None].repeat(3, 0)
    cube = truth.copy()
    bad = np.zeros((rows, cols), dtype=bool)
    bad[1, 3] = bad[1, 4] = True  # interior: exact for a linear ramp
    bad[2, 0] = True  # edge: copies the nearest good value
    bad[4, :] = True  # whole row: filled across rows
    cube[:, bad] = -1e9
    row_filled = mask.fill_masked(cube, bad, "interpolate")
    np.testing.assert_allclose(cube[:, 1, 3:5], truth[:, 1, 3:5])
    np.testing.assert_allclose(cube[:, 2, 0], truth[:, 2, 1])
    np.testing.assert_allclose(cube[:, 4, :], truth[:, 4, :])  # linear in rows too
    assert row_filled[4].all() and row_filled.sum() == cols
    zero = truth.copy()
    mask.fill_masked(zero, bad, "zero")
    assert np.all(zero[:, bad] == 0) and np.array_equal(zero[:, ~bad], truth[:, ~bad])


def test_linearity_horner_matches_polyval_per_pixel():
    coeffs = RNG.normal(size=(6, 5)) * np.array([[1.0], [1.0], [1e-4], [1e-8], [1e-12], [1e-16]])
    x = RNG.uniform(0, 5e4, size=(7, 5))
    expected = np.stack(
        [np.polynomial.polynomial.polyval(x[:, p], coeffs[:, p]) for p in range(5)], axis=1
    )
    got = linearity.correct(x.copy(), coeffs)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_dark_on_cds_equals_dark_on_each_read():
    reads = RNG.uniform(1000, 5000, size=(10, 4))
    darkmap = np.array([0.01, 2.0, 25.0, -1.0])
    dt = dark.read_dt(np.tile([0.1, 4.5], 5), 0.1)
    np.testing.assert_allclose(dt[:2], [0.1, 4.6])
    per_read = cds.cds(dark.subtract(reads.copy(), darkmap, dt))
    per_cds = dark.subtract(cds.cds(reads), darkmap, dt[1::2] - dt[0::2])
    np.testing.assert_allclose(per_cds, per_read, rtol=1e-12)


def test_cds_refuses_odd_frame_count():
    np.testing.assert_array_equal(cds.cds(np.array([[1.0], [4.0]])), [[3.0]])
    with pytest.raises(DataFormatError, match="even"):
        cds.cds(np.zeros((3, 2)))


def test_flat_invalid_values_are_found_and_never_divided_by():
    f = np.array([1.0, 0.0, np.nan, -0.5, np.inf, 0.6])
    bad = flat.invalid(f, 1e-3)
    assert bad.tolist() == [False, True, True, True, True, False]
    inv = flat.reciprocal(f, bad)
    assert np.all(np.isfinite(inv)) and inv[0] == 1.0 and inv[5] == pytest.approx(1 / 0.6)


def test_cosmic_rays_flagged_without_false_positives():
    frames = RNG.normal(1000.0, 30.0, size=(400, 50))
    hits = [(5, 1), (200, 7), (399, 49), (0, 3)]
    for t, p in hits:
        frames[t, p] += 30.0 * 40
    flagged = cosmic.flag(frames, 20.0)
    assert set(zip(*np.nonzero(flagged), strict=True)) == set(hits)


def test_bin_mean_sum_and_rejected_frames():
    frames = np.arange(12.0).reshape(6, 2)
    binned, empty = binning.bin_frames(frames, None, 3, "mean")
    np.testing.assert_allclose(binned, [[2.0, 3.0], [8.0, 9.0]])
    binned, _ = binning.bin_frames(frames, None, 3, "sum")
    np.testing.assert_allclose(binned, [[6.0, 9.0], [24.0, 27.0]])
    bad = np.zeros_like(frames, dtype=bool)
    bad[1, 0] = True  # value 2 excluded: mean of 0 and 4
    bad[3:, 1] = True  # the whole second bin of pixel 1
    binned, empty = binning.bin_frames(frames, bad, 3, "sum")
    assert binned[0, 0] == pytest.approx(3 * 2.0)
    assert empty.tolist() == [[False, False], [False, True]]
    np.testing.assert_allclose(binning.bin_times(np.arange(12.0), 3, 2), [2.5, 8.5])


def test_background_constant_level_is_recovered():
    cube = np.full((4, 32, 10), 7.0) + RNG.normal(0, 0.1, (4, 32, 10))
    cube[:, 12:20, :] += 1000.0  # trace
    rows = np.zeros(32, dtype=bool)
    rows[:5] = rows[27:] = True
    level = background.over_time(background.airs_level(cube, rows, False), "constant")
    assert level.shape == (4, 1, 1) and np.allclose(level, 7.0, atol=0.05)
    assert np.ptp(level) == 0
    border = background.border_mask((8, 8), 2)
    assert border.sum() == 64 - 16


def test_centroid_and_trace_position_of_known_gaussians():
    yy, xx = np.mgrid[0:24, 0:24]
    img = np.exp(-((xx - 11.3) ** 2 + (yy - 12.6) ** 2) / (2 * 1.3**2))
    x, y = jitter.centroid(img[None])
    assert x[0] == pytest.approx(11.3, abs=1e-6) and y[0] == pytest.approx(12.6, abs=1e-6)
    trace = np.exp(-((np.arange(12)[:, None] - 5.4) ** 2) / (2 * 1.2**2)) * np.ones((1, 30))
    ty, tw = jitter.trace_position(trace[None], 10)
    assert ty[0] == pytest.approx(15.4, abs=1e-3) and tw[0] == pytest.approx(1.2, abs=1e-2)


def test_extraction_uniform_and_optimal_agree_on_noise_free_data():
    profile = np.exp(-((np.arange(12)[:, None] - 6.0) ** 2) / 4.0) * np.ones((1, 5))
    profile /= profile.sum(axis=0)
    totals = np.array([[1e4, 2e4, 3e4, 4e4, 5e4], [2e4, 2e4, 2e4, 2e4, 2e4]])
    cube = totals[:, None, :] * profile[None]
    np.testing.assert_allclose(extract.extract(cube, None), totals)
    w = extract.optimal_weights(cube.mean(axis=0), np.full((12, 5), 10.0))
    np.testing.assert_allclose(extract.extract(cube, w), totals, rtol=1e-12)


def test_point_to_point_error_recovers_white_noise_sigma():
    t = np.linspace(0, 1, 4000)[:, None]
    flux = 1000 + 50 * np.sin(2 * t) + RNG.normal(0, [1.0, 5.0], size=(4000, 2))
    err = extract.point_to_point_error(flux)
    np.testing.assert_allclose(err[0], [1.0, 5.0], rtol=0.06)


def test_config_presets_overrides_and_errors(tmp_path):
    cfg = cfgmod.build_config(
        {
            "steps": {
                "linearity": {"skip": True},
                "bin": {"airs_cds_per_bin": 10, "fgs_cds_per_bin": 120},
            }
        }
    )
    assert not cfg.runs("linearity") and cfg.params("bin").airs_cds_per_bin == 10
    starter = cfgmod.build_config(preset="starter")
    assert starter.params("bin").statistic == "sum" and starter.params("bin").fgs_cds_per_bin == 360
    assert not starter.runs("linearity") and starter.dtype == "float64"
    on = cfgmod.build_config({"steps": {"linearity": {"skip": False}}}, preset="starter")
    assert on.runs("linearity") and on.params("bin").airs_cds_per_bin == 30
    for bad, match in [
        ({"steps": {"nope": {}}}, "unknown step"),
        ({"steps": {"dark": {"dt": 1}}}, "no parameter"),
        ({"steps": {"cds": {"skip": True}}}, "cannot be skipped"),
        ({"steps": {"bin": {"airs_cds_per_bin": 5, "fgs_cds_per_bin": 50}}}, "common time grid"),
        ({"dtype": "float16"}, "dtype"),
        ({"steps": {"cosmic": {"nsigma": "high"}}}, "expected a number"),
    ]:
        with pytest.raises(ConfigError, match=match):
            cfgmod.build_config(bad)
    path = tmp_path / "c.yaml"
    path.write_text("calibrate:\n  steps:\n    crop:\n      fgs_rows: [2, 30]\n")
    cfg = cfgmod.build_config(cfgmod.load_config_file(path))
    assert cfg.params("crop").fgs_rows == (2, 30)
    with pytest.raises(ConfigError, match="not found"):
        cfgmod.load_config_file(tmp_path / "missing.yaml")


def _trace_image(centre_row: float, sigma: float, rows=32, cols=282, level=50.0, noise=3.0):
    r = np.arange(rows)[:, None]
    spectrum = np.linspace(2e4, 5e3, cols)[None, :]
    image = level + spectrum * np.exp(-0.5 * ((r - centre_row) / sigma) ** 2)
    return image + RNG.normal(0, noise, (rows, cols))


@pytest.mark.parametrize("centre", [7.0, 16.0, 24.3])
def test_locate_airs_trace_follows_the_light(centre):
    p = locate.Params()
    geo = locate.airs_geometry(_trace_image(centre, 1.5), 0, (39, 321), p, want_background=True)
    lo, hi = geo.rows
    assert lo <= centre - 4 and hi >= centre + 5 and hi - lo <= 14, geo.rows
    assert geo.centre[1] == pytest.approx(centre, abs=0.05)
    assert len(geo.background_rows) == p.airs_background_max_rows
    assert all(r < lo - 1 or r > hi for r in geo.background_rows)
    assert not geo.problems and geo.source["rows"] == "data"


def test_locate_airs_flags_odd_data_instead_of_crashing():
    p = locate.Params()
    flat_noise = 50.0 + RNG.normal(0, 3.0, (32, 282))
    geo = locate.airs_geometry(flat_noise, 0, (39, 321), p, want_background=True)
    assert geo.rows == (0, 32) and geo.problems and "no significant trace" in geo.problems[0]
    # A trace filling the window: flagged (flux may be lost, the background is uncertain).
    geo = locate.airs_geometry(_trace_image(16.0, 10.0), 0, (39, 321), p, want_background=True)
    assert geo.problems
    geo = locate.airs_geometry(_trace_image(3.0, 1.5), 0, (39, 321), p, want_background=True)
    assert geo.problems == ["trace reaches the edge of the crop window"] and geo.rows[0] == 0
    image = _trace_image(16.0, 1.5)
    image[10:22, 100] = np.nan  # a masked column inside the trace changes nothing
    assert locate.airs_geometry(image, 0, (39, 321), p, True).rows == (
        locate.airs_geometry(_trace_image(16.0, 1.5), 0, (39, 321), p, True).rows
    )


@pytest.mark.parametrize(("cx", "cy"), [(15.5, 15.5), (8.2, 23.7), (25.0, 6.0)])
def test_locate_fgs_psf_centroid_and_aperture(cx, cy):
    ys, xs = np.mgrid[0:32, 0:32]
    psf = 1e5 / (2 * np.pi * 1.3**2) * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * 1.3**2))
    image = 20.0 + psf + RNG.normal(0, 1.0, (32, 32))
    image[int(cy) + 1, int(cx)] = np.nan  # a bad pixel next to the peak
    geo = locate.fgs_geometry(image, (0, 0), locate.Params())
    assert geo.centre == pytest.approx((cx, cy), abs=0.1)
    # Radius enclosing 99.5% of a Gaussian: 3.26 sigma.
    assert geo.radius == pytest.approx(3.26 * 1.3, abs=0.6)
    (r0, r1), (c0, c1) = geo.rows, geo.cols
    assert r0 <= cy - 5 and r1 >= cy + 5 and c0 <= cx - 5 and c1 >= cx + 5
    assert r1 - r0 <= 14 and not geo.problems


def test_locate_fgs_flags_edge_and_missing_psf():
    ys, xs = np.mgrid[0:32, 0:32]
    edge = 1e4 * np.exp(-((xs - 1.0) ** 2 + (ys - 16.0) ** 2) / 2) + RNG.normal(0, 1, (32, 32))
    geo = locate.fgs_geometry(edge, (0, 0), locate.Params())
    assert geo.problems and geo.cols[0] == 0
    geo = locate.fgs_geometry(RNG.normal(0, 1, (32, 32)), (0, 0), locate.Params())
    assert geo.rows == (0, 32) and "no significant PSF" in geo.problems[0]


def test_config_geometry_overrides_are_checked():
    cfg = cfgmod.build_config({"steps": {"extract": {"airs_rows": [8, 20]}}})
    assert cfg.params("extract").airs_rows == (8, 20) and cfg.params("extract").fgs_rows is None
    with pytest.raises(ConfigError, match="locate is skipped"):
        cfgmod.build_config({"steps": {"locate": {"skip": True}}})
    with pytest.raises(ConfigError, match="inside the crop"):
        cfgmod.build_config({"steps": {"extract": {"fgs_rows": [20, 40]}}})


def test_every_registered_step_has_the_one_interface():
    names = [m.NAME for m in REGISTRY]
    assert len(set(names)) == len(names) and cfgmod.step_names() == tuple(names)
    for module in REGISTRY:
        assert dataclasses.is_dataclass(module.Params), module.NAME
        params = module.Params()
        with pytest.raises(dataclasses.FrozenInstanceError):
            params.__setattr__("x", 1)  # frozen: parameters are values, comparable in records
        assert module.PHASES and set(module.PHASES) <= set(Phase), module.NAME
        refs = module.references(params)
        assert isinstance(refs, tuple) and all(isinstance(r, str) for r in refs), module.NAME
        assert len(inspect.signature(module.run).parameters) == 2, module.NAME
    # References name calibration maps (expanded per instrument) or dataset files.
    assert reference_paths(("dark", "adc_info.csv"), 1) == [
        "AIRS-CH0_calibration_1/dark.parquet",
        "FGS1_calibration_1/dark.parquet",
        "adc_info.csv",
    ]
    assert extract.references(extract.Params(weights="optimal")) == ("read",)
    assert extract.references(extract.Params()) == ()


def _frame_block(reads, dtype, **operands):
    p = reads.shape[1]
    n = reads.shape[0] // 2
    rng = np.random.default_rng(5)  # the same operands on every call
    base = dict(
        adc=AdcInfo(offset=-1000.0, gain=0.4369),
        coeffs=np.zeros((6, p)),
        dark=rng.uniform(0, 0.02, p),
        inv_flat=1 / rng.uniform(0.8, 1.2, p),
        cds_dt=np.full(n, 4.5),
        size=5,
        n_saturated=np.zeros(p, dtype=np.int64),
        n_cosmic=np.zeros(p, dtype=np.int64),
    )
    base["coeffs"][1] = 1.0
    base["coeffs"][2] = 1e-7
    base.update(operands)
    base["coeffs"] = base["coeffs"].astype(dtype)
    return FrameBlock(reads=reads, dtype=np.dtype(dtype), **base)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_frame_steps_through_run_equal_the_pure_functions_in_order(dtype):
    """READS then CDS phase of the registry = decode, Horner, CDS, dark on CDS, flat, cosmic
    rays, bin: bit for bit, with the counts of saturated and hit pixel-frames."""
    n_cds, p = 40, 7
    reads = RNG.normal(5000, 30, size=(2 * n_cds, p)).astype(np.uint16)
    reads[1::2] += 2000  # end reads collect charge
    reads[11, 2] = 65535  # one saturated end read (CDS frame 5)
    reads[21, 4] += 20000  # one cosmic ray (CDS frame 10)
    cfg = cfgmod.build_config({"dtype": dtype})
    block = _frame_block(reads, dtype)
    timer = StepTimer()
    got = run_steps(Phase.CDS, run_steps(Phase.READS, block, cfg, timer), cfg, timer)
    assert list(timer.seconds) == ["adc", "linearity", "cds", "dark", "flat", "cosmic", "bin"]

    ref = _frame_block(reads, dtype)
    sat = adc.saturated_pairs(reads, 65535)
    x = linearity.correct(adc.decode(reads, ref.adc.gain, ref.adc.offset, dtype), ref.coeffs)
    frames = flat.apply(dark.subtract(cds.cds(x), ref.dark, ref.cds_dt), ref.inv_flat)
    cp = cosmic.Params()
    hits = cosmic.flag(frames, cp.nsigma, cp.scale_samples, cp.window_cds) & ~sat
    binned, empty = binning.bin_frames(frames, sat | hits, 5, "mean")
    np.testing.assert_array_equal(got.binned, binned)
    np.testing.assert_array_equal(got.empty, empty)
    assert got.n_saturated.tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert got.n_cosmic.tolist() == [0, 0, 0, 0, 1, 0, 0]
    # Skipped steps are not run (and the chain still bins).
    cfg = cfgmod.build_config({"dtype": dtype, "steps": {"cosmic": {"skip": True}}})
    timer = StepTimer()
    block = run_steps(Phase.READS, _frame_block(reads, dtype), cfg, timer)
    run_steps(Phase.CDS, block, cfg, timer)
    assert "cosmic" not in timer.seconds and block.n_cosmic.sum() == 0


def _raw_series(rng, p, n_cds, size):
    """(p, 2 n_cds) uint16 pixel-major reads with saturated pairs and cosmic rays."""
    start = rng.normal(3000, 20, size=(p, n_cds))
    charge = rng.uniform(1000, 20000, size=(p, 1)) + rng.normal(0, 40, size=(p, n_cds))
    raw = np.empty((p, 2 * n_cds))
    raw[:, 0::2], raw[:, 1::2] = start, start + charge
    raw = np.clip(raw, 0, 65535).astype(np.uint16)
    hits = rng.random((p, n_cds)) < 0.01
    raw[:, 1::2][hits] = np.minimum(raw[:, 1::2][hits].astype(int) + 30000, 65535)
    raw[0, 1 : 2 * size : 2] = 65535  # pixel 0: the first bin saturated (empty)
    raw[1, 7] = 65535  # one saturated end read
    return raw


FUSED_CASES = {
    "default": {},
    "sum, short windows": {
        "steps": {"bin": {"statistic": "sum"}, "cosmic": {"window_cds": 50, "scale_samples": 9}}
    },
    "no adc, no linearity": {"steps": {"adc": {"skip": True}, "linearity": {"skip": True}}},
    "no dark, flat, cosmic": {
        "steps": {"dark": {"skip": True}, "flat": {"skip": True}, "cosmic": {"skip": True}}
    },
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(FUSED_CASES))
def test_fused_kernel_equals_the_numpy_steps_bit_for_bit(dtype, case):
    """The compiled pass (engine "fused") and each step's numpy ``run`` (engine "numpy")
    give the same bits: binned values, empty pixel-bins and the rejection counts."""
    from spectramind.calibrate import fused

    cfg = cfgmod.build_config({"dtype": dtype, **FUSED_CASES[case]})
    rng = np.random.default_rng(11)
    p, size, n_bins = 9, 5, 41
    n_cds = size * n_bins
    raw = _raw_series(rng, p, n_cds, size)
    block = _frame_block(raw.T, dtype)
    block.cds_dt = rng.uniform(4.4, 4.6, n_cds)
    binned = np.full((p, n_bins), np.nan)  # pixel-major
    empty = np.zeros((p, n_bins), dtype=bool)
    n_sat = np.zeros(p, dtype=np.int64)
    n_cr = np.zeros(p, dtype=np.int64)
    fused.run(
        raw, n_bins, size, cfg, block.adc, block.coeffs, block.dark, block.cds_dt,
        block.inv_flat, binned, empty, n_sat, n_cr,
    )  # fmt: skip
    timer = StepTimer()
    ref = run_steps(Phase.CDS, run_steps(Phase.READS, block, cfg, timer), cfg, timer)
    np.testing.assert_array_equal(binned.T, ref.binned)
    np.testing.assert_array_equal(empty.T, ref.empty)
    np.testing.assert_array_equal(n_sat, ref.n_saturated)
    np.testing.assert_array_equal(n_cr, ref.n_cosmic)
    if cfg.runs("adc"):
        assert ref.empty[0, 0] and n_sat[0] == size + 0 and n_sat[1] == 1
    if cfg.runs("cosmic"):
        assert n_cr.sum() > 5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_median_is_numpys(dtype):
    from spectramind.calibrate.fused_kernel import _median_inplace

    rng = np.random.default_rng(2)
    for n in (1, 2, 3, 4, 5, 10, 127, 128, 129, 1000):
        for values in (rng.normal(size=n), rng.integers(0, 4, size=n)):  # ties too
            values = values.astype(dtype)
            got = _median_inplace(values.copy(), dtype(0.5))  # boxed to a Python float
            assert got == np.median(values) and dtype(got) == got, (n, values)


def test_fused_kernel_runs_only_the_steps_it_implements():
    from spectramind.calibrate import fused
    from spectramind.calibrate.pipeline import frame_steps

    assert frame_steps(cfgmod.build_config()) == fused.STEPS
    assert fused.supports(frame_steps(cfgmod.build_config(preset="starter")))
    assert fused.supports(("adc", "cds", "bin"))
    assert not fused.supports(("cds", "adc", "bin"))  # another order
    assert not fused.supports(("adc", "persistence", "cds", "bin"))  # a step it does not know


def test_cosmic_windows_split_the_visit_evenly():
    assert cosmic.windows(10, 4096) == [(0, 10)]
    assert cosmic.windows(5625, 4096) == [(0, 5625)]
    parts = cosmic.windows(67500, 4096)
    assert len(parts) == 16 and parts[0][0] == 0 and parts[-1][1] == 67500
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    assert {b - a for a, b in parts} <= {4218, 4219}
