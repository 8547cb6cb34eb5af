"""Synthetic physics-fit files with a known, learnable bias (tests and the training benchmark).

Truth: continuum depth plus Gaussian absorption bands. The "physics" depth is the truth times a
smooth per-wavelength multiplicative bias (what an imperfect limb-darkening model does), plus
Gaussian noise whose true std is ``noise_scale`` times the reported ``depth_err``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectramind.artifacts.fits import PlanetFit, write_planet_fit
from spectramind.data import layout

W = layout.N_WAVELENGTHS


@dataclass(frozen=True)
class SyntheticSet:
    features_dir: Path
    labels_csv: Path
    star_info_csv: Path
    planet_id: np.ndarray  # (n,)
    truth: np.ndarray  # (n, W) [(Rp/Rs)^2]
    true_sigma: np.ndarray  # (n, W) std of the physics depth about bias * truth


def multiplicative_bias() -> np.ndarray:
    """(W,) relative bias of the physics depth: FGS 3%, AIRS a smooth 1..4% curve."""
    x = np.linspace(0.0, 1.0, W - 1)
    return np.concatenate([[0.03], 0.025 + 0.015 * np.sin(2.5 * np.pi * x)])


def write_synthetic_set(
    out_dir: Path | str,
    n_planets: int,
    seed: int = 0,
    noise_scale: float = 1.3,
    first_id: int = 1000,
    n_features: int = 3,
    own_bands: int = 0,
    own_band_depth: float = 1e-3,
) -> SyntheticSet:
    """Write ``<out_dir>/fits/<id>.npz``, ``train.csv`` and ``star_info.csv``; return the truth.

    ``own_bands``: narrow bands per planet at wavelengths of its own (up to ``own_band_depth``
    deep [(Rp/Rs)^2]), features no other planet shares, so a prior learned from the labels
    cannot span them (drawn from their own random stream: the rest of the set is unchanged).
    """
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    ids = np.arange(first_id, first_id + n_planets, dtype=np.int64)
    channel = np.arange(W - 1)
    continuum = rng.uniform(0.006, 0.046, n_planets)  # (n,)
    truth = np.repeat(continuum[:, None], W, axis=1)  # (n, W)
    for centre, width in ((40, 8.0), (110, 12.0), (180, 10.0), (250, 6.0)):  # molecular bands
        amplitude = rng.uniform(0.0, 3e-4, n_planets)[:, None]  # (n, 1)
        truth[:, 1:] += amplitude * np.exp(-0.5 * ((channel - centre) / width) ** 2)
    own = np.random.default_rng([seed, 1])
    for _ in range(own_bands):
        centre = own.uniform(0, W - 1, n_planets)[:, None]  # (n, 1) [channel]
        amplitude = own.uniform(0.5, 1.0, n_planets)[:, None] * own_band_depth  # (n, 1)
        truth[:, 1:] += amplitude * np.exp(-0.5 * ((channel[None, :] - centre) / 3.0) ** 2)
    brightness = rng.uniform(0.7, 1.5, n_planets)[:, None]  # (n, 1) per-planet noise factor
    reported_err = brightness * np.concatenate([[60e-6], 150e-6 * (1 + 0.5 * channel / W)])
    true_sigma = noise_scale * reported_err  # (n, W)
    depth = truth * (1 + multiplicative_bias()) + true_sigma * rng.standard_normal((n_planets, W))
    features = rng.standard_normal((n_planets, n_features))
    star = np.column_stack(
        [
            rng.normal(1.25, 0.35, n_planets).clip(0.5),  # Rs
            rng.normal(1.09, 0.21, n_planets).clip(0.5),  # Ms
            rng.normal(5839, 512, n_planets),  # Ts
            rng.uniform(0.1, 3.0, n_planets),  # Mp
            np.zeros(n_planets),  # e
            rng.normal(5.19, 1.41, n_planets).clip(1.0),  # P
            rng.normal(10.83, 3.03, n_planets).clip(3.0),  # sma
            rng.normal(88.46, 0.98, n_planets),  # i
        ]
    )
    fits = out_dir / "fits"
    for k, pid in enumerate(ids):
        write_planet_fit(
            fits / f"{pid}.npz",
            PlanetFit(
                depth[k],
                reported_err[k],
                features[k],
                {"planet_id": int(pid), "split": "train", "fallback": False},
            ),
        )
    labels_csv = out_dir / "train.csv"
    star_csv = out_dir / "star_info.csv"
    _write_table(labels_csv, ("planet_id", *layout.WL_COLUMNS), ids, truth)
    _write_table(star_csv, layout.STAR_INFO_COLUMNS, ids, star)
    return SyntheticSet(fits, labels_csv, star_csv, ids, truth, true_sigma)


def _write_table(path: Path, header: tuple[str, ...], ids: np.ndarray, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for pid, row in zip(ids, values, strict=True):
            writer.writerow([int(pid), *(repr(float(v)) for v in row)])
