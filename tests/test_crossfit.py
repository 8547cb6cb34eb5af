"""Cross-fitting: folds, out-of-fold noise calibration, prior posterior, checkpoint."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spectramind import metric
from spectramind.artifacts.checkpoint import read_checkpoint
from spectramind.model.config import TrainConfig
from spectramind.model.crossfit import (
    CROSSFIT_FORMAT,
    assign_folds,
    fit_noise_scales,
    scaled_noise,
    train_model,
)
from spectramind.model.data import DEPTH_UNIT, feature_files_in, load_planets
from spectramind.model.predict import predict
from spectramind.model.train import save_checkpoint
from spectramind.oracles.synthetic_fits import write_synthetic_set

FAST = {"device": "cpu", "max_epochs": 150, "patience": 30}


def _table(syn, labels=True):
    return load_planets(
        feature_files_in(syn.features_dir), syn.star_info_csv, syn.labels_csv if labels else None
    )


def test_folds_depend_on_seed_and_ids_only_and_are_balanced():
    ids = np.arange(1000, 1103)
    folds = assign_folds(ids, 5, seed=3)
    assert np.bincount(folds).tolist() == [21, 21, 21, 20, 20]
    shuffled = np.random.default_rng(0).permutation(ids)
    again = assign_folds(shuffled, 5, seed=3)
    assert dict(zip(shuffled.tolist(), again.tolist(), strict=True)) == dict(
        zip(ids.tolist(), folds.tolist(), strict=True)
    )
    assert not np.array_equal(assign_folds(ids, 5, seed=4), folds)


def _draws(n: int = 300, width: int = 283, seed: int = 0):
    """Claimed independent variance and common mode, and depths [ppm] of n planets."""
    rng = np.random.default_rng(seed)
    independent = rng.uniform(80.0, 160.0, (n, width)) ** 2
    common = np.full((n, width), 60.0) * rng.uniform(0.5, 2.0, (n, 1))
    depth = rng.uniform(1e3, 4e4, (n, 1)) * rng.uniform(0.95, 1.05, (n, width))
    return rng, independent, common, depth


def test_noise_scales_recover_the_true_independent_and_common_errors():
    """Residuals drawn with 1.5x the independent and 0.5x the common noise the model claims,
    and no error proportional to the depth."""
    rng, independent, common, depth = _draws()
    n, width = independent.shape
    truth = {"independent_fgs": 1.5, "independent_airs": 1.5, "common_fgs": 0.5, "common_airs": 0.5}
    residual = 1.5 * np.sqrt(independent) * rng.standard_normal((n, width))
    residual += 0.5 * common * rng.standard_normal((n, 1))
    scales = fit_noise_scales(residual, independent, common, depth)
    assert scales["independent_airs"] == pytest.approx(1.5, rel=0.02)
    assert scales["common_airs"] == pytest.approx(0.5, rel=0.15)
    assert scales["independent_fgs"] == pytest.approx(1.5, rel=0.2)  # one value per planet
    assert scales["common_relative"] < 1e-3  # 1e-3 x 4e4 ppm = 40 ppm, below the 30-120 ppm
    assert set(scales) == set(truth) | {"common_relative", "common_geometry"}


def test_a_shared_error_proportional_to_the_depth_is_found_and_widens_deep_planets_only():
    """A 1% error shared by all wavelengths (a wrong transit shape scales every depth alike):
    the fitted relative scale recovers it, and the sigmas grow on deep planets, not shallow."""
    rng, independent, common, depth = _draws(seed=1)
    n, width = independent.shape
    residual = np.sqrt(independent) * rng.standard_normal((n, width))
    residual += common * rng.standard_normal((n, 1))
    residual += 0.01 * depth * rng.standard_normal((n, 1))
    scales = fit_noise_scales(residual, independent, common, depth)
    assert scales["common_relative"] == pytest.approx(0.01, rel=0.2)
    _, shared = scaled_noise(independent, common, scales, depth)
    deep, shallow = np.argmax(depth[:, 0]), np.argmin(depth[:, 0])
    assert shared[deep, 0] > 3 * scales["common_airs"] * common[deep, 0]
    assert shared[shallow, 0] < 1.5 * scales["common_airs"] * common[shallow, 0]


def test_a_shared_error_that_grows_with_the_geometry_error_is_found_and_follows_it():
    """A shared error of 0.8 % x (the planet's relative a/Rs error / the median planet's): the
    fitted geometry scale recovers 0.8 %, the flat relative scale stays small, and the
    planets whose geometry is poorly measured get the wide sigmas (z RMS ~1 in each half)."""
    rng, independent, common, depth = _draws(seed=3)
    n, width = independent.shape
    geometry = np.exp(rng.normal(0.0, 0.7, n))  # relative a/Rs error / train median
    shared = 0.008 * geometry[:, None] * depth.mean(axis=1, keepdims=True)
    residual = np.sqrt(independent) * rng.standard_normal((n, width))
    residual += common * rng.standard_normal((n, 1)) + shared * rng.standard_normal((n, 1))
    scales = fit_noise_scales(residual, independent, common, depth, geometry)
    assert scales["common_geometry"] == pytest.approx(0.008, rel=0.2)
    assert scales["common_relative"] < 0.003

    def level_z(variance, vector):
        """Each planet's residual mean over wavelength against the model's sigma of it."""
        level_sd = np.sqrt(variance.mean(axis=1) / width + vector.mean(axis=1) ** 2)
        return residual.mean(axis=1) / level_sd

    z = level_z(*scaled_noise(independent, common, scales, depth, geometry))
    poor = geometry > np.median(geometry)
    for rows in (poor, ~poor):
        assert 0.8 < np.sqrt(np.mean(z[rows] ** 2)) < 1.25
    # Without the geometry errors the same residuals leave the poorly measured planets'
    # levels with too small a sigma.
    flat = fit_noise_scales(residual, independent, common, depth)
    assert flat["common_geometry"] < 1e-5
    z = level_z(*scaled_noise(independent, common, flat, depth))
    assert np.sqrt(np.mean(z[geometry > np.percentile(geometry, 80)] ** 2)) > 1.3


def test_relative_geometry_error_reads_the_fit_and_marks_a_fit_without_geometry():
    from spectramind.model.crossfit import (
        GeometryReference,
        geometry_units,
        relative_geometry_error,
    )
    from spectramind.model.data import PlanetTable

    inputs = np.array([[0.1, 10.0, 7.0], [0.3, 12.0, 7.0], [0.0, 0.0, 7.0], [0.2, 8.0, 7.0]])
    table = PlanetTable(
        planet_id=np.arange(4),
        depth=np.ones((4, 283)),
        depth_err=np.ones((4, 283)),
        inputs=inputs,
        input_names=["a_over_rs_err", "a_over_rs", "star_Ts"],
        labels=None,
        data_sha256={},
    )
    relative = relative_geometry_error(table)
    np.testing.assert_allclose(relative[[0, 1, 3]], [0.01, 0.025, 0.025])
    assert np.isnan(relative[2])  # a whole-visit fallback measured no geometry
    reference = GeometryReference.from_train(relative)
    assert (reference.median, reference.largest) == pytest.approx((0.025, 0.025))
    # the planet without geometry gets the least-known geometry seen, not none
    np.testing.assert_allclose(geometry_units(relative, reference), [0.4, 1.0, 1.0, 1.0])
    # fits without the features: every planet NaN, and the term is inert (units 0)
    bare = dataclasses.replace(table, input_names=["f0", "f1", "f2"])
    relative = relative_geometry_error(bare)
    assert np.isnan(relative).all()
    assert not geometry_units(relative, GeometryReference.from_train(relative)).any()


def test_a_depth_proportional_common_mode_does_not_bias_the_posterior_level():
    """Nearly flat spectra (features 0.2 % of the level, as on the ExoSim row) measured without
    bias, with 500 ppm of noise per channel and a 1.3 % depth-proportional shared error, both
    in the noise model. The shared error's direction comes from the depth level: built from
    the noisy depths channel by channel it carries their noise, the posterior discounts the
    measurement's own direction and reads the level from the noise (every planet ~5 % too
    shallow)."""
    from spectramind.model.crossfit import combine
    from spectramind.model.spectral_prior import fit_spectral_prior

    rng = np.random.default_rng(7)
    width = 283
    x = np.linspace(-1.0, 1.0, width)
    shapes = np.stack([x, np.exp(-0.5 * ((x - 0.3) / 0.1) ** 2), np.cos(3 * x)])

    def spectra(n):
        level = rng.uniform(4e3, 2.8e4, (n, 1))
        return level * (1.0 + rng.normal(0.0, 0.002, (n, 3)) @ shapes)

    prior = fit_spectral_prior(spectra(40))
    truth = spectra(60)
    independent = np.full(truth.shape, 500.0**2)
    shared_error = 0.013 * truth.mean(axis=1, keepdims=True) * rng.standard_normal((60, 1))
    measured = truth + shared_error + np.sqrt(independent) * rng.standard_normal(truth.shape)
    scales = {
        "independent_fgs": 1.0,
        "independent_airs": 1.0,
        "common_fgs": 0.0,
        "common_airs": 0.0,
        "common_relative": 0.013,
    }
    variance, shared = scaled_noise(independent, np.zeros_like(truth), scales, measured)
    mean, sd = combine(prior, measured, variance, shared)
    ratio = mean.mean(axis=1) / truth.mean(axis=1)
    assert abs(np.median(ratio) - 1.0) < 0.01, np.median(ratio)
    z = (mean - truth) / sd
    assert 0.8 < np.sqrt(np.mean(z**2)) < 1.25


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("crossfit")
    return write_synthetic_set(root / "train", 80, seed=1), write_synthetic_set(
        root / "test", 60, seed=2, first_id=5000
    )


def test_prior_posterior_beats_one_model_and_stays_calibrated(sets, tmp_path):
    """Spectra of a few smooth shapes: pooling the channels through the prior learned from the
    labels must beat the per-channel model clearly, with sigmas calibrated out of fold."""
    train_set, test_set = sets
    table, test = _table(train_set), _table(test_set, labels=False)
    naive = metric.NaiveReference.from_labels(train_set.truth)
    scores = {}
    for name, cfg in (
        ("single", TrainConfig(n_folds=1, **FAST)),
        ("crossfit", TrainConfig(**FAST)),
    ):
        checkpoint = train_model(cfg, table)
        path = tmp_path / f"{name}.pt"
        save_checkpoint(checkpoint, path)
        mu, sigma = predict(read_checkpoint(path), test)  # weights_only round trip
        scores[name] = metric.score_arrays(test_set.truth, mu, sigma, naive)
    assert checkpoint["format"] == CROSSFIT_FORMAT
    assert scores["crossfit"].score > scores["single"].score + 0.1, scores
    assert 0.8 < scores["crossfit"].z_rms < 1.25
    # the synthetic noise is independent per channel: the fitted common mode stays small
    noise = checkpoint["noise_scale"]
    assert noise["common_airs"] < 0.5 * noise["independent_airs"]
    assert checkpoint["holdout_diagnostics"]["score"] > scores["single"].score


def test_holdout_predictions_are_out_of_fold(sets):
    """Each train planet's hold-out prediction comes from the member that never saw it (its
    label cannot leak), every planet exactly once, and differs from the ensemble's."""
    train_set, _ = sets
    table = _table(train_set)
    checkpoint = train_model(TrainConfig(**FAST), table)
    mu, sigma = predict(checkpoint, table, planets="holdout")
    ensemble, _ = predict(checkpoint, table)
    assert mu.shape == sigma.shape == (80, 283)
    assert not np.allclose(mu, ensemble, rtol=0, atol=1e-9)
    # OOF z-scores are calibrated by construction (one scale per instrument)
    z = (train_set.truth - mu) / sigma
    assert 0.9 < np.sqrt(np.mean(z[:, 1:] ** 2)) < 1.1
    held = [set(table.planet_id.tolist()) - set(seen) for seen in checkpoint["member_train_ids"]]
    assert sorted(p for h in held for p in h) == sorted(table.planet_id.tolist())
    assert np.all(mu >= 0) and np.all(np.isfinite(sigma)) and DEPTH_UNIT == 1e6


def test_the_spectral_prior_is_kept_only_where_it_raises_the_out_of_fold_score(tmp_path):
    """Spectra made of shared shapes: the prior pools the channels and is kept. Spectra with
    bands of their own, which a prior learned from the other planets' labels cannot span: it
    shrinks them and is dropped, and the checkpoint predicts as one trained without a prior."""
    shared = _table(write_synthetic_set(tmp_path / "shared", 20, seed=1))
    own_set = write_synthetic_set(tmp_path / "own", 20, seed=1, own_bands=6, own_band_depth=3e-3)
    own = _table(own_set)
    kept = train_model(TrainConfig(**FAST), shared)["holdout_diagnostics"]
    assert kept["prior_used"]
    assert kept["score_with_prior"] > kept["score_without_prior"] + 0.05, kept
    checkpoint = train_model(TrainConfig(**FAST), own)
    dropped = checkpoint["holdout_diagnostics"]
    assert not dropped["prior_used"]
    assert dropped["score_without_prior"] > dropped["score_with_prior"] + 0.01, dropped
    assert dropped["score"] == dropped["score_without_prior"]
    assert checkpoint["prior"] is None and checkpoint["member_priors"] == [None] * 5
    without = train_model(TrainConfig(spectral_prior=False, **FAST), own)
    assert not without["holdout_diagnostics"]["prior_used"]
    for a, b in zip(predict(checkpoint, own), predict(without, own), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_without_the_geometry_term_predicts_as_if_it_were_zero(sets):
    """Checkpoints written before the geometry term (no ``geometry_reference``) still predict,
    exactly as a new checkpoint whose fitted geometry scale is 0."""
    import copy

    train_set, test_set = sets

    def with_geometry(table):
        # the first two synthetic features become a/Rs 10 with a relative error of 0.3 % and up
        inputs = table.inputs.copy()
        inputs[:, 0] = 0.03 * (1.0 + np.abs(inputs[:, 0]))
        inputs[:, 1] = 10.0
        names = ["a_over_rs_err", "a_over_rs", *table.input_names[2:]]
        return dataclasses.replace(table, inputs=inputs, input_names=names)

    table = with_geometry(_table(train_set))
    test = with_geometry(_table(test_set, labels=False))
    checkpoint = train_model(TrainConfig(**FAST), table)
    reference = checkpoint["geometry_reference"]
    assert reference["median"] > 0 and reference["largest"] >= reference["median"]
    zero = copy.deepcopy(checkpoint)
    zero["noise_scale"]["common_geometry"] = 0.0
    old = copy.deepcopy(zero)
    del old["geometry_reference"], old["noise_scale"]["common_geometry"]
    for planets, rows in (("all", test), ("holdout", table)):
        expected = predict(zero, rows, planets=planets)
        for got, want in zip(predict(old, rows, planets=planets), expected, strict=True):
            np.testing.assert_array_equal(got, want)
