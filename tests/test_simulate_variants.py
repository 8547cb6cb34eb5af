"""Simulator variants: each changes one aspect of the written dataset, and only that one.

Every variant is simulated with the same seed as a default dataset; the tests compare the two
datasets file by file (what must change did, what must not is byte-identical), check the
variant's effect in the written files and the truth, and run ``spectramind validate`` on it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spectramind.commands.simulate import VARIANT_NAMES
from spectramind.data import layout, reader
from spectramind.data.layout import AIRS, FGS
from spectramind.errors import ConfigError
from spectramind.simulate import (
    SimulationConfig,
    expected_light_curves,
    planet_truth,
    simulate_dataset,
)
from spectramind.simulate import variants as V

SEED = 11
SCALE = 0.004  # 22 AIRS / 264 FGS CDS frames


def simulate(root: Path, *names: str) -> Path:
    config = SimulationConfig(
        1, 1, seed=SEED, frames_scale=SCALE, second_visit_fraction=0.0, variants=names
    )
    return simulate_dataset(root / "data", config)


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = simulate(tmp_path_factory.mktemp(name), name)
        return cache[name]

    return get


def digests(data: Path) -> dict[str, str]:
    return {
        str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data.rglob("*"))
        if p.is_file()
    }


def changed(default: Path, variant: Path) -> set[str]:
    """Dataset files whose bytes differ (both datasets have the same file names)."""
    a, b = digests(default), digests(variant)
    assert a.keys() == b.keys()
    return {k for k in a if a[k] != b[k]}


def kinds(names: set[str]) -> set[str]:
    """File kinds: 'AIRS-CH0_signal_0.parquet', 'FGS1_calibration_0/dark.parquet', 'train.csv'."""
    return {n.split("/", 2)[2] if n.count("/") >= 2 else n for n in names}


def validate(data: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spectramind", "validate", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def planets(data: Path):
    for split in ("train", "test"):
        for pid in reader.discover_planets(data, split):
            yield split, pid


# --- one test per variant --------------------------------------------------------------------


def test_limb_darkening_variant(default: Path, made) -> None:
    data = made(V.LIMB_DARKENING)
    # Only the signals change: same stars, orbits, spectra, maps.
    assert kinds(changed(default, data)) == {
        "AIRS-CH0_signal_0.parquet",
        "FGS1_signal_0.parquet",
    }
    validate(data)
    box = ((0.0, 0.8), (0.0, 0.4))  # the default simulator's quadratic range
    outside = []
    for split, pid in planets(data):
        truth = planet_truth(data, split, pid)
        assert truth.ld_airs.shape == (AIRS.cols, 4) and truth.ld_fgs.shape == (4,)
        quad = V.quadratic_equivalent(np.vstack([truth.ld_fgs, truth.ld_airs]))
        outside.append(
            np.mean(
                (quad[:, 0] < box[0][0])
                | (quad[:, 0] > box[0][1])
                | (quad[:, 1] < box[1][0])
                | (quad[:, 1] > box[1][1])
            )
        )
        # Intensity stays positive and (up to the projection's ripple) falls to the limb.
        profile = V.nonlinear_profile(np.linspace(0, 1, 101), truth.ld_airs)
        assert profile.min() > 0 and np.diff(profile, axis=1).min() > -2e-3
        # The written transit is not a quadratic-law transit: the best quadratic misses it.
        curves = expected_light_curves(data, split, pid)
        ref = expected_light_curves(default, split, pid)
        assert np.max(np.abs(curves.fgs_transit - ref.fgs_transit)) > 1e-4
    assert max(outside) > 0.5


def test_systematics_variant(default: Path, made) -> None:
    data = made(V.SYSTEMATICS)
    assert kinds(changed(default, data)) == {
        "AIRS-CH0_signal_0.parquet",
        "FGS1_signal_0.parquet",
    }
    validate(data)
    for split, pid in planets(data):
        strong = expected_light_curves(data, split, pid)
        weak = expected_light_curves(default, split, pid)
        truth = planet_truth(data, split, pid)
        vt = truth.visits[0]
        # Ramp: the first frames are darker by the stored amplitude.
        assert vt.ramp is not None and vt.ramp[1] >= V.RAMP_AMPLITUDE_RANGE[0]
        assert vt.airs_drift.shape == (V.DRIFT_TIME_ORDERS, V.DRIFT_WAVELENGTH_ORDERS)
        # Pointing jitter: 2x the default RMS at least, with a steeper (coloured) spectrum.
        assert np.std(vt.jitter_px) > 2 * np.std(
            planet_truth(default, split, pid).visits[0].jitter_px
        )
        # The systematics written into the frames: larger excursions, chromatic in AIRS.
        assert np.ptp(strong.fgs_systematics) > 2 * np.ptp(weak.fgs_systematics)
        airs = strong.airs_systematics[:, layout.AIRS_CROP]
        assert np.ptp(airs[:, 0] - airs[:, -1]) > 1e-4  # blue and red ends drift differently
    # Raw frames: the summed FGS signal of the first CDS frames shows the ramp.
    split, pid = next(planets(data))
    ramp = planet_truth(data, split, pid).visits[0].ramp
    first = expected_light_curves(data, split, pid).fgs_systematics[0]
    assert first < 1 - 0.5 * ramp[1]


def test_wavelengths_variant(default: Path, made) -> None:
    data = made(V.WAVELENGTHS)
    kinds_changed = kinds(changed(default, data))
    assert {"axis_info.parquet", "wavelengths.csv", "train.csv"} <= kinds_changed
    assert "FGS1_signal_0.parquet" not in kinds_changed  # FGS1 is untouched
    assert not any("calibration" in k or "star_info" in k for k in kinds_changed)
    validate(data)
    grid = V.perturbed_airs_wavelengths(SEED)
    # axis_info and wavelengths.csv carry the perturbed grid, consistently.
    axis = reader.read_axis_info(data)
    np.testing.assert_allclose(axis.airs_wavelength_um, grid, rtol=0, atol=1e-12)
    wl = reader.read_wavelengths(data)
    np.testing.assert_allclose(wl[1:], grid[layout.AIRS_CROP][::-1], atol=1e-6)
    closed = layout.target_wavelengths_um()
    assert np.max(np.abs(wl[1:] - closed[1:])) > 0.04  # a fit using the closed form is off
    # The spectra follow the perturbed grid: the variant's labels are the default planet's
    # spectrum evaluated at the new wavelengths, not at the old ones.
    ids, labels = reader.read_labels(data)
    ids0, labels0 = reader.read_labels(default)
    assert list(ids) == list(ids0)
    order = np.argsort(closed[1:])
    resampled = np.interp(wl[1:], closed[1:][order], labels0[0, 1:][order])
    inside = (wl[1:] > closed[1:].min()) & (wl[1:] < closed[1:].max())
    moved = np.max(np.abs(labels[0, 1:] - labels0[0, 1:])[inside])
    assert moved > 1e-6
    assert np.max(np.abs(labels[0, 1:] - resampled)[inside]) < 0.05 * moved


def test_cosmics_variant(default: Path, made) -> None:
    data = made(V.COSMICS)
    assert kinds(changed(default, data)) == {
        "AIRS-CH0_signal_0.parquet",
        "FGS1_signal_0.parquet",
        "AIRS-CH0_calibration_0/dark.parquet",
        "FGS1_calibration_0/dark.parquet",
    }
    validate(data)
    split, pid = next(planets(data))
    for inst in (AIRS, FGS):
        dark = reader.read_calibration(data, split, pid, inst, 0).dark
        dark0 = reader.read_calibration(default, split, pid, inst, 0).dark
        assert np.mean(dark > 0.5) > 3 * np.mean(dark0 > 0.5)  # more hot pixels
        assert dark.max() > 30.0  # and hotter ones
        # Frames: the default noise stream is unchanged, so end reads differ from the default
        # dataset only at hot pixels and at the extra cosmic-ray hits.
        path = layout.signal_path
        raw = reader.read_signal(path(data, split, pid, inst, 0), inst).astype(np.int64)
        raw0 = reader.read_signal(path(default, split, pid, inst, 0), inst).astype(np.int64)
        not_hot = (dark == dark0)[None]
        same_dark = np.broadcast_to(not_hot, raw[0::2].shape)
        # start reads: identical wherever the dark current is (the hits land in end reads)
        np.testing.assert_array_equal(raw[0::2][same_dark], raw0[0::2][same_dark])
        jump = (raw[1::2] - raw0[1::2]) / 0.4369  # e- (ADC gain)
        hits = np.count_nonzero((jump > 150.0) & not_hot)
        n_frames = raw.shape[0] // 2
        rate = 0.3 if inst is AIRS else 0.003
        expected = (V.COSMIC_RATE_FACTOR - 1) * rate * n_frames
        if inst is AIRS:  # enough hits to count (FGS: ~7 expected at this size)
            assert 0.5 * expected < hits < 2.5 * expected


def test_star_info_variant(default: Path, made) -> None:
    data = made(V.STAR_INFO)
    assert changed(default, data) == {"train_star_info.csv", "test_star_info.csv"}
    validate(data)
    for split, pid in planets(data):
        written = reader.read_star_info(data, split)[pid]
        exact = planet_truth(data, split, pid).star
        assert written == reader.read_star_info(data, split)[pid]
        assert reader.read_star_info(default, split)[pid]["Rs"] == exact.Rs
        for key, err in (("Rs", V.STAR_ERR_RS), ("Ms", V.STAR_ERR_MS), ("sma", V.STAR_ERR_SMA)):
            rel = written[key] / getattr(exact, key) - 1
            assert rel != 0 and abs(rel) < 6 * err, key
        assert written["Ts"] != exact.Ts and abs(written["Ts"] - exact.Ts) < 6 * V.STAR_ERR_TS_K
        assert written["i"] <= 90.0 and abs(written["i"] - exact.i) < 6 * V.STAR_ERR_I_DEG


def test_spectra_variant(default: Path, made) -> None:
    data = made(V.SPECTRA)
    # Only what the spectrum reaches: the frames and the labels; maps, stars, axes unchanged
    # (FGS1 frames only where a cloud deck truncates the scattering slope at 0.7 micron).
    differ = kinds(changed(default, data))
    assert {"AIRS-CH0_signal_0.parquet", "train.csv"} <= differ
    assert differ <= {"AIRS-CH0_signal_0.parquet", "FGS1_signal_0.parquet", "train.csv"}
    validate(data)
    for split, pid in planets(data):
        assert planet_truth(data, split, pid).star == planet_truth(default, split, pid).star


def test_spectra_variant_leaves_the_span_a_prior_learns():
    """The default spectra are an exact linear combination of 8 shapes: a prior learned from 40
    planets' labels reproduces 20 more to 0 ppm. The variant's are not (tens of ppm left)."""
    from spectramind.model.spectral_prior import fit_spectral_prior
    from spectramind.simulate.planet import draw_planet

    def held_out_residual_ppm(names: tuple[str, ...]) -> float:
        labels = np.array(
            [draw_planet(SEED, "train", i, 100, 0.0, names).labels for i in range(60)]
        )
        prior = fit_spectral_prior(labels[:40] * 1e6)
        held = labels[40:] * 1e6 - prior.mean
        off_span = held - (held @ prior.components.T) @ prior.components
        return float(np.sqrt(np.mean(off_span**2)))

    assert held_out_residual_ppm(()) < 1e-3
    assert held_out_residual_ppm((V.SPECTRA,)) > 5.0


# --- configuration ------------------------------------------------------------------------------


def test_variants_combine_and_are_named_consistently(tmp_path: Path) -> None:
    assert tuple(VARIANT_NAMES) == V.VARIANTS
    assert V.parse_variants(["star-info", "limb-darkening", "star-info"]) == (
        "limb-darkening",
        "star-info",
    )
    with pytest.raises(ConfigError, match="unknown simulator variant 'jitter'"):
        V.parse_variants(["jitter"])
    with pytest.raises(ConfigError, match="variants"):
        SimulationConfig(1, 0, 1, variants=("star-info", "cosmics")).validate()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spectramind",
            "simulate",
            "--out",
            str(tmp_path / "d"),
            "--variant",
            "nope",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "--variant" in result.stderr
    assert not (tmp_path / "d").exists()
