"""Cross-fitting: K torch members, the spectral-prior posterior, sigmas calibrated out of fold.

The train planets are dealt into K folds (by a seeded hash of the planet id). Member k is the
ordinary :func:`~spectramind.model.train.train` on the other K - 1 folds (with its own
early-stopping hold-out), and with the spectral prior learned from their labels
(:mod:`.spectral_prior`) it predicts fold k, which it never saw. Those out-of-fold predictions
of every train planet give one sigma scale per instrument (FGS1, AIRS): the RMS z-score of the
labels, the maximum-likelihood scale. The test prediction averages the K members, combines the
average with the prior learned from all labels, and applies the scales. The prior is used only
where the out-of-fold score with it beats the score without it (the members' own noise model,
scaled the same way): a Gaussian prior whose directions miss features of the spectra shrinks
those features and biases the depths (found on the ExoSim row of the robustness matrix).

Each member's output is split by noise structure (:meth:`SpectralCorrector.noise_parts`):
independent per-wavelength noise and a common mode shared by all wavelengths, so the
posterior does not average away an offset that every channel shares. The out-of-fold noise
model adds to the common mode a shared error proportional to the depth level, whose relative
size grows with the physics fit's own relative a/Rs error (:func:`scaled_noise`): a planet
whose transit shape is poorly measured has a poorly measured level, and one sigma scale for
all planets would give it the quiet planets' sigma (the ExoSim row's heavy-tailed level errors).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from spectramind import metric
from spectramind.artifacts.checkpoint import CROSSFIT_FORMAT
from spectramind.errors import DataFormatError
from spectramind.model.config import TrainConfig
from spectramind.model.data import DEPTH_UNIT, PlanetTable
from spectramind.model.spectral_prior import SpectralPrior, fit_spectral_prior, posterior

log = logging.getLogger(__name__)

MIN_CROSSFIT_PLANETS = 4
# Smallest independent error of a member's prediction, as a fraction of the physics depth_err.
MIN_ERROR_FRACTION = 0.1


def assign_folds(planet_ids: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold (0..n_folds-1) of each planet: ranks of SHA-256("fold:<seed>:<id>") dealt in turn.

    Depends only on the seed and the set of ids, not on their order.
    """
    ids = [int(p) for p in planet_ids]
    keys = [hashlib.sha256(f"fold:{int(seed)}:{p}".encode()).digest() for p in ids]
    order = sorted(range(len(ids)), key=lambda i: keys[i])
    folds = np.empty(len(ids), dtype=np.int64)
    folds[order] = np.arange(len(ids)) % n_folds
    return folds


@torch.no_grad()
def member_parts(member: dict, table: PlanetTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mu, independent variance, common-mode vector (n, W) [ppm, ppm^2, ppm] of one member."""
    from spectramind.model.predict import model_from_checkpoint

    model = model_from_checkpoint(member)

    def as_tensor(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32)

    # One planet per forward pass (as spectramind.model.predict): a planet's prediction must
    # not depend on which planets are predicted with it.
    rows = [
        model.noise_parts(
            as_tensor(table.inputs[i : i + 1]),  # (1, F + 8)
            as_tensor(table.depth[i : i + 1]),  # (1, W) [ppm]
            as_tensor(table.depth_err[i : i + 1]),  # (1, W) [ppm]
        )
        for i in range(len(table.planet_id))
    ]
    mu, independent, common = (
        torch.cat([row[k] for row in rows]).double().numpy() for k in range(3)
    )  # (n, W) each
    # A planet unlike the training set (a fallback fit, say) can drive the per-planet sigma
    # factor towards zero; no correction makes a depth ten times surer than its measurement.
    independent = np.maximum(independent, (MIN_ERROR_FRACTION * table.depth_err) ** 2)
    return mu, independent, common


NOISE_SCALE_NAMES = (
    "independent_fgs",
    "independent_airs",
    "common_fgs",
    "common_airs",
    "common_relative",
    "common_geometry",
)
# Lower bound of the relative common-mode errors (log scale); 0 in effect.
_MIN_LOG_RELATIVE = -12.0
# The physics features whose ratio is a planet's geometry error (relative a/Rs error).
GEOMETRY_ERROR_INPUTS = ("a_over_rs_err", "a_over_rs")


def relative_geometry_error(table: PlanetTable) -> np.ndarray:
    """(n,) the physics fit's relative a/Rs error, a_over_rs_err / a_over_rs [dimensionless];
    NaN where the fit measured no geometry (a whole-visit fallback: both features 0), and for
    every planet if the fits carry no such features (the term is then inert).

    The transit depth, a/Rs and the impact parameter are degenerate through the transit shape:
    a planet whose a/Rs the white light pins down poorly has a depth level that is uncertain
    by a similar fraction, at every wavelength alike.
    """
    names = list(table.input_names)
    if not all(n in names for n in GEOMETRY_ERROR_INPUTS):
        return np.full(table.planet_id.size, np.nan)
    err, value = (table.inputs[:, names.index(n)] for n in GEOMETRY_ERROR_INPUTS)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = err / value
    return np.where(np.isfinite(ratio) & (err > 0) & (value > 0), ratio, np.nan)


@dataclass(frozen=True)
class GeometryReference:
    """Scale of the geometry error term, from the train planets: their median relative a/Rs
    error (the unit of :func:`geometry_units`) and the largest (given to a planet whose fit
    measured no geometry: the least-known geometry seen, not zero)."""

    median: float
    largest: float

    @classmethod
    def from_train(cls, relative_error: np.ndarray) -> GeometryReference:
        valid = relative_error[np.isfinite(relative_error)]
        if valid.size == 0:  # no planet has a geometry error: the term is inert
            return cls(1.0, 0.0)
        return cls(float(np.median(valid)), float(valid.max()))

    def to_dict(self) -> dict[str, float]:
        return {"median": self.median, "largest": self.largest}


def geometry_units(relative_error: np.ndarray, reference: GeometryReference) -> np.ndarray:
    """(n,) relative a/Rs errors in units of the train planets' median (NaN -> the largest)."""
    filled = np.where(np.isfinite(relative_error), relative_error, reference.largest)
    return filled / reference.median


def _instrument_vector(fgs: float, airs: float, width: int) -> np.ndarray:
    return np.concatenate([[fgs], np.full(width - 1, airs)])


def scaled_noise(
    independent: np.ndarray,
    common: np.ndarray,
    scales: dict[str, float],
    mu: np.ndarray,
    geometry: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The members' noise model with the out-of-fold scales applied (same shapes).

    The common mode is the member's own (scaled per instrument) and, added in quadrature, a
    shared error proportional to the planet's depth level (the mean of ``mu`` over wavelength)
    [ppm]: an error in the transit shape common to all wavelengths (impact parameter, a/Rs,
    limb darkening) moves every depth by the same fraction, so it is larger on deeper
    transits. Its relative size is ``r`` for every planet plus, in quadrature, ``g`` times the
    planet's relative a/Rs error in units of the train planets' median (``geometry`` (n,),
    :func:`geometry_units`; None: 0): a planet whose geometry is poorly measured has a poorly
    measured level. The level, not each channel's ``mu``: a vector built from the measured
    depths channel by channel carries their noise, and a posterior that discounts the
    measurement's own direction reads the level from that noise (on the ExoSim row it made
    every planet 4-6 % too shallow).
    """
    width = independent.shape[1]
    a = _instrument_vector(scales["independent_fgs"], scales["independent_airs"], width)
    b = _instrument_vector(scales["common_fgs"], scales["common_airs"], width)
    level = np.abs(mu.mean(axis=1, keepdims=True))  # (n, 1) [ppm]
    fraction_sq = np.full_like(level, scales.get("common_relative", 0.0) ** 2)  # (n, 1)
    if geometry is not None:
        fraction_sq = fraction_sq + (scales.get("common_geometry", 0.0) * geometry[:, None]) ** 2
    relative = np.sqrt(fraction_sq) * level
    return independent * a**2, np.sqrt((common * b) ** 2 + relative**2)


def fit_noise_scales(
    residuals: np.ndarray,
    independent: np.ndarray,
    common: np.ndarray,
    mu: np.ndarray,
    geometry: np.ndarray | None = None,
) -> dict[str, float]:
    """Maximum-likelihood scales of the noise model from out-of-fold residuals (n, W) [ppm].

    Each planet's residual ``label - mu`` is modelled as N(0, diag(a^2 v) + w w^T) with the
    member's independent variance v, and a shared vector
    w = sqrt((b u)^2 + (r^2 + (g x)^2) mean(mu)^2) from its common-mode vector u, the
    predicted depth level and its geometry error x (:func:`scaled_noise`; None: 0): one scale
    a and b for FGS1 and for AIRS and the relative scales r and g (six numbers in all): how
    much independent, shared and depth-proportional shared error the members' predictions
    really carry on planets they never saw. The rank-one covariance has a closed-form inverse
    and determinant, so the likelihood costs O(n W). r and g start at 1 % and may fall to ~0
    (e^-12).
    """
    from scipy.optimize import minimize

    def nll(log_scales: np.ndarray) -> float:
        scales = dict(zip(NOISE_SCALE_NAMES, np.exp(log_scales), strict=True))
        d, w = scaled_noise(independent, common, scales, mu, geometry)
        wd = w / d
        denominator = 1.0 + np.sum(w * wd, axis=1)  # (n,)
        quadratic = np.sum(residuals**2 / d, axis=1) - np.sum(residuals * wd, axis=1) ** 2 / (
            denominator
        )
        log_det = np.sum(np.log(d), axis=1) + np.log(denominator)
        return float(0.5 * np.sum(quadratic + log_det) / residuals.shape[0])

    # Without geometry errors g has no effect: it is held at ~0.
    g_start, g_top = (np.log(0.01), 0.0) if geometry is not None else (_MIN_LOG_RELATIVE,) * 2
    result = minimize(
        nll,
        np.array([0.0, 0.0, 0.0, 0.0, np.log(0.01), g_start]),
        method="L-BFGS-B",
        bounds=[(-5.0, 5.0)] * 4 + [(_MIN_LOG_RELATIVE, 0.0), (_MIN_LOG_RELATIVE, g_top)],
    )
    return {k: float(v) for k, v in zip(NOISE_SCALE_NAMES, np.exp(result.x), strict=True)}


def combine(
    prior: SpectralPrior | None, mu: np.ndarray, independent: np.ndarray, common: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and std (n, W) [ppm] with the prior; without one, the member's own."""
    if prior is None:
        return mu, np.sqrt(independent + common**2)
    return posterior(prior, mu, independent, common)


@dataclass(frozen=True)
class OutOfFold:
    """Out-of-fold posterior of every train planet: mean and std (n, W) [ppm] before the
    scales, the sigma scale per instrument (RMS z, the maximum-likelihood scale) and the score
    with the scales applied."""

    mean: np.ndarray
    sd: np.ndarray
    scale: dict[str, float]
    score: float


def _out_of_fold(
    labels: np.ndarray,
    folds: np.ndarray,
    priors: list[SpectralPrior | None],
    mu: np.ndarray,
    variance: np.ndarray,
    common: np.ndarray,
) -> OutOfFold:
    """Each fold's planets through their member's prior (None: the member's own noise)."""
    mean = np.empty_like(mu)
    sd = np.empty_like(mu)
    for k, prior in enumerate(priors):
        rows = folds == k
        mean[rows], sd[rows] = combine(prior, mu[rows], variance[rows], common[rows])
    z = (labels - mean) / sd  # (n, W)
    scale = {
        "fgs": float(np.sqrt(np.mean(z[:, 0] ** 2))),
        "airs": float(np.sqrt(np.mean(z[:, 1:] ** 2))),
    }
    breakdown = metric.score_arrays(
        labels / DEPTH_UNIT,
        np.clip(mean, 0, None) / DEPTH_UNIT,
        sd * _instrument_vector(scale["fgs"], scale["airs"], sd.shape[1]) / DEPTH_UNIT,
        metric.NaiveReference.from_labels(labels / DEPTH_UNIT),
    )
    return OutOfFold(mean, sd, scale, float(breakdown.score))


def _prior(cfg: TrainConfig, labels: np.ndarray) -> SpectralPrior | None:
    if not cfg.spectral_prior:
        return None
    return fit_spectral_prior(labels, max_components=cfg.prior_max_components)


def train_model(cfg: TrainConfig, data: PlanetTable) -> dict:
    """The ``spectramind train`` checkpoint: cross-fitted (``cfg.n_folds > 1`` and at least
    :data:`MIN_CROSSFIT_PLANETS` planets) or one model (:func:`~spectramind.model.train.train`).
    """
    from spectramind.model.train import train

    if cfg.n_folds > 1 and data.planet_id.size >= MIN_CROSSFIT_PLANETS:
        return train_crossfit(cfg, data)
    return train(cfg, data)


def train_crossfit(cfg: TrainConfig, data: PlanetTable) -> dict:
    """K members, out-of-fold calibration and the prior (module docstring); the checkpoint."""
    from spectramind.model.train import train

    if data.labels is None:
        raise DataFormatError("training needs labels (train.csv) for the planets")
    ids = data.planet_id
    n_folds = min(cfg.n_folds, ids.size)
    folds = assign_folds(ids, n_folds, cfg.seed)
    start = time.perf_counter()
    members, member_priors, member_ids = [], [], []
    parts = [np.empty_like(data.labels) for _ in range(3)]  # out-of-fold mu, variance, common
    for k in range(n_folds):
        inside, held = ids[folds != k], ids[folds == k]
        log.info(
            "cross-fit member %d/%d: %d planets, predicts %d",
            k + 1,
            n_folds,
            inside.size,
            held.size,
        )
        fold_data = data.subset(inside)
        member = train(cfg, fold_data)
        rows = np.isin(ids, held)
        for part, values in zip(parts, member_parts(member, data.subset(held)), strict=True):
            part[rows] = values
        members.append(member)
        member_priors.append(_prior(cfg, fold_data.labels))
        member_ids.append([int(i) for i in inside])
    oof_mu, oof_var, oof_common = parts
    # 1. The noise model's scales from the out-of-fold residuals (independent vs common mode,
    #    and the shared error that grows with the depth and with the fit's geometry error).
    relative_error = relative_geometry_error(data)
    if not np.isfinite(relative_error).any():
        log.warning(
            "cross-fit: no train planet has a relative a/Rs error (features %s): the noise "
            "model's geometry term is off",
            " / ".join(GEOMETRY_ERROR_INPUTS),
        )
    reference = GeometryReference.from_train(relative_error)
    geometry = geometry_units(relative_error, reference)
    noise = fit_noise_scales(data.labels - oof_mu, oof_var, oof_common, oof_mu, geometry)
    var, common = scaled_noise(oof_var, oof_common, noise, oof_mu, geometry)
    # 2. The posterior of every planet from its own member's prior, and one sigma scale per
    #    instrument; the prior is kept only if it raises the out-of-fold score (a Gaussian prior
    #    whose directions miss the spectra's features shrinks them and biases the depths).
    with_prior = _out_of_fold(data.labels, folds, member_priors, oof_mu, var, common)
    without = _out_of_fold(data.labels, folds, [None] * n_folds, oof_mu, var, common)
    use_prior = any(p is not None for p in member_priors) and with_prior.score >= without.score
    chosen = with_prior if use_prior else without
    if not use_prior:
        member_priors = [None] * n_folds
    prior = _prior(cfg, data.labels) if use_prior else None
    log.info(
        "cross-fit: %d members in %.1f s; noise scales %s; out-of-fold score %.4f with the "
        "spectral prior, %.4f without: %s; out-of-fold z RMS %.3f (FGS1) %.3f (AIRS) -> scaled; "
        "prior with %d components",
        n_folds,
        time.perf_counter() - start,
        {k: round(v, 3) for k, v in noise.items()},
        with_prior.score,
        without.score,
        "prior used" if use_prior else "prior not used",
        chosen.scale["fgs"],
        chosen.scale["airs"],
        prior.n_components if prior else 0,
    )
    scale = chosen.scale
    oof_mu = chosen.mean
    first = members[0]
    return {
        "format": CROSSFIT_FORMAT,
        "config": cfg.to_dict(),
        "device": first["device"],
        "determinism": first["determinism"],
        "torch_version": first["torch_version"],
        "members": members,
        "member_train_ids": member_ids,
        "member_priors": [None if p is None else p.to_dict() for p in member_priors],
        "noise_scale": noise,
        "geometry_reference": reference.to_dict(),
        "prior": None if prior is None else prior.to_dict(),
        "sigma_scale": scale,
        "normalisation": first["normalisation"],
        "data_sha256": data.data_sha256,
        "train_ids": [int(i) for i in ids],
        # every train planet has an out-of-fold prediction: the validation set is all of them
        "holdout_ids": [int(i) for i in ids],
        "holdout_diagnostics": {
            "score": float(chosen.score),
            "score_with_prior": float(with_prior.score),
            "score_without_prior": float(without.score),
            "prior_used": bool(use_prior),
            "z_rms_fgs_before_scale": scale["fgs"],
            "z_rms_airs_before_scale": scale["airs"],
            "rmse_model_ppm": float(np.sqrt(np.mean((data.labels - oof_mu) ** 2))),
            "rmse_physics_ppm": float(np.sqrt(np.mean((data.labels - data.depth) ** 2))),
        },
    }


def _scales(checkpoint: dict, width: int) -> np.ndarray:
    scale = checkpoint["sigma_scale"]
    return np.concatenate([[scale["fgs"]], np.full(width - 1, scale["airs"])])


def predict_crossfit(
    checkpoint: dict, table: PlanetTable, planets: str = "all"
) -> tuple[np.ndarray, np.ndarray]:
    """mu, sigma (n, W) [ppm]: the members' average with the prior ("all"), or each train
    planet by the member that did not see it ("holdout")."""
    members = checkpoint["members"]
    noise = checkpoint["noise_scale"]
    width = table.depth.shape[1]
    geometry = None  # checkpoints written before the geometry term have none
    if "geometry_reference" in checkpoint:
        reference = GeometryReference(**checkpoint["geometry_reference"])
        geometry = geometry_units(relative_geometry_error(table), reference)
    if planets == "holdout":
        mu = np.empty_like(table.depth)
        sd = np.empty_like(table.depth)
        for member, seen, prior in zip(
            members, checkpoint["member_train_ids"], checkpoint["member_priors"], strict=True
        ):
            rows = ~np.isin(table.planet_id, seen)
            if rows.any():
                prior = None if prior is None else SpectralPrior.from_dict(prior)
                m, v, c = member_parts(member, table.subset(table.planet_id[rows]))
                g = None if geometry is None else geometry[rows]
                mu[rows], sd[rows] = combine(prior, m, *scaled_noise(v, c, noise, m, g))
        return mu, sd * _scales(checkpoint, width)
    parts = [member_parts(member, table) for member in members]
    scaled = [scaled_noise(v, c, noise, m, geometry) for m, v, c in parts]
    mus = np.stack([p[0] for p in parts])  # (K, n, W)
    mu = mus.mean(axis=0)
    # The noise model was calibrated on single members (out of fold); the average of K members
    # errs less by their spread about it (mean_k (mu_k - y)^2 = (mu - y)^2 + mean_k (mu_k -
    # mu)^2), kept to at least half the single-member variance.
    single = np.mean([v for v, _ in scaled], axis=0)
    independent = np.maximum(single - mus.var(axis=0), 0.5 * single)
    common = np.sqrt(np.mean([c**2 for _, c in scaled], axis=0))
    prior = checkpoint["prior"]
    prior = None if prior is None else SpectralPrior.from_dict(prior)
    mu, sd = combine(prior, mu, independent, common)
    return mu, sd * _scales(checkpoint, width)
