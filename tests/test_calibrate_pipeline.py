"""Calibration of a small simulated planet: truth recovery, no leaks, the starter preset against
the independent reference, float32 precision, bad input, and the CLI."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spectramind.artifacts.calibrated import read_calibrated_visit, write_calibrated_visit
from spectramind.calibrate import steps
from spectramind.calibrate.config import build_config
from spectramind.calibrate.pipeline import calibrate_visit
from spectramind.calibrate.product import Quality
from spectramind.calibrate.state import Phase, VisitState
from spectramind.errors import ConfigError, DataFormatError
from spectramind.oracles.calibrate_reference import starter_light_curves

SPLIT = "train"
BIN5 = {"bin": {"airs_cds_per_bin": 5, "fgs_cds_per_bin": 60}}


@pytest.fixture(scope="module")
def planet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One train planet at 5% of the real frames (281 AIRS CDS = 56 bins of 24 s)."""
    from spectramind.simulate import SimulationConfig, simulate_dataset

    out = tmp_path_factory.mktemp("calib") / "data"
    simulate_dataset(
        out,
        SimulationConfig(n_train=1, n_test=0, seed=7, frames_scale=0.05, second_visit_fraction=0),
    )
    (pid,) = [int(p.name) for p in (out / SPLIT).iterdir()]
    return out, pid


@pytest.fixture(scope="module")
def default_result(planet):
    return calibrate_visit(*planet_args(planet), cfg=build_config())


def planet_args(planet, visit=0):
    data, pid = planet
    return data, SPLIT, pid, visit


def copy_planet(planet, tmp_path: Path) -> Path:
    data, pid = planet
    dst = tmp_path / "data"
    shutil.copytree(data, dst)
    return dst / SPLIT / str(pid)


def rewrite(path: Path, values: np.ndarray) -> None:
    """Rewrite a parquet table with new values, keeping its column names and types."""
    table = pq.read_table(path)
    arrays = [
        pa.array(values[:, j], type=table.schema.field(j).type) for j in range(values.shape[1])
    ]
    pq.write_table(pa.Table.from_arrays(arrays, names=table.column_names), path)


def read_values(path: Path) -> np.ndarray:
    return np.column_stack([c.to_numpy() for c in pq.read_table(path).columns])


def expected_binned(planet, n_bins: int, size: int) -> np.ndarray:
    from spectramind.simulate import expected_light_curves

    e = expected_light_curves(planet[0], SPLIT, planet[1])
    airs = e.airs_flux_targets[: n_bins * size].reshape(n_bins, size, 282).mean(axis=1)
    fgs = e.fgs_flux[: n_bins * size * 12].reshape(n_bins, size * 12).mean(axis=1)
    return np.column_stack([fgs, airs])


def noise_z(planet, v) -> tuple[np.ndarray, np.ndarray]:
    """(z, sigma): normalised residuals against the truth in units of the expected noise.

    Expected noise per bin: photon noise of the flux + read noise of 2 reads x aperture pixels.
    """
    exp = expected_binned(planet, v.flux.shape[0], 5)
    ratio = v.flux / exp
    resid = ratio / np.median(ratio, axis=0) - 1.0
    geo = next(s for s in v.meta["steps"] if s["name"] == "locate")["geometry"]
    fgs = geo["FGS1"]
    n_fgs = (fgs["rows"][1] - fgs["rows"][0]) * (fgs["cols"][1] - fgs["cols"][0])
    airs = geo["AIRS-CH0"]["rows"]
    n_pix = np.r_[n_fgs, np.full(282, airs[1] - airs[0])]
    frames = np.r_[60, np.full(282, 5)]
    sigma = np.sqrt(exp + n_pix * 2 * 10.0**2) / np.sqrt(frames) / exp
    return resid / sigma, sigma


def test_output_follows_the_contract(default_result):
    v = default_result
    n = v.time_h.shape[0]
    assert n == 56 and v.flux.shape == (n, 283) and v.flux_err.shape == (n, 283)
    assert v.quality.dtype == np.uint16 and v.regressors.shape == (n, 4)
    assert np.all(np.diff(v.time_h) > 0) and v.time_h[0] == pytest.approx(
        (0.15 + 2 * 4.8 - 0.1) / 3600  # mean read time of 5 CDS frames
    )
    assert v.meta["regressor_names"] == [
        "fgs_centroid_x",
        "fgs_centroid_y",
        "airs_trace_y",
        "airs_trace_width",
    ]
    names = [s["name"] for s in v.meta["steps"]]
    assert names[:4] == ["adc", "crop", "mask", "locate"] and names[-1] == "extract"
    assert all(s["status"] == "COMPLETE" for s in v.meta["steps"])
    assert np.all(np.isfinite(v.flux)) and np.all(v.flux_err > 0)
    # Jitter regressors sit where the simulator puts the star: FGS PSF centred on the pixel
    # boundary 16 (= pixel-index coordinate 15.5), AIRS trace rows 15-17.
    assert np.all(np.abs(v.regressors[:, :2] - 15.5) < 0.3)
    assert np.all((v.regressors[:, 2] > 14.5) & (v.regressors[:, 2] < 17.5))


def test_light_curves_recover_the_noise_free_truth(planet, default_result):
    v = default_result
    exp = expected_binned(planet, v.flux.shape[0], 5)
    ratio = v.flux / exp
    # Absolute level: flat-fielded, background-subtracted electrons (the masked-pixel fill and
    # the aperture keep the level within a few percent).
    np.testing.assert_allclose(np.median(ratio, axis=0), 1.0, atol=0.03)
    z, sigma = noise_z(planet, v)
    good = v.quality == 0
    assert good.sum() > 250
    # Per channel scatter consistent with noise (chi2-like) and no outlier bin: any leak of a
    # hot, dead or cosmic-ray pixel would show as a many-sigma excursion.
    rms = np.sqrt(np.mean(z[:, good] ** 2, axis=0))
    assert np.median(rms) < 1.2 and rms.max() < 1.8
    assert np.abs(z[:, good]).max() < 6.0
    # The white light curve follows the truth's transit to its own noise level.
    white = v.flux[:, 1:].sum(axis=1) / exp[:, 1:].sum(axis=1)
    white_sigma = np.sqrt(np.sum((sigma[:, 1:] * exp[:, 1:]) ** 2, axis=1)) / exp[:, 1:].sum(axis=1)
    assert np.std(white / np.median(white) - 1) < 2.0 * white_sigma.mean()
    # flux_err is consistent with the scatter (within a factor allowing jitter/transit slope).
    ratio_err = np.median(v.flux_err[0, 1:] / (sigma[0, 1:] * exp[0, 1:]))
    assert 0.8 < ratio_err < 1.5


def test_injected_hot_dead_and_cosmic_pixels_do_not_leak(planet, default_result, tmp_path):
    pdir = copy_planet(planet, tmp_path)
    col = 160  # detector column 160 -> cropped index 121 -> target column 283 - 121 = output 161
    out_col = 1 + (281 - (col - 39))
    sig_path = pdir / "AIRS-CH0_signal_0.parquet"
    raw = read_values(sig_path).reshape(-1, 32, 356)
    rng = np.random.default_rng(0)
    end_reads = 2 * rng.choice(raw.shape[0] // 2, 12, replace=False) + 1
    raw[end_reads, 16, col] = 65535  # cosmic rays saturating the trace centre
    raw[:, 15, col + 1] = 0  # a new dead pixel, at the trace centre
    raw[1::2, 17, col - 1] = np.minimum(raw[1::2, 17, col - 1].astype(np.int64) + 2000, 65535)
    rewrite(sig_path, raw.reshape(raw.shape[0], -1))
    dead_path = pdir / "AIRS-CH0_calibration_0" / "dead.parquet"
    dead = read_values(dead_path)
    dead[15, col + 1] = True
    rewrite(dead_path, dead)
    dark_path = pdir / "AIRS-CH0_calibration_0" / "dark.parquet"
    darkmap = read_values(dark_path)
    darkmap[17, col - 1] = 20.0  # a hot pixel: the sigma clip must mask it
    rewrite(dark_path, darkmap)

    v = calibrate_visit(pdir.parent.parent, SPLIT, planet[1], 0, build_config())
    base = default_result
    z, _ = noise_z(planet, v)
    z_base, _ = noise_z(planet, base)
    for c in (out_col - 1, out_col, out_col + 1):
        # Against the truth the three columns stay at the noise level: a leaked dead pixel
        # (0), cosmic ray (~1e6 e-) or hot pixel (+4500 e- per read) is 10..1000 sigma.
        assert np.abs(z[:, c]).max() < 5.0, c
        assert np.sqrt(np.mean(z[:, c] ** 2)) < 1.6 * max(1.0, np.sqrt(np.mean(z_base[:, c] ** 2)))
    unchanged = np.ones(283, dtype=bool)
    unchanged[out_col - 1 : out_col + 2] = False
    np.testing.assert_array_equal(v.flux[:, unchanged], base.flux[:, unchanged])


def test_starter_preset_matches_the_independent_reference(planet):
    for linear in (False, True):
        ref = starter_light_curves(
            *planet_args(planet), linearity=linear, airs_binning=5, fgs_binning=60
        )
        steps = {**BIN5, "linearity": {"skip": not linear}}
        v = calibrate_visit(
            *planet_args(planet), cfg=build_config({"steps": steps}, preset="starter")
        )
        assert v.flux.shape == ref.shape == (56, 283)
        np.testing.assert_allclose(v.flux, ref, rtol=1e-12, atol=0)
        # float32 chain: below 1 ppm of the light curve in every bin and channel.
        v32 = calibrate_visit(
            *planet_args(planet),
            cfg=build_config({"dtype": "float32", "steps": steps}, preset="starter"),
        )
        assert np.abs(v32.flux / v.flux - 1).max() < 1e-6


def test_default_float32_is_within_1ppm_of_float64(planet, default_result):
    v64 = calibrate_visit(*planet_args(planet), cfg=build_config({"dtype": "float64"}))
    rel = np.abs(default_result.flux - v64.flux) / np.abs(v64.flux)
    assert rel.max() < 1e-6


def test_zero_and_nan_in_flat(planet, tmp_path):
    pdir = copy_planet(planet, tmp_path)
    path = pdir / "AIRS-CH0_calibration_0" / "flat.parquet"
    values = read_values(path)
    values[16, 200] = 0.0
    rewrite(path, values)
    data = pdir.parent.parent
    v = calibrate_visit(data, SPLIT, planet[1], 0, build_config())
    out_col = 1 + (281 - (200 - 39))
    assert v.quality[out_col] & Quality.FLAT_INVALID and np.all(np.isfinite(v.flux))
    assert np.count_nonzero(v.quality & Quality.FLAT_INVALID) == 1
    with pytest.raises(DataFormatError, match=r"flat\.parquet: expected finite flat values"):
        calibrate_visit(
            data, SPLIT, planet[1], 0, build_config({"steps": {"flat": {"on_invalid": "error"}}})
        )
    values[16, 200] = np.nan
    rewrite(path, values)
    with pytest.raises(DataFormatError, match=r"flat\.parquet: expected finite values"):
        calibrate_visit(data, SPLIT, planet[1], 0, build_config())


def test_all_dead_trace_rows_are_refused(planet, tmp_path):
    pdir = copy_planet(planet, tmp_path)
    path = pdir / "AIRS-CH0_calibration_0" / "dead.parquet"
    dead = read_values(path)
    dead[10:22, :] = True
    rewrite(path, dead)
    fixed = build_config({"steps": {"extract": {"airs_rows": [10, 22]}}})
    with pytest.raises(DataFormatError, match="extraction aperture"):
        calibrate_visit(pdir.parent.parent, SPLIT, planet[1], 0, fixed)
    # Located from the data, the dead rows cannot be the trace: the visit is flagged instead.
    v = calibrate_visit(pdir.parent.parent, SPLIT, planet[1], 0, build_config())
    assert np.all(v.quality[1:] & Quality.GEOMETRY) and not v.quality[0] & Quality.GEOMETRY
    assert np.all(np.isfinite(v.flux))
    dead[:] = False
    dead[16, :] = True  # one whole trace row dead: filled across rows and flagged
    rewrite(path, dead)
    v = calibrate_visit(pdir.parent.parent, SPLIT, planet[1], 0, build_config())
    assert np.all(v.quality[1:] & Quality.ROW_FILLED) and np.all(np.isfinite(v.flux))


def test_saturated_frames_are_rejected_and_flagged(planet, default_result, tmp_path):
    pdir = copy_planet(planet, tmp_path)
    path = pdir / "AIRS-CH0_signal_0.parquet"
    raw = read_values(path)
    raw[1:40:2, :] = 65535  # the first 20 end reads saturated everywhere (4 bins)
    rewrite(path, raw)
    # The default run's geometry, fixed: the comparison below is about the rejected frames.
    geo = next(s for s in default_result.meta["steps"] if s["name"] == "locate")["geometry"]
    airs, fgs = geo["AIRS-CH0"], geo["FGS1"]
    fixed = {
        "extract": {"airs_rows": airs["rows"], "fgs_rows": fgs["rows"], "fgs_cols": fgs["cols"]},
        "background": {"airs_rows": [[r, r + 1] for r in airs["background_rows"]]},
    }
    v = calibrate_visit(pdir.parent.parent, SPLIT, planet[1], 0, build_config({"steps": fixed}))
    assert np.all(v.quality[1:] & Quality.SATURATED)
    assert np.all(v.quality[1:] & Quality.BIN_EMPTY)
    assert np.all(np.isfinite(v.flux))
    # Bins 0..3 had no good AIRS frame: filled in time from bin 4; later bins are unaffected
    # (up to the visit's background median, which now counts the filled bins).
    np.testing.assert_allclose(v.flux[:4, 1:], v.flux[[4], 1:].repeat(4, axis=0))
    np.testing.assert_allclose(v.flux[4:, 1:], default_result.flux[4:, 1:], rtol=1e-4)


def _transit_depth(flux: np.ndarray, in_transit: np.ndarray) -> np.ndarray:
    """(channels,) 1 - mean in-transit / mean out-of-transit flux."""
    return 1.0 - flux[in_transit].mean(axis=0) / flux[~in_transit].mean(axis=0)


def test_a_pixel_saturated_in_many_frames_is_masked_like_a_dead_pixel(
    planet, default_result, tmp_path
):
    # A star bright enough to reach full scale in its trace core out of transit but not in it:
    # rejecting the saturated frames one by one keeps the dim frames of those pixels and makes
    # the transit shallower; masking them for the visit fills them from their good neighbours.
    geo = next(s for s in default_result.meta["steps"] if s["name"] == "locate")["geometry"]
    airs, fgs = geo["AIRS-CH0"], geo["FGS1"]
    fixed = {
        "extract": {"airs_rows": airs["rows"], "fgs_rows": fgs["rows"], "fgs_cols": fgs["cols"]},
        "background": {"airs_rows": [[r, r + 1] for r in airs["background_rows"]]},
    }
    white = default_result.flux[:, 1:].mean(axis=1)
    white = white / np.median(white)
    in_transit = white < 1.0 - 0.5 * (1.0 - white.min())  # (n_bins,) the deeper half
    n_bins = in_transit.size

    pdir = copy_planet(planet, tmp_path / "saturated")
    path = pdir / "AIRS-CH0_signal_0.parquet"
    raw = read_values(path)
    n_cds = raw.shape[0] // 2
    cube = raw.reshape(2 * n_cds, 32, 356)
    frames_in_transit = np.zeros(n_cds, dtype=bool)
    frames_in_transit[: n_bins * (n_cds // n_bins)] = np.repeat(in_transit, n_cds // n_bins)
    cols = np.arange(150, 171)
    core = np.argsort(np.median(cube[1::2][:, :, cols], axis=(0, 2)))[-3:]  # brightest rows
    for row in core:
        end = cube[1::2, row][:, cols]  # (n_cds, 21) end reads
        level = np.median(end[frames_in_transit], axis=0)  # full scale at the in-transit level
        cube[1::2, row, cols] = np.where(end > level, 65535, end)
    rewrite(path, cube.reshape(raw.shape))
    data = pdir.parent.parent
    masked = calibrate_visit(data, SPLIT, planet[1], 0, build_config({"steps": fixed}))
    per_frame = calibrate_visit(
        data, SPLIT, planet[1], 0,
        build_config({"steps": fixed | {"adc": {"mask_saturated_fraction": 1.0}}}),
    )  # fmt: skip

    # The same pixels declared dead (and not saturated) give the same bits.
    dead_dir = copy_planet(planet, tmp_path / "dead")
    dead_path = dead_dir / "AIRS-CH0_calibration_0" / "dead.parquet"
    dead = read_values(dead_path)
    dead[np.ix_(core, cols)] = True
    rewrite(dead_path, dead)
    as_dead = calibrate_visit(
        dead_dir.parent.parent, SPLIT, planet[1], 0, build_config({"steps": fixed})
    )
    np.testing.assert_array_equal(masked.flux, as_dead.flux)
    np.testing.assert_array_equal(masked.flux_err, as_dead.flux_err)
    np.testing.assert_array_equal(masked.quality, as_dead.quality)
    assert not np.any(masked.quality & (Quality.SATURATED | Quality.BIN_EMPTY))

    # Frame-by-frame rejection flags the channels and biases their depth low; the mask does not.
    hit = (per_frame.quality[1:] & Quality.SATURATED) > 0
    assert hit.sum() >= 15
    truth = _transit_depth(default_result.flux[:, 1:], in_transit)[hit]
    bias_per_frame = np.mean(_transit_depth(per_frame.flux[:, 1:], in_transit)[hit] / truth) - 1
    bias_masked = np.mean(_transit_depth(masked.flux[:, 1:], in_transit)[hit] / truth) - 1
    assert bias_per_frame < -0.04
    assert abs(bias_masked) < 0.5 * abs(bias_per_frame)


def test_the_trace_is_located_when_its_core_is_at_full_scale(planet, default_result, tmp_path):
    # A star so bright that the trace core reads full scale in most frames: those pixels are
    # the brightest, not empty (before: NaN, and the trace "reached the edge of the window").
    pdir = copy_planet(planet, tmp_path)
    path = pdir / "AIRS-CH0_signal_0.parquet"
    raw = read_values(path)
    start, end = raw[0::2].astype(np.float64), raw[1::2].astype(np.float64)
    # The same star k times brighter, through an ADC that clips at full scale: k puts the
    # brightest pixel's median ramp at twice full scale.
    k = 2.0 * (65535 - np.median(start)) / np.max(np.median(end - start, axis=0))
    bright = np.clip(start + k * (end - start), 0, 65535)
    raw[1::2] = np.floor(bright).astype(raw.dtype)
    core = np.median(raw[1::2], axis=0) >= 65535
    assert core.sum() >= 20  # (the trace core of many columns)
    rewrite(path, raw)
    v = calibrate_visit(pdir.parent.parent, SPLIT, planet[1], 0, build_config())
    located = next(s for s in v.meta["steps"] if s["name"] == "locate")["geometry"]["AIRS-CH0"]
    default = next(s for s in default_result.meta["steps"] if s["name"] == "locate")["geometry"]
    assert located["problems"] == []
    assert located["rows"] == default["AIRS-CH0"]["rows"]
    assert not np.any(v.quality & Quality.GEOMETRY)


def test_odd_frame_count_and_missing_calibration_file(planet, tmp_path):
    pdir = copy_planet(planet, tmp_path)
    data = pdir.parent.parent
    (pdir / "FGS1_calibration_0" / "linear_corr.parquet").unlink()
    missing = r"linear_corr\.parquet \(planet \d+\): file not found"  # names file and planet
    with pytest.raises(DataFormatError, match=missing):
        calibrate_visit(data, SPLIT, planet[1], 0, build_config())
    shutil.copy(
        planet[0] / SPLIT / str(planet[1]) / "FGS1_calibration_0" / "linear_corr.parquet",
        pdir / "FGS1_calibration_0" / "linear_corr.parquet",
    )
    path = pdir / "AIRS-CH0_signal_0.parquet"
    rewrite(path, read_values(path)[:-1])
    with pytest.raises(DataFormatError, match="even, non-zero number of frames"):
        calibrate_visit(data, SPLIT, planet[1], 0, build_config())


def test_cli_writes_byte_identical_files_and_reports_errors(planet, tmp_path):
    data, pid = planet
    cmd = [
        sys.executable,
        "-m",
        "spectramind",
        "calibrate",
        "--data-dir",
        str(data),
        "--split",
        SPLIT,
    ]
    outs = []
    for name in ("a.npz", "b.npz"):
        run = subprocess.run(
            [*cmd, "--planet", str(pid), "--out", str(tmp_path / name)],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    v = read_calibrated_visit(tmp_path / "a.npz")
    assert v.meta["planet_id"] == pid and v.meta["split"] == SPLIT and v.meta["visit"] == 0
    cfg = tmp_path / "c.yaml"
    cfg.write_text("steps:\n  linearity:\n    skip: true\n")
    run = subprocess.run(
        [*cmd, "--planet", str(pid), "--out-dir", str(tmp_path / "many"), "--config", str(cfg)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "calibrated 1/1" in run.stderr
    v = read_calibrated_visit(tmp_path / "many" / f"{pid}_0.npz")
    status = {s["name"]: s["status"] for s in v.meta["steps"]}
    assert status["linearity"] == "SKIPPED" and status["dark"] == "COMPLETE"
    run = subprocess.run(
        [*cmd, "--planet", "12345", "--out", str(tmp_path / "x.npz")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "unknown planet id 12345" in run.stderr
    assert not (tmp_path / "x.npz").exists()


def test_shifted_trace_and_psf_are_located_and_recover_the_truth(planet, default_result, tmp_path):
    """The light falls elsewhere on the detectors than in our simulator (AIRS trace 6 rows up,
    FGS PSF moved by (+7, -6) px): the frames and every calibration map are shifted together,
    so the truth is unchanged and the chain must find the light and recover it to noise."""
    pdir = copy_planet(planet, tmp_path)
    shifts = {"AIRS-CH0": (32, 356, (-6, 0)), "FGS1": (32, 32, (-6, 7))}
    for inst, (rows, cols, (dy, dx)) in shifts.items():
        sig = pdir / f"{inst}_signal_0.parquet"
        raw = read_values(sig).reshape(-1, rows, cols)
        rewrite(sig, np.roll(raw, (dy, dx), axis=(1, 2)).reshape(raw.shape[0], -1))
        for name in ("dark", "dead", "flat", "read", "linear_corr"):
            path = pdir / f"{inst}_calibration_0" / f"{name}.parquet"
            values = read_values(path)
            values = values.reshape(-1, rows, cols)
            rewrite(path, np.roll(values, (dy, dx), axis=(1, 2)).reshape(-1, cols))
    v = calibrate_visit(pdir.parent.parent, SPLIT, planet[1], 0, build_config())
    geo = next(s for s in v.meta["steps"] if s["name"] == "locate")["geometry"]
    base = next(s for s in default_result.meta["steps"] if s["name"] == "locate")["geometry"]
    assert geo["AIRS-CH0"]["rows"] == [r - 6 for r in base["AIRS-CH0"]["rows"]]
    assert geo["AIRS-CH0"]["source"] == {"rows": "data", "background_rows": "data"}
    assert not set(geo["AIRS-CH0"]["background_rows"]) & set(range(*geo["AIRS-CH0"]["rows"]))
    assert geo["FGS1"]["rows"] == [r - 6 for r in base["FGS1"]["rows"]]
    assert geo["FGS1"]["cols"] == [c + 7 for c in base["FGS1"]["cols"]]
    assert not geo["AIRS-CH0"]["problems"] and not geo["FGS1"]["problems"], geo
    assert np.all((v.quality & Quality.GEOMETRY) == 0)
    # Jitter regressors follow the light, in detector pixels.
    np.testing.assert_allclose(v.regressors[:, 0], default_result.regressors[:, 0] + 7, atol=0.05)
    np.testing.assert_allclose(v.regressors[:, 1], default_result.regressors[:, 1] - 6, atol=0.05)
    np.testing.assert_allclose(v.regressors[:, 2], default_result.regressors[:, 2] - 6, atol=0.05)
    # The same truth to within the noise, as the unshifted planet.
    z, _ = noise_z(planet, v)
    good = v.quality == 0
    assert good.sum() > 250
    rms = np.sqrt(np.mean(z[:, good] ** 2, axis=0))
    assert np.median(rms) < 1.2 and rms.max() < 1.8 and np.abs(z[:, good]).max() < 6.0
    np.testing.assert_allclose(np.median(v.flux / default_result.flux, axis=0), 1.0, atol=2e-3)
    # The old fixed geometry (trace rows 10:22, FGS 9:23) would miss much of the light.
    fixed = build_config(
        {"steps": {"extract": {"airs_rows": [10, 22], "fgs_rows": [9, 23], "fgs_cols": [9, 23]}}}
    )
    w = calibrate_visit(pdir.parent.parent, SPLIT, planet[1], 0, fixed)
    assert np.median(w.flux[:, 0] / v.flux[:, 0]) < 0.9


@dataclasses.dataclass(frozen=True)
class _ScaleParams:
    factor: float = 2.0  # multiplies the AIRS images [dimensionless]


def _scale_run(state: VisitState, params: _ScaleParams) -> VisitState:
    state.binned["AIRS-CH0"].cube[...] *= params.factor
    return state


def test_a_new_step_is_configured_run_skipped_and_recorded_from_its_registry_entry(
    planet, default_result, monkeypatch
):
    """A step is one module listed in REGISTRY: config, skipping and records follow from it."""
    scale = types.SimpleNamespace(
        NAME="scale",
        Params=_ScaleParams,
        PHASES=(Phase.IMAGES,),
        references=lambda params: ("flat",),
        run=_scale_run,
    )
    monkeypatch.setattr(steps, "REGISTRY", (*steps.REGISTRY[:-1], scale, steps.REGISTRY[-1]))
    v = calibrate_visit(*planet_args(planet), cfg=build_config({"steps": {"scale": {}}}))
    np.testing.assert_array_equal(v.flux[:, 1:], 2.0 * default_result.flux[:, 1:])
    np.testing.assert_array_equal(v.flux[:, 0], default_result.flux[:, 0])
    record = [s for s in v.meta["steps"] if s["name"] == "scale"]
    assert record == [
        {
            "name": "scale",
            "status": "COMPLETE",
            "params": {"factor": 2.0},
            "reference_files": [
                "AIRS-CH0_calibration_0/flat.parquet",
                "FGS1_calibration_0/flat.parquet",
            ],
        }
    ]
    assert [s["name"] for s in v.meta["steps"]][-2:] == ["scale", "extract"]
    skipped = calibrate_visit(
        *planet_args(planet), cfg=build_config({"steps": {"scale": {"skip": True, "factor": 3}}})
    )
    np.testing.assert_array_equal(skipped.flux, default_result.flux)
    (record,) = [s for s in skipped.meta["steps"] if s["name"] == "scale"]
    assert record["status"] == "SKIPPED" and record["reference_files"] == []
    with pytest.raises(ConfigError, match="no parameter 'gain'"):
        build_config({"steps": {"scale": {"gain": 1}}})


def test_fused_and_numpy_engines_give_the_same_bytes(planet, default_result, tmp_path):
    """The compiled frame pass is an implementation detail: each step's numpy ``run`` gives the
    same file, for the default chain and the starter preset (float64, sum-binning)."""
    numpy_engine = calibrate_visit(*planet_args(planet), cfg=build_config(), engine="numpy")
    write_calibrated_visit(tmp_path / "fused.npz", default_result)
    write_calibrated_visit(tmp_path / "numpy.npz", numpy_engine)
    assert (tmp_path / "fused.npz").read_bytes() == (tmp_path / "numpy.npz").read_bytes()
    starter = build_config({"steps": {**BIN5, "linearity": {"skip": False}}}, preset="starter")
    a = calibrate_visit(*planet_args(planet), cfg=starter, engine="fused")
    b = calibrate_visit(*planet_args(planet), cfg=starter, engine="numpy")
    np.testing.assert_array_equal(a.flux, b.flux)


def test_calibrated_bytes_do_not_depend_on_cpu_features_or_threads(planet, tmp_path):
    """Another CPU, emulated: numpy without AVX2/AVX-512/FMA3, the kernel compiled for a
    generic x86-64 (no cached machine code reused), one thread for Arrow; the file is the
    same bytes as on this machine with its defaults."""
    data, pid = planet
    cmd = [sys.executable, "-m", "spectramind", "calibrate", "--data-dir", str(data)]
    cmd += ["--split", SPLIT, "--planet", str(pid)]
    emulated = {
        **os.environ,
        "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_SKX AVX2 FMA3",
        "NUMBA_CPU_NAME": "generic",
        "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
        "OMP_NUM_THREADS": "1",
    }
    for name, env in (("host", None), ("emulated", emulated)):
        run = subprocess.run(
            [*cmd, "--out", str(tmp_path / f"{name}.npz")], capture_output=True, text=True, env=env
        )
        assert run.returncode == 0, run.stderr
    assert (tmp_path / "host.npz").read_bytes() == (tmp_path / "emulated.npz").read_bytes()
