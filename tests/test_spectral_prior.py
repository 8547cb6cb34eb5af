"""The spectral prior (learned from labels) and its posterior, against independent formulas."""

from __future__ import annotations

import numpy as np
import pytest

from spectramind.model.spectral_prior import SpectralPrior, fit_spectral_prior, posterior

W = 283


def _low_rank_labels(rng, n: int, rank: int = 4, residual_ppm: float = 5.0):
    """Spectra [ppm] = level + ``rank`` smooth shapes with random amplitudes + white residual."""
    x = np.linspace(-1, 1, W)
    shapes = np.stack([np.exp(-0.5 * ((x - c) / 0.1) ** 2) for c in np.linspace(-0.6, 0.6, rank)])
    level = rng.normal(15000.0, 8000.0, (n, 1))
    amplitude = rng.normal(0.0, 300.0, (n, rank))
    return level + amplitude @ shapes + residual_ppm * rng.standard_normal((n, W))


def test_prior_keeps_the_directions_the_labels_show_and_an_honest_residual():
    rng = np.random.default_rng(0)
    prior = fit_spectral_prior(_low_rank_labels(rng, 200))
    # level + 4 band shapes: five directions, no more (the rest is the 5 ppm white residual)
    assert prior.n_components == 5
    np.testing.assert_allclose(np.sqrt(np.median(prior.residual_variance)), 5.0, rtol=0.15)
    # new spectra from the same generator are as likely as the prior says: z RMS ~ 1 along the
    # prior's own principal axes (an independent check of mean, directions and variances)
    fresh = _low_rank_labels(rng, 400)
    cov = prior.covariance()
    values, vectors = np.linalg.eigh(cov)
    z = ((fresh - prior.mean) @ vectors) / np.sqrt(values)
    assert 0.9 < np.sqrt(np.mean(z**2)) < 1.1


def test_posterior_matches_the_information_form():
    """m = S (C^-1 mean + N^-1 d), S = (C^-1 + N^-1)^-1: a second, independent formula."""
    rng = np.random.default_rng(1)
    prior = fit_spectral_prior(_low_rank_labels(rng, 120))
    depth = _low_rank_labels(rng, 3)
    variance = rng.uniform(50.0, 200.0, (3, W)) ** 2
    common = np.full((3, W), 80.0) * rng.uniform(0.5, 1.5, (3, 1))
    mean, std = posterior(prior, depth, variance, common)
    c_inv = np.linalg.inv(prior.covariance())
    for i in range(3):
        noise = np.diag(variance[i]) + np.outer(common[i], common[i])
        n_inv = np.linalg.inv(noise)
        cov = np.linalg.inv(c_inv + n_inv)
        expected = cov @ (c_inv @ prior.mean + n_inv @ depth[i])
        np.testing.assert_allclose(mean[i], expected, rtol=0, atol=1e-6 * np.abs(expected).max())
        np.testing.assert_allclose(std[i], np.sqrt(np.diag(cov)), rtol=1e-6)


def test_pooling_beats_the_independent_noise_limit_and_stays_calibrated():
    """On smooth spectra measured with independent noise, the posterior error per channel is
    well below the noise and its sigma still covers it (z RMS ~ 1)."""
    rng = np.random.default_rng(2)
    prior = fit_spectral_prior(_low_rank_labels(rng, 150))
    truth = _low_rank_labels(rng, 60)
    noise_ppm = 120.0
    measured = truth + noise_ppm * rng.standard_normal(truth.shape)
    mean, std = posterior(prior, measured, np.full(truth.shape, noise_ppm**2))
    error_rms = np.sqrt(np.mean((mean - truth) ** 2))
    assert error_rms < 0.3 * noise_ppm  # 5 directions from 283 channels
    z = (mean - truth) / std
    assert 0.85 < np.sqrt(np.mean(z**2)) < 1.15


def test_structure_the_directions_miss_stays_in_the_sigma():
    """Labels with 60 ppm of channel-to-channel structure no direction holds: the prior's
    out-of-fold residual carries it, so the posterior stays calibrated instead of claiming the
    pooled precision of a perfectly low-rank spectrum."""
    rng = np.random.default_rng(5)
    prior = fit_spectral_prior(_low_rank_labels(rng, 150, residual_ppm=60.0))
    truth = _low_rank_labels(rng, 60, residual_ppm=60.0)
    measured = truth + 120.0 * rng.standard_normal(truth.shape)
    mean, std = posterior(prior, measured, np.full(truth.shape, 120.0**2))
    z = (mean - truth) / std
    assert 0.85 < np.sqrt(np.mean(z**2)) < 1.15
    assert np.median(std) > 40.0  # 60 ppm of structure and 120 ppm noise: ~54 ppm


def test_a_common_mode_is_not_averaged_away():
    """An offset shared by all channels cannot be pooled down: the posterior keeps its size."""
    rng = np.random.default_rng(3)
    prior = fit_spectral_prior(_low_rank_labels(rng, 150))
    truth = _low_rank_labels(rng, 200)
    offset = 100.0 * rng.standard_normal((200, 1))
    measured = truth + offset + 50.0 * rng.standard_normal(truth.shape)
    variance = np.full(truth.shape, 50.0**2)
    with_common = posterior(prior, measured, variance, np.full(truth.shape, 100.0))
    without = posterior(prior, measured, variance)
    z_with = (with_common[0] - truth) / with_common[1]
    z_without = (without[0] - truth) / without[1]
    assert 0.85 < np.sqrt(np.mean(z_with**2)) < 1.15
    assert np.sqrt(np.mean(z_without**2)) > 2.0  # ignoring the common mode is overconfident


def test_prior_round_trips_through_plain_lists():
    rng = np.random.default_rng(4)
    prior = fit_spectral_prior(_low_rank_labels(rng, 40))
    again = SpectralPrior.from_dict(prior.to_dict())
    np.testing.assert_array_equal(again.covariance(), prior.covariance())
    np.testing.assert_array_equal(again.mean, prior.mean)


def test_too_few_labels_are_refused():
    with pytest.raises(ValueError, match="at least 3"):
        fit_spectral_prior(np.ones((2, W)))
