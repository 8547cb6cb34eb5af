"""``spectramind fit``: physics fit of one planet (all its calibrated visits) to depths + sigmas."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from spectramind.commands._common import add_calibrated_visits_option, add_command

log = logging.getLogger(__name__)

MIN_FIT_BINS = 10  # fewer time bins than this cannot constrain the transit and the drift


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "fit", run)
    add_calibrated_visits_option(
        parser,
        "calibrated visit files of the planet (spectramind calibrate outputs)",
        required=True,
    )
    parser.add_argument(
        "--star-info",
        type=Path,
        required=True,
        metavar="CSV",
        help="<data_dir>/<split>_star_info.csv",
    )
    parser.add_argument("--planet", type=int, required=True, metavar="ID", help="planet id")
    parser.add_argument("--out", type=Path, required=True, metavar="PATH", help="output .npz")
    parser.add_argument(
        "--wavelengths",
        type=Path,
        metavar="CSV",
        help="the dataset's wavelengths.csv (wl_1..wl_283 [micron]); default: wavelengths.csv "
        "beside --star-info",
    )
    parser.add_argument(
        "--fit-config",
        metavar="JSON",
        help="FitConfig settings as a JSON mapping, e.g. '{\"ld_prior_sigma\": [0.2, 0.2]}' "
        "(the workflow passes config['fit']); unknown keys are refused",
    )
    parser.add_argument(
        "--fit-config-file",
        type=Path,
        metavar="JSON",
        help="FitConfig settings from a file: its 'config' mapping (as 'spectramind fit-select' "
        "writes) or the whole file; --fit-config and the options below override it",
    )
    parser.add_argument(
        "--drift-degree",
        type=int,
        help="polynomial degree of the drift in time (default: chosen per instrument by "
        "cross-validation, fit config drift_degree -1)",
    )
    parser.add_argument("--no-regressors", action="store_true", help="ignore the jitter regressors")


def _read_star(path: Path, planet_id: int) -> tuple[dict[str, float], str]:
    from spectramind.data import layout, reader
    from spectramind.errors import DataFormatError

    splits = {name: split for split, name in layout.STAR_INFO_CSV.items()}
    if path.name not in splits:
        raise DataFormatError(
            f"{path}: expected a star-info file named one of {sorted(splits)}, found {path.name!r}"
        )
    split = splits[path.name]
    table = reader.read_star_info(path.parent, split)
    if planet_id not in table:
        raise DataFormatError(f"{path}: expected a row for planet {planet_id}, found none")
    return table[planet_id], split


def _fit_config(args: argparse.Namespace):
    import json

    from spectramind.errors import ConfigError
    from spectramind.physics.config import fit_config_from_mapping

    values = {}
    if args.fit_config_file:
        try:
            loaded = json.loads(args.fit_config_file.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"{args.fit_config_file}: not a readable JSON file ({err})") from err
        values = loaded.get("config", loaded) if isinstance(loaded, dict) else None
        if not isinstance(values, dict):
            raise ConfigError(f"{args.fit_config_file}: expected a JSON mapping of fit settings")
        values = dict(values)
    if args.fit_config:
        try:
            overrides = json.loads(args.fit_config)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--fit-config: not valid JSON ({err})") from err
        if not isinstance(overrides, dict):
            raise ConfigError(f"--fit-config: expected a JSON mapping, found {args.fit_config!r}")
        values.update(overrides)
    if args.drift_degree is not None:
        values["drift_degree"] = args.drift_degree
    if args.no_regressors:
        values["use_regressors"] = False
    return fit_config_from_mapping(values)


def read_visits_to_fit(paths: list[Path], planet_id: int | None = None) -> list:
    """The calibrated visits at ``paths`` (:class:`~spectramind.artifacts.calibrated.
    CalibratedVisit`), refused with :class:`~spectramind.errors.DataFormatError` naming the
    file when one has too few time bins to fit or (``planet_id`` given) another planet's id."""
    from spectramind.artifacts.calibrated import read_calibrated_visit
    from spectramind.errors import DataFormatError

    visits = [read_calibrated_visit(path) for path in paths]
    for lc in visits:
        if lc.n_bins < MIN_FIT_BINS:
            raise DataFormatError(
                f"{lc.source}: expected time_h of shape (n_bins>={MIN_FIT_BINS},), "
                f"found ({lc.n_bins},)"
            )
        if planet_id is not None and lc.planet_id is not None and lc.planet_id != planet_id:
            raise DataFormatError(
                f"{lc.source}: expected planet {planet_id}, found planet {lc.planet_id}"
            )
    return visits


def run(args: argparse.Namespace) -> int:
    """fit the limb-darkened transit model to one planet's calibrated visits

    Geometry from FGS1 + AIRS white light (star info as priors), limb darkening in its physical
    range with a grey-atmosphere prior and smooth in wavelength (the dataset's wavelengths.csv),
    per-wavelength depths (Rp/Rs)^2 with a multiplicative drift whose degree is chosen by
    cross-validation, visits combined by inverse variance. Writes the 'Physics fit file' of
    docs/CONTRACTS.md. A failed fit falls back to flux-ratio depths with a large sigma (meta
    'fallback', 'reasons') instead of failing.
    """
    from spectramind.artifacts.fits import write_planet_fit
    from spectramind.data import layout
    from spectramind.data.reader import read_wavelengths_csv
    from spectramind.physics.fit import fit_planet
    from spectramind.repro.guardrails import set_blas_threads

    # One BLAS thread: a split reduction would make the bytes depend on the thread count (the
    # workflow runs planets in parallel instead).
    set_blas_threads(1)
    config = _fit_config(args)
    star, split = _read_star(args.star_info, args.planet)
    wavelengths = read_wavelengths_csv(
        args.wavelengths or args.star_info.parent / layout.WAVELENGTHS_CSV
    )
    visits = read_visits_to_fit(args.calibrated, args.planet)
    start = time.perf_counter()
    result = fit_planet(
        visits, star, config, planet_id=args.planet, split=split, wavelengths_um=wavelengths
    )
    write_planet_fit(args.out, result)
    log.info(
        "planet %d: %d visit(s) fitted in %.2f s%s -> %s",
        args.planet,
        len(visits),
        time.perf_counter() - start,
        " (FALLBACK: " + "; ".join(result.meta["reasons"]) + ")" if result.meta["fallback"] else "",
        args.out,
    )
    return 0
