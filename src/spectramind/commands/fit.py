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
        "--drift-degree", type=int, default=2, help="polynomial degree of the drift in time (2)"
    )
    parser.add_argument("--no-regressors", action="store_true", help="ignore the jitter regressors")
    for coefficient, documented in (("u1", "0 0.8"), ("u2", "0 0.4")):
        parser.add_argument(
            f"--ld-{coefficient}-range",
            type=float,
            nargs=2,
            metavar=("LOW", "HIGH"),
            help=f"allowed quadratic limb-darkening {coefficient} (default {documented}, the "
            "range of FORMAT.md section 8)",
        )


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


def run(args: argparse.Namespace) -> int:
    """fit the limb-darkened transit model to one planet's calibrated visits

    Geometry from FGS1 + AIRS white light (star info as priors), limb darkening smooth in
    wavelength, per-wavelength depths (Rp/Rs)^2 with a multiplicative drift, visits combined by
    inverse variance. Writes the 'Physics fit file' of docs/CONTRACTS.md. A failed fit falls
    back to flux-ratio depths with a large sigma (meta 'fallback', 'reasons') instead of
    failing.
    """
    from dataclasses import replace

    from spectramind.artifacts.calibrated import read_calibrated_visit
    from spectramind.artifacts.fits import write_planet_fit
    from spectramind.errors import DataFormatError
    from spectramind.physics.fit import FitConfig, fit_planet

    star, split = _read_star(args.star_info, args.planet)
    visits = [read_calibrated_visit(path) for path in args.calibrated]
    for lc in visits:
        if lc.n_bins < MIN_FIT_BINS:
            raise DataFormatError(
                f"{lc.source}: expected time_h of shape (n_bins>={MIN_FIT_BINS},), "
                f"found ({lc.n_bins},)"
            )
        if lc.planet_id is not None and lc.planet_id != args.planet:
            raise DataFormatError(
                f"{lc.source}: expected planet {args.planet}, found planet {lc.planet_id}"
            )
    ld_bounds = {
        f"ld_{coefficient}_bounds": tuple(given)
        for coefficient, given in (("u1", args.ld_u1_range), ("u2", args.ld_u2_range))
        if given is not None
    }  # not given: FitConfig's defaults
    config = replace(
        FitConfig(),
        drift_degree=args.drift_degree,
        use_regressors=not args.no_regressors,
        **ld_bounds,
    )
    start = time.perf_counter()
    result = fit_planet(visits, star, config, planet_id=args.planet, split=split)
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
