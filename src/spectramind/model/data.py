"""Data preparation: physics fit files, labels and star info to aligned arrays.

Everything here is NumPy and runs once before training. Depths are converted to ppm of
(Rp/Rs)^2 (:data:`DEPTH_UNIT`) so float32 tensors keep ~1e-3 ppm resolution on 5e4 ppm values.
Shapes: n planets, W = 283 wavelengths (wl_1 = FGS1, then AIRS ascending), F physics features.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spectramind import holdout, metric
from spectramind.artifacts.fits import read_planet_fit
from spectramind.artifacts.tables import align_on_planet_id, read_labels, read_star_info
from spectramind.data import layout
from spectramind.errors import DataFormatError
from spectramind.repro.hashing import sha256_file

log = logging.getLogger(__name__)

N_WAVELENGTHS = layout.N_WAVELENGTHS  # 283
DEPTH_UNIT = 1e6  # internal unit: ppm of (Rp/Rs)^2
STAR_COLUMNS = layout.STAR_INFO_COLUMNS[1:]  # Rs, Ms, Ts, Mp, e, P, sma, i


@dataclass
class PlanetTable:
    """Per-planet model inputs, rows in ascending ``planet_id``.

    depth, depth_err: (n, W) physics depth and its 1-sigma error [ppm].
    inputs: (n, F + 8) physics features then star info (raw units).
    labels: (n, W) true depths [ppm], or None when predicting.
    data_sha256: ``{"features": {file name: sha}, "labels": sha, "star_info": sha}``.
    """

    planet_id: np.ndarray
    depth: np.ndarray
    depth_err: np.ndarray
    inputs: np.ndarray
    input_names: list[str]
    labels: np.ndarray | None = None
    data_sha256: dict = field(default_factory=dict)

    def subset(self, ids: Sequence[int]) -> PlanetTable:
        rows = np.searchsorted(self.planet_id, np.asarray(ids, dtype=np.int64))
        return PlanetTable(
            planet_id=self.planet_id[rows],
            depth=self.depth[rows],
            depth_err=self.depth_err[rows],
            inputs=self.inputs[rows],
            input_names=self.input_names,
            labels=None if self.labels is None else self.labels[rows],
            data_sha256=self.data_sha256,
        )


# --- reading -------------------------------------------------------------------------------


def feature_files_in(features_dir: Path | str) -> list[Path]:
    """The physics fit files ``<planet_id>.npz`` of one folder, sorted by name."""
    features_dir = Path(features_dir)
    if not features_dir.is_dir():
        raise DataFormatError(f"{features_dir}: expected a folder of physics fit files")
    files = sorted(features_dir.glob("*.npz"))
    if not files:
        raise DataFormatError(
            f"{features_dir}: expected <planet_id>.npz physics fit files, found none"
        )
    return files


def read_physics_fits(
    paths: Sequence[Path | str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], dict[str, str]]:
    """Read physics fit files (CONTRACTS.md "Physics fit file").

    Returns planet_id (n,) ascending, depth (n, W) [ppm], depth_err (n, W) [ppm], features (n, F),
    feature names (F) and ``{file name: sha256}``.
    """
    if not paths:
        raise DataFormatError("no physics fit files given")
    rows: dict[int, tuple] = {}
    hashes: dict[str, str] = {}
    n_features = None
    for path in map(Path, paths):
        fit = read_planet_fit(path)
        if n_features is None:
            n_features = fit.features.size
            names = fit.feature_names
        elif fit.features.size != n_features:
            raise DataFormatError(
                f"{path}: expected {n_features} features like the other files, "
                f"found {fit.features.size}"
            )
        planet_id = fit.planet_id
        if planet_id in rows:
            raise DataFormatError(f"{path}: planet {planet_id} appears in more than one fit file")
        rows[planet_id] = (fit.depth, fit.depth_err, fit.features)
        hashes[path.name] = sha256_file(path)
    ids = np.array(sorted(rows), dtype=np.int64)
    depth = np.stack([rows[i][0] for i in ids]) * DEPTH_UNIT
    depth_err = np.stack([rows[i][1] for i in ids]) * DEPTH_UNIT
    features = np.stack([rows[i][2] for i in ids]).reshape(len(ids), n_features)
    return ids, depth, depth_err, features, names, dict(sorted(hashes.items()))


def read_labels_csv(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """``train.csv`` at any path: planet ids (n,) and depths (n, W) [(Rp/Rs)^2]."""
    table = read_labels(path)
    return table.planet_ids, table.values


def load_planets(
    feature_paths: Sequence[Path | str],
    star_info_path: Path | str,
    labels_path: Path | str | None = None,
) -> PlanetTable:
    """Join fit files, star info and (optionally) labels on planet_id.

    With labels every labelled planet must have a fit file (a missing one is an error, not a
    silently smaller training set); fit files without a label are dropped with a warning.
    """
    ids, depth, depth_err, features, names, feature_hashes = read_physics_fits(feature_paths)
    hashes: dict = {"features": feature_hashes}
    labels = None
    if labels_path is not None:
        label_table = read_labels(labels_path)
        # Every labelled planet needs its fit file: a missing one is an error, not a silently
        # smaller training set; fit files without a label are dropped with a warning.
        rows = align_on_planet_id(
            label_table.planet_ids,
            ids,
            source=f"physics fit files for {labels_path}",
            expected="a physics fit file for every labelled planet",
            extra="warn",
        )
        rows = np.sort(rows)  # the fit files' order: ascending planet_id
        ids, depth, depth_err, features = ids[rows], depth[rows], depth_err[rows], features[rows]
        label_rows = align_on_planet_id(
            ids, label_table.planet_ids, source=str(labels_path), expected="a label"
        )
        labels = label_table.values[label_rows] * DEPTH_UNIT
        hashes["labels"] = sha256_file(labels_path)
    star_info = read_star_info(star_info_path)
    star = star_info.values[
        align_on_planet_id(
            ids,
            star_info.planet_ids,
            source=str(star_info_path),
            expected="star info for every planet with a fit file",
        )
    ]
    hashes["star_info"] = sha256_file(star_info_path)
    return PlanetTable(
        planet_id=ids,
        depth=depth,
        depth_err=depth_err,
        inputs=np.concatenate([features, star], axis=1),
        input_names=[*names, *STAR_COLUMNS],
        labels=labels,
        data_sha256=hashes,
    )


# --- split, basis, loss weights --------------------------------------------------------------


def holdout_split(
    planet_ids: Sequence[int], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Seeded split into (train, holdout) ids, both ascending; ``fraction == 0``: no hold-out.

    Delegates to :func:`spectramind.holdout.holdout_split` so training and validation scoring
    agree on the hold-out planets.
    """
    ids = sorted(int(i) for i in planet_ids)
    if fraction == 0:
        return ids, []
    train, held = holdout.holdout_split(ids, fraction, seed)
    return train.tolist(), held.tolist()


def legendre_basis(degree: int, n_channels: int = N_WAVELENGTHS - 1) -> np.ndarray:
    """(degree + 1, n_channels) Legendre polynomials P_0..P_degree on [-1, 1] over AIRS channels."""
    x = np.linspace(-1.0, 1.0, n_channels)
    return np.stack([np.polynomial.legendre.Legendre.basis(k)(x) for k in range(degree + 1)])


def spectral_basis(residuals: np.ndarray, smooth_degree: int, n_pca: int) -> np.ndarray:
    """Orthonormal rows (K, W) spanning the corrections the model may add to a depth spectrum.

    The span is: the FGS1 element alone, smooth Legendre shapes over AIRS, and the leading
    principal components of the train-fold residuals ``label - physics depth`` (n, W) [ppm].
    Low K is the spectral prior: a correction cannot chase per-channel noise.
    """
    columns = [np.eye(N_WAVELENGTHS)[0]]  # FGS1 on its own
    smooth = legendre_basis(smooth_degree)
    columns += [np.concatenate([[0.0], row]) for row in smooth]
    n_pca = min(n_pca, residuals.shape[0] - 1)
    if n_pca > 0:
        centred = residuals - residuals.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        columns += list(vt[:n_pca])
    q, r = np.linalg.qr(np.stack(columns, axis=1))  # (W, K), (K, K)
    keep = np.abs(np.diag(r)) > 1e-8 * np.abs(np.diag(r)).max()  # drop directions already spanned
    basis = q[:, keep].T  # (K, W)
    # Fix the sign of each row (QR signs depend on LAPACK) so the checkpoint is reproducible.
    signs = np.sign(basis[np.arange(basis.shape[0]), np.abs(basis).argmax(axis=1)])
    return basis * signs[:, None]


def loss_weights(naive_sigma: float, metric_weighted: bool = True) -> np.ndarray:
    """(W,) weights of the per-element Gaussian NLL, mean 1.

    The metric scores ``w_j (L_pred - L_ref) / (L_true - L_ref)``; the denominator is about
    ``log(naive_sigma / sigma_true_j) + 1/2`` (its expectation over labels), so maximising the
    metric is minimising the NLL weighted by ``w_j`` over that denominator.
    """
    if not metric_weighted:
        return np.ones(N_WAVELENGTHS)
    denominator = np.log(naive_sigma / metric.sigma_true()) + 0.5  # (W,)
    weights = metric.wavelength_weights() / denominator
    return weights / weights.mean()


def naive_stats(labels: np.ndarray) -> tuple[float, float]:
    """Mean and std of all label values [(Rp/Rs)^2]: the metric's reference prediction."""
    values = labels / DEPTH_UNIT
    return float(values.mean()), float(values.std())
