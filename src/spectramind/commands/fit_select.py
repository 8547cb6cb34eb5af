"""``spectramind fit-select``: the fit configuration chosen by the train planets' labels."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from spectramind.commands._common import add_calibrated_visits_option, add_command
from spectramind.commands.fit import read_visits_to_fit

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "fit-select", run)
    add_calibrated_visits_option(
        parser,
        "calibrated visits of train planets (the planet id is read from each file)",
        required=True,
    )
    parser.add_argument("--labels", type=Path, required=True, metavar="CSV", help="train.csv")
    parser.add_argument(
        "--star-info", type=Path, required=True, metavar="CSV", help="train_star_info.csv"
    )
    parser.add_argument(
        "--wavelengths",
        type=Path,
        metavar="CSV",
        help="wavelengths.csv (default: beside --star-info)",
    )
    parser.add_argument(
        "--fit-config", metavar="JSON", help="base FitConfig settings (as for spectramind fit)"
    )
    parser.add_argument(
        "--candidates",
        metavar="JSON",
        help="a JSON list of FitConfig overrides to compare (default: per-visit cross-validated "
        "drift and fixed degrees 1, 2, 3)",
    )
    parser.add_argument(
        "--planets", type=int, default=40, help="train planets to fit per candidate (40)"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="JSON", help="output file")


def run(args: argparse.Namespace) -> int:
    """choose the physics-fit configuration by fitting train planets against their labels

    Fit a seeded subset of the train planets with every candidate configuration (FitConfig
    overrides on top of --fit-config) and write the one whose depths lie closest to train.csv
    (weighted like the metric) as JSON for 'spectramind fit --fit-config-file'. Settles what
    one light curve cannot, such as how flexible a drift the dataset needs
    (src/spectramind/physics/selection.py).
    """
    import json

    import numpy as np

    from spectramind import plan
    from spectramind.data import layout
    from spectramind.data.reader import read_star_info, read_wavelengths_csv
    from spectramind.errors import ConfigError, DataFormatError
    from spectramind.io import atomic_path
    from spectramind.model.data import read_labels_csv
    from spectramind.physics import selection
    from spectramind.physics.config import fit_config_from_mapping
    from spectramind.physics.fit import fit_planet

    def mapping(text: str | None, what: str, kind: type):
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{what}: not valid JSON ({err})") from err
        if not isinstance(value, kind):
            raise ConfigError(f"{what}: expected a JSON {kind.__name__}, found {text!r}")
        return value

    from spectramind.repro.guardrails import set_blas_threads

    set_blas_threads(1)  # as spectramind fit: the same bytes for any thread count
    base = mapping(args.fit_config, "--fit-config", dict) or {}
    candidates = mapping(args.candidates, "--candidates", list)
    candidates = list(candidates if candidates is not None else selection.DEFAULT_CANDIDATES)
    if not candidates or not all(isinstance(c, dict) for c in candidates):
        raise ConfigError("--candidates: expected a non-empty JSON list of mappings")
    configs = [fit_config_from_mapping({**base, **c}) for c in candidates]  # validates each

    wavelengths = read_wavelengths_csv(
        args.wavelengths or args.star_info.parent / layout.WAVELENGTHS_CSV
    )
    label_ids, label_values = read_labels_csv(args.labels)
    labels = dict(zip(label_ids.tolist(), label_values, strict=True))
    stars = read_star_info(args.star_info.parent, "train")
    visits: dict[int, list] = {}
    for lc in read_visits_to_fit(args.calibrated):
        if lc.planet_id is None:
            raise DataFormatError(f"{lc.source}: no planet_id in the calibrated visit's meta")
        visits.setdefault(lc.planet_id, []).append(lc)
    usable = [p for p in visits if p in labels and p in stars]
    if not usable:
        raise DataFormatError(
            f"{args.labels}: none of the {len(visits)} planets given has a label and star info"
        )
    planets = plan.selection_subset(usable, args.planets, seed=0)
    truth = np.stack([labels[p] for p in planets])
    depths = []
    for k, config in enumerate(configs):
        log.info(
            "candidate %d/%d %s: fitting %d planets",
            k + 1,
            len(configs),
            candidates[k],
            len(planets),
        )
        fits = [fit_planet(visits[p], stars[p], config, p, "train", wavelengths) for p in planets]
        depths.append(np.stack([f.depth for f in fits]))
    chosen = selection.choose(candidates, depths, truth, planets)
    report = {"config": {**base, **chosen.overrides}, "selection": chosen.to_dict()}
    with atomic_path(args.out, ".json") as tmp:
        tmp.write_text(json.dumps(report, sort_keys=True, indent=1) + "\n")
    log.info("chose %s -> %s", chosen.overrides, args.out)
    return 0
