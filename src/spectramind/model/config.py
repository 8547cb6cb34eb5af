"""Hyperparameters of the learned stage, one dataclass with units and how to choose each value."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from spectramind.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    """Everything ``train`` needs besides the data; stored in the checkpoint with ``asdict``.

    Defaults suit the small-data regime (30..200 train planets); with the real 1100 planets a
    wider MLP and more PCA components are affordable but not required.
    """

    seed: int = 0
    # Fraction of labelled planets held out (seeded) for early stopping and the validation score.
    # 0 trains on everything for ``max_epochs`` without early stopping.
    holdout_fraction: float = 0.2
    device: str = "auto"  # auto: CUDA when available, else CPU; or force cpu / cuda
    # Host threads of a CUDA run (None: SPECTRAMIND_THREADS or 1). On CPU training and
    # inference always use one thread: a sum split over N threads rounds differently per N.
    threads: int | None = None

    # --- spectral prior: corrections live in a low-dimensional basis over wavelength ---------
    smooth_degree: int = 4  # Legendre polynomials 0..smooth_degree over the 282 AIRS channels
    n_pca: int = 6  # principal components of the train-fold residuals (label - physics depth)
    hidden: int = 32  # width of the one-hidden-layer MLP that predicts basis coefficients

    # --- sigma head: sigma^2 = (scale_j * depth_err_j)^2 + floor_j^2 + sigma_min^2 ------------
    sigma_floor_init_ppm: float = 20.0  # starting per-wavelength floor [ppm of (Rp/Rs)^2]
    sigma_min_ppm: float = 1.0  # hard lower bound [ppm]; keeps the NLL finite
    # Start the sigma head at the train fold's moments instead of at the physics errors: the
    # per-planet common-mode error m0 (RMS over planets of the mean AIRS residual), one AIRS
    # error scale (RMS z-score after the common mode) and the FGS1 floor. Early stopping ends
    # training after a few dozen epochs on ~100 planets, too few for the sigma head to travel
    # there from zero. False: m0 = 0 and every sigma parameter starts at zero.
    moment_init: bool = True
    # After early stopping, scale the sigmas of AIRS and of FGS1 by the RMS z-score of the
    # hold-out planets (the maximum-likelihood scale; the NLL on the train fold shrinks sigma
    # as the correction fits the train residuals). Needs >= 10 hold-out planets.
    calibrate_sigma: bool = True

    # --- cross-fitting and the spectral prior (spectramind.model.crossfit) ----------------------
    # Members trained on K - 1 of K folds of the train planets; each predicts its own fold, and
    # those out-of-fold predictions set one sigma scale per instrument. The test prediction
    # averages the members. <= 1: one model with the hold-out calibration above (no prior).
    n_folds: int = 5
    # Combine the prediction with a Gaussian prior over whole spectra learned from the train
    # labels (principal directions + out-of-fold residual), pooling the channels, where it
    # raises the out-of-fold score (a cross-fit checks; without one, always).
    spectral_prior: bool = True
    # The most principal directions the prior may keep (the count is chosen out of fold).
    prior_max_components: int = 20

    # --- optimisation ---------------------------------------------------------------------------
    max_epochs: int = 600  # passes over the train fold
    batch_size: int = 64  # planets per step
    lr: float = 3e-3  # peak AdamW learning rate
    min_lr: float = 1e-4  # cosine schedule floor
    warmup_epochs: int = 10  # linear warm-up length
    weight_decay: float = 1e-3  # decoupled; pulls every correction towards the physics estimate
    patience: int = 80  # epochs without a better hold-out loss before stopping
    # Weight the per-element Gaussian NLL like the competition metric (FGS x57.846, normalised by
    # each element's L_true - L_ref); False: plain mean NLL.
    metric_weighted_loss: bool = True

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ConfigError(f"train.device: expected one of {DEVICES}, found {self.device!r}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ConfigError(
                f"train.holdout_fraction: expected 0 <= f < 1, found {self.holdout_fraction}"
            )
        for name in ("max_epochs", "batch_size", "hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name}: expected >= 1, found {getattr(self, name)}")
        for name in ("smooth_degree", "n_pca", "warmup_epochs", "patience", "n_folds"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name}: expected >= 0, found {getattr(self, name)}")
        if self.sigma_min_ppm <= 0 or self.sigma_floor_init_ppm <= 0:
            raise ConfigError("train.sigma_min_ppm and sigma_floor_init_ppm must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def config_from_mapping(values: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """A :class:`TrainConfig` with ``values`` replacing fields of ``base``; unknown keys refused."""
    known = {f.name: f for f in fields(TrainConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"train config: unknown keys {unknown}; known: {sorted(known)}")
    merged = (base or TrainConfig()).to_dict()
    for key, value in values.items():
        expected = type(merged[key]) if merged[key] is not None else int
        if isinstance(value, bool) != (expected is bool) or not isinstance(
            value, (expected, int) if expected is float else expected
        ):
            if not (value is None and key == "threads"):
                raise ConfigError(
                    f"train config: {key} expects {expected.__name__}, found {value!r}"
                )
        merged[key] = float(value) if expected is float else value
    return TrainConfig(**merged)


def load_config(path: Path | str | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML file (a mapping, optionally under a top-level ``train:`` key) plus overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from err
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of train settings")
        values = loaded.get("train", loaded) if isinstance(loaded.get("train"), dict) else loaded
    values = {**values, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return config_from_mapping(values)
