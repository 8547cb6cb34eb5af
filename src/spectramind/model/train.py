"""The training loop: ``train(cfg, data)`` returns a checkpoint dict; ``save_checkpoint`` writes it.

The checkpoint is a plain dict of tensors and primitive types (loadable with
``torch.load(..., weights_only=True)``) carrying its config, the input normalisation, the
spectral basis, the SHA256 of every input file and the hold-out planet ids.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from spectramind import metric
from spectramind.errors import ConfigError, DataFormatError
from spectramind.io import atomic_path
from spectramind.model.config import TrainConfig
from spectramind.model.data import (
    DEPTH_UNIT,
    PlanetTable,
    holdout_split,
    loss_weights,
    naive_stats,
    spectral_basis,
)
from spectramind.model.net import SpectralCorrector, gaussian_nll
from spectramind.repro.cpu import PINNED_KERNELS
from spectramind.repro.determinism import set_deterministic
from spectramind.repro.manifest import record_device

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "spectramind.model/1"
MIN_TRAIN_PLANETS = 2
# Hold-out planets needed for the post-hoc sigma scale: the FGS1 scale rests on one value per
# planet, so 10 planets leave it uncertain by ~22 % (1 / sqrt(2 n)).
MIN_CALIBRATION_PLANETS = 10


def lr_at(it: int, max_iters: int, warmup_iters: int, lr: float, min_lr: float) -> float:
    """Learning rate at step ``it``: linear warm-up, then cosine decay from ``lr`` to ``min_lr``."""
    if it < warmup_iters:
        return lr * (it + 1) / warmup_iters
    progress = min(1.0, (it - warmup_iters) / max(1, max_iters - warmup_iters))
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def select_device(name: str) -> torch.device:
    """The torch device of a train/predict run, also written to its manifest record.

    ``auto``: CUDA when torch sees a GPU, else CPU. Torch decides, not the environment: a SLURM
    job with a GPU gres has ``CUDA_VISIBLE_DEVICES`` set, but with a CPU-only torch build or no
    real device behind it (a fake test gres) ``torch.cuda.is_available()`` is False and the run
    falls back to CPU (and records ``device.type == "cpu"``). ``cuda`` without a GPU is a
    configuration error. The one code path for ``spectramind train`` and ``spectramind predict``.
    """
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is 'cuda' but torch sees no CUDA device")
    if name == "cpu" or not torch.cuda.is_available():
        device = torch.device("cpu")
    else:
        device = torch.device("cuda")
    record_device(device)  # no-op outside `spectramind run-stage`
    return device


def _tensors(table: PlanetTable, device: torch.device) -> dict[str, torch.Tensor]:
    def as_tensor(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32, device=device)

    out = {
        "inputs": as_tensor(table.inputs),  # (n, F + 8)
        "depth": as_tensor(table.depth),  # (n, W) [ppm]
        "depth_err": as_tensor(table.depth_err),  # (n, W) [ppm]
    }
    if table.labels is not None:
        out["labels"] = as_tensor(table.labels)  # (n, W) [ppm]
    return out


@torch.no_grad()
def _evaluate(model: SpectralCorrector, batch: dict[str, torch.Tensor], weights: torch.Tensor):
    model.eval()
    mu, sigma = model(batch["inputs"], batch["depth"], batch["depth_err"])
    loss = gaussian_nll(mu, sigma, batch["labels"], weights).item()
    model.train()
    return loss, mu, sigma


def holdout_diagnostics(
    labels: np.ndarray, depth: np.ndarray, mu: np.ndarray, sigma: np.ndarray
) -> dict[str, float]:
    """Error and calibration on held-out planets; all arrays (n, W) [ppm]."""
    z = (labels - mu) / sigma
    return {
        "rmse_physics_ppm": float(np.sqrt(np.mean((labels - depth) ** 2))),
        "rmse_model_ppm": float(np.sqrt(np.mean((labels - mu) ** 2))),
        "mean_sigma_ppm": float(sigma.mean()),
        "z_rms": float(np.sqrt(np.mean(z**2))),
        "frac_within_1sigma": float(np.mean(np.abs(z) <= 1.0)),
    }


def checkpoint_settings(determinism: dict) -> dict:
    """The determinism settings a checkpoint records: those that fix its bytes.

    The kernels are reduced to the pinned ones (the same on every CPU when the pin holds); what
    numpy could dispatch to on this machine stays in the run manifest only.
    """
    kernels = determinism.get("kernels", {})
    return {
        **{k: v for k, v in determinism.items() if k != "kernels"},
        "kernels": {k: kernels.get(k) for k in ("pin", *PINNED_KERNELS, "mkldnn_enabled")},
    }


def sigma_moments(depth_err: np.ndarray, residuals: np.ndarray, cfg: TrainConfig) -> dict:
    """Method-of-moments start of the sigma head from the train fold (arrays (n, W) [ppm]).

    common_ppm: RMS over planets of the mean AIRS residual (label - depth), the common mode;
    log_err_scale (W,): log of the RMS z-score of the AIRS residuals after removing each
    planet's common mode (one value for all AIRS channels, 0 for FGS1); log_floor (W,): 0 for
    AIRS, and for FGS1 the floor that makes its variance the mean squared FGS1 residual.
    """
    common = residuals[:, 1:].mean(axis=1)  # (n,)
    common_ppm = float(np.sqrt(np.mean(common**2)))
    z2 = ((residuals[:, 1:] - common[:, None]) / depth_err[:, 1:]) ** 2
    log_err_scale = np.zeros(residuals.shape[1], dtype=np.float32)
    log_err_scale[1:] = 0.5 * np.log(max(float(np.mean(z2)), 1e-4))
    fgs_extra = float(np.mean(residuals[:, 0] ** 2 - depth_err[:, 0] ** 2)) - common_ppm**2
    floor = max(np.sqrt(max(fgs_extra, 0.0)), cfg.sigma_floor_init_ppm)
    log_floor = np.zeros(residuals.shape[1], dtype=np.float32)
    log_floor[0] = np.log(floor / cfg.sigma_floor_init_ppm)
    return {"common_ppm": common_ppm, "log_err_scale": log_err_scale, "log_floor": log_floor}


def train(cfg: TrainConfig, data: PlanetTable) -> dict:
    """Fit the correction on ``data`` (labels required) and return the checkpoint dict."""
    device = select_device(cfg.device)
    # One intra-op thread on CPU whatever cfg.threads says: torch splits large sums across
    # threads, so every thread count would give other bytes (docs/reproducibility.md).
    determinism = set_deterministic(cfg.seed, 1 if device.type == "cpu" else cfg.threads)
    if data.labels is None:
        raise DataFormatError("training needs labels (train.csv) for the planets")
    train_ids, holdout_ids = holdout_split(data.planet_id, cfg.holdout_fraction, cfg.seed)
    if len(train_ids) < MIN_TRAIN_PLANETS:
        raise DataFormatError(
            f"need at least {MIN_TRAIN_PLANETS} labelled train planets, found {len(train_ids)}"
        )
    fold, held = data.subset(train_ids), data.subset(holdout_ids)
    log.info(
        "training on %d planets, %d held out, %d inputs, device %s",
        len(train_ids),
        len(holdout_ids),
        data.inputs.shape[1],
        device,
    )

    # Spectral basis and the typical size of the residual along each direction, from the fold.
    residuals = fold.labels - fold.depth  # (n_train, W) [ppm]
    basis = spectral_basis(residuals, cfg.smooth_degree, cfg.n_pca)  # (K, W)
    coef_scale = np.maximum(np.sqrt(np.mean((residuals @ basis.T) ** 2, axis=0)), 1.0)  # (K,)
    naive_mean, naive_sigma = naive_stats(fold.labels)
    weights = torch.as_tensor(
        loss_weights(naive_sigma, cfg.metric_weighted_loss), dtype=torch.float32, device=device
    )  # (W,)

    moments = sigma_moments(fold.depth_err, residuals, cfg) if cfg.moment_init else None
    model = SpectralCorrector(
        n_inputs=data.inputs.shape[1],
        basis=torch.as_tensor(basis, dtype=torch.float32),
        coef_scale=torch.as_tensor(coef_scale, dtype=torch.float32),
        hidden=cfg.hidden,
        sigma_floor_init_ppm=cfg.sigma_floor_init_ppm,
        sigma_min_ppm=cfg.sigma_min_ppm,
        common_init_ppm=moments["common_ppm"] if moments else 0.0,
    ).to(device)
    if moments:
        with torch.no_grad():
            model.log_err_scale.copy_(torch.as_tensor(moments["log_err_scale"]))
            model.log_floor.copy_(torch.as_tensor(moments["log_floor"]))
        log.info(
            "sigma head from the train fold: common mode %.1f ppm, AIRS error scale %.3f, "
            "FGS1 floor %.1f ppm",
            moments["common_ppm"],
            float(np.exp(moments["log_err_scale"][1])),
            cfg.sigma_floor_init_ppm * float(np.exp(moments["log_floor"][0])),
        )
    train_set = _tensors(fold, device)
    held_set = _tensors(held, device) if holdout_ids else None
    with torch.no_grad():  # input normalisation from the train fold only
        x = model.raw_inputs(train_set["inputs"], train_set["depth"], train_set["depth_err"])
        std = x.std(dim=0, unbiased=False)  # (D,)
        model.x_mean.copy_(x.mean(dim=0))
        model.x_std.copy_(torch.where(std > 1e-6 * x.abs().amax(dim=0) + 1e-12, std, 1.0))

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_train = len(train_ids)
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    max_iters = cfg.max_epochs * steps_per_epoch
    warmup_iters = cfg.warmup_epochs * steps_per_epoch
    shuffle = torch.Generator().manual_seed(cfg.seed)  # CPU generator: same order on any device

    history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
    best_loss, best_epoch = math.inf, -1
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    it = 0
    start = time.perf_counter()
    for epoch in range(cfg.max_epochs):
        order = torch.randperm(n_train, generator=shuffle).to(device)  # (n_train,)
        epoch_loss = 0.0
        for first in range(0, n_train, cfg.batch_size):
            rows = order[first : first + cfg.batch_size]  # (B,)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(it, max_iters, warmup_iters, cfg.lr, cfg.min_lr)
            mu, sigma = model(
                train_set["inputs"][rows], train_set["depth"][rows], train_set["depth_err"][rows]
            )  # (B, W) each
            loss = gaussian_nll(mu, sigma, train_set["labels"][rows], weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * len(rows) / n_train
            it += 1
        history["train_loss"].append(epoch_loss)

        if held_set is None:  # no hold-out: the last epoch is the model
            best_epoch = epoch
            continue
        val_loss, _, _ = _evaluate(model, held_set, weights)
        history["val_loss"].append(val_loss)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= cfg.patience:
            log.info(
                "early stop at epoch %d (best %d, val loss %.4f)", epoch, best_epoch, best_loss
            )
            break
        if epoch % 50 == 0:
            log.debug("epoch %d train %.4f val %.4f", epoch, epoch_loss, val_loss)
    if held_set is not None:
        model.load_state_dict(best_state)
        if cfg.calibrate_sigma and len(holdout_ids) < MIN_CALIBRATION_PLANETS:
            log.info(
                "sigma not calibrated: %d hold-out planets (< %d) give too noisy a scale",
                len(holdout_ids),
                MIN_CALIBRATION_PLANETS,
            )
        elif cfg.calibrate_sigma:
            _, mu, sigma = _evaluate(model, held_set, weights)
            z2 = ((held_set["labels"] - mu) / sigma) ** 2  # (n_hold, W)
            scale = torch.ones_like(model.sigma_scale)
            scale[0] = z2[:, 0].mean().sqrt()
            scale[1:] = z2[:, 1:].mean().sqrt()
            with torch.no_grad():
                model.sigma_scale.copy_(scale)
            log.info(
                "sigma calibrated on the hold-out: x%.3f (FGS1), x%.3f (AIRS)",
                float(scale[0]),
                float(scale[1]),
            )
    log.info(
        "trained %d epochs in %.1f s, best epoch %d",
        epoch + 1,
        time.perf_counter() - start,
        best_epoch,
    )

    diagnostics: dict[str, float] = {}
    if held_set is not None:
        _, mu, sigma = _evaluate(model, held_set, weights)
        mu, sigma = mu.double().cpu().numpy(), sigma.double().cpu().numpy()  # (n_hold, W) [ppm]
        diagnostics = holdout_diagnostics(held.labels, held.depth, mu, sigma)
        # The competition score of the hold-out (mu clipped at 0 like predict does).
        naive = metric.NaiveReference.from_labels(data.labels / DEPTH_UNIT)
        diagnostics["score"] = metric.score_arrays(
            held.labels / DEPTH_UNIT, np.clip(mu, 0, None) / DEPTH_UNIT, sigma / DEPTH_UNIT, naive
        ).score
        log.info(
            "hold-out: rmse physics %.1f ppm -> model %.1f ppm, z-score rms %.3f",
            diagnostics["rmse_physics_ppm"],
            diagnostics["rmse_model_ppm"],
            diagnostics["z_rms"],
        )

    return {
        "format": CHECKPOINT_FORMAT,
        "config": cfg.to_dict(),
        "device": str(device),
        "determinism": checkpoint_settings(determinism),
        "torch_version": str(torch.__version__),
        "model_args": {
            "n_inputs": int(data.inputs.shape[1]),
            "n_basis": int(basis.shape[0]),
            "hidden": cfg.hidden,
            "sigma_floor_init_ppm": cfg.sigma_floor_init_ppm,
            "sigma_min_ppm": cfg.sigma_min_ppm,
            "common_init_ppm": float(model.common_ppm),
        },
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "normalisation": {
            "depth_unit": DEPTH_UNIT,
            "x_mean": model.x_mean.detach().cpu().clone(),
            "x_std": model.x_std.detach().cpu().clone(),
            "input_names": list(data.input_names),
            "naive_mean": naive_mean,
            "naive_sigma": naive_sigma,
        },
        "data_sha256": data.data_sha256,
        "train_ids": [int(i) for i in train_ids],
        "holdout_ids": [int(i) for i in holdout_ids],
        "best_epoch": int(best_epoch),
        "history": history,
        "holdout_diagnostics": diagnostics,
    }


def save_checkpoint(checkpoint: dict, path: Path | str) -> str:
    """Write ``checkpoint`` atomically; return its SHA256.

    Serialised to memory first: ``torch.save`` on a path names the zip's records after the file,
    so the temporary name of an atomic write would change the bytes.
    """
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    payload = buffer.getvalue()
    with atomic_path(path, ".pt") as tmp:
        tmp.write_bytes(payload)
    return hashlib.sha256(payload).hexdigest()
