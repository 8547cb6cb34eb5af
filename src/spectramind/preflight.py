"""Checks the workflow runs before any job, also in dry runs: fail in one line, not in job 400.

The Snakefile calls :func:`run_preflight` at parse time (main process only). Each check raises a
:class:`~spectramind.errors.SpectraMindError` whose message is the one line the user sees:

- ``cores``: at least 1 (``--cores 0`` would wait for a free core forever);
- ``calibrate``: ``calibrate.preset``, every step name in ``calibrate.steps`` and every step
  parameter is known and of the right type (what each calibrate job would refuse);
- ``data_dir`` (real data only; the simulator writes the embedded dataset): exists and has the
  ADC 2025 layout and tables, with no planet listed twice, by
  :func:`spectramind.data.validate.check_layout`, so the message is the one
  ``spectramind validate`` prints;
- ``model`` (predict-only mode): ``data_dir`` is set (only its test split is checked, the one
  the run reads) and the checkpoint has the hash its training record lists
  (:func:`spectramind.repro.shipped.verify_model`), and the run's ``calibrate``, ``fit`` and
  ``seed`` are the training run's (its config snapshot beside the checkpoint).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import IO, Any

from spectramind.errors import ConfigError, SpectraMindError

log = logging.getLogger(__name__)


def check_cores(cores: int | None) -> None:
    """``--cores`` must be at least 1 when given (None: snakemake decides, e.g. ``--lint``)."""
    if cores is not None and int(cores) < 1:
        raise ConfigError(f"--cores {cores}: expected at least 1 core")


def check_calibrate_config(config: dict[str, Any]) -> None:
    """Build the calibration config the jobs will build, so an unknown step or parameter fails
    here (the message names it)."""
    from spectramind.calibrate.config import build_config

    section = config.get("calibrate") or {}
    build_config({"steps": section.get("steps") or {}}, preset=section.get("preset"))


def check_dataset(
    data_dir: Path | str, split: str | None = None
) -> dict[str, dict[int, list[int]]]:
    """The layout and tables of a real data folder (:func:`check_layout`), one split or all."""
    from spectramind.data.validate import check_layout

    return check_layout(data_dir, split)


def check_model(
    model: Path | str, data_dir: Path | str | None, config: dict[str, Any] | None = None
) -> None:
    """Predict-only mode: data to predict, a checkpoint that matches its training record, and
    the training run's calibration, fit and seed settings."""
    from spectramind.repro.shipped import check_same_science, verify_model

    if data_dir is None:
        raise ConfigError(
            f"model: {model}: predict-only mode needs data_dir (the test split to predict), "
            "found none"
        )
    verify_model(model)
    if config is not None:
        check_same_science(model, config)


def preflight(
    config: dict[str, Any],
    cores: int | None,
    data_dir: Path | str | None,
    model: Path | str | None = None,
) -> None:
    """Every check; ``data_dir`` None when the workflow simulates its dataset, ``model`` the
    shipped checkpoint in predict-only mode."""
    check_cores(cores)
    check_calibrate_config(config)
    if model is not None:
        check_model(model, data_dir, config)
    if data_dir is not None:
        found = check_dataset(data_dir, "test" if model is not None else None)
        log.info(
            "preflight: %s has %s",
            data_dir,
            ", ".join(f"{len(planets)} {split} planets" for split, planets in found.items()),
        )


def run_preflight(
    config: dict[str, Any],
    cores: int | None,
    data_dir: Path | str | None,
    stream: IO[str] | None = None,
    model: Path | str | None = None,
) -> None:
    """:func:`preflight` for a Snakefile: on failure write ``error: <message>`` and exit 2
    (``SystemExit``, so Snakemake prints no traceback and starts no job)."""
    try:
        preflight(config, cores, data_dir, model)
    except SpectraMindError as err:
        (stream or sys.stderr).write(f"error: {err}\n")
        raise SystemExit(err.exit_code) from None
