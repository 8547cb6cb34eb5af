"""Checkpoint + physics fits -> Predictions (CONTRACTS.md): planet_id, mu, sigma in (Rp/Rs)^2."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from spectramind.artifacts.checkpoint import CROSSFIT_FORMAT, read_checkpoint
from spectramind.artifacts.predictions import write_predictions
from spectramind.errors import DataFormatError
from spectramind.model.crossfit import predict_crossfit
from spectramind.model.data import DEPTH_UNIT, PlanetTable
from spectramind.model.net import SpectralCorrector
from spectramind.model.train import select_device

log = logging.getLogger(__name__)

PLANET_SETS = ("all", "holdout")


def model_from_checkpoint(checkpoint: dict) -> SpectralCorrector:
    args = checkpoint["model_args"]
    state = checkpoint["state_dict"]
    model = SpectralCorrector(
        n_inputs=args["n_inputs"],
        basis=state["basis"],
        coef_scale=state["coef_scale"],
        hidden=args["hidden"],
        sigma_floor_init_ppm=args["sigma_floor_init_ppm"],
        sigma_min_ppm=args["sigma_min_ppm"],
        common_init_ppm=args.get("common_init_ppm", 0.0),
    )
    model.load_state_dict(state)
    model.eval()
    return model


def select_planets(checkpoint: dict, table: PlanetTable, planets: str) -> PlanetTable:
    """All planets of ``table``, or the checkpoint's hold-out planets (all must be present)."""
    if planets == "all":
        return table
    if planets != "holdout":
        raise DataFormatError(f"--planets: expected one of {PLANET_SETS}, found {planets!r}")
    wanted = checkpoint["holdout_ids"]
    if not wanted:
        raise DataFormatError("the checkpoint has no hold-out planets (holdout_fraction was 0)")
    missing = sorted(set(wanted) - set(table.planet_id.tolist()))
    if missing:
        raise DataFormatError(
            f"{len(missing)} hold-out planet(s) of the checkpoint have no fit file, "
            f"e.g. {missing[:5]}"
        )
    return table.subset(sorted(wanted))


@torch.no_grad()
def predict(
    checkpoint: dict, table: PlanetTable, device: str = "auto", planets: str = "all"
) -> tuple[np.ndarray, np.ndarray]:
    """mu, sigma (n, W) float64 in (Rp/Rs)^2 as NumPy arrays; mu >= 0, sigma > 0, both finite.

    ``device``: auto (CUDA when torch sees a GPU, else CPU), cpu or cuda; chosen and recorded
    by :func:`spectramind.model.train.select_device`, as in training. A cross-fitted checkpoint
    (:mod:`spectramind.model.crossfit`) predicts on the CPU; ``planets="holdout"`` then gives
    each train planet the out-of-fold prediction of the member that did not see it.
    """
    if checkpoint.get("format") == CROSSFIT_FORMAT:
        _check_inputs(checkpoint, table)
        select_device("cpu")
        mu, sigma = predict_crossfit(checkpoint, table, planets)
        return _finish(mu, sigma)
    _check_inputs(checkpoint, table)
    torch_device = select_device(device)
    model = model_from_checkpoint(checkpoint).to(torch_device)

    def as_tensor(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32, device=torch_device)

    # One planet per forward pass, each in its own (aligned) tensors: a matmul kernel may block,
    # and so round, a row differently depending on the other rows of the batch, and a planet's
    # prediction must not depend on which planets are predicted with it.
    rows = [
        model(
            as_tensor(table.inputs[i : i + 1]),  # (1, F + 8)
            as_tensor(table.depth[i : i + 1]),  # (1, W) [ppm]
            as_tensor(table.depth_err[i : i + 1]),  # (1, W) [ppm]
        )
        for i in range(len(table.planet_id))
    ]
    mu = torch.cat([m for m, _ in rows])  # (n, W) [ppm]
    sigma = torch.cat([s for _, s in rows])  # (n, W) [ppm]
    return _finish(mu.double().cpu().numpy(), sigma.double().cpu().numpy())


def _check_inputs(checkpoint: dict, table: PlanetTable) -> None:
    expected = checkpoint["normalisation"]["input_names"]
    if table.input_names != expected:
        raise DataFormatError(
            f"fit files give {len(table.input_names)} inputs, the checkpoint was trained on "
            f"{len(expected)} ({expected[:3]}...)"
        )


def _finish(mu_ppm: np.ndarray, sigma_ppm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, W) [ppm] -> (Rp/Rs)^2 with mu clipped at 0; refuses non-finite or sigma <= 0."""
    mu = np.clip(mu_ppm / DEPTH_UNIT, 0.0, None)  # (n, W)
    sigma = sigma_ppm / DEPTH_UNIT  # (n, W)
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma)) and np.all(sigma > 0)):
        raise DataFormatError("the model produced non-finite or non-positive predictions")
    return mu, sigma


def run_predict(
    checkpoint_path: Path | str,
    feature_paths: Sequence[Path | str],
    star_info_path: Path | str,
    out: Path | str,
    planets: str = "all",
    device: str = "auto",
) -> int:
    """Load, select, predict (on ``device``), write; returns the number of planets written."""
    from spectramind.model.data import load_planets

    checkpoint = read_checkpoint(checkpoint_path)
    table = select_planets(checkpoint, load_planets(feature_paths, star_info_path), planets)
    mu, sigma = predict(checkpoint, table, device, planets)
    write_predictions(out, table.planet_id, mu, sigma, checkpoint_path, planets)
    log.info("wrote predictions for %d planets to %s", len(table.planet_id), out)
    return len(table.planet_id)
