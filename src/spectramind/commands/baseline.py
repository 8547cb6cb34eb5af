"""``spectramind baseline``: the public non-ML baseline (white-light depth everywhere).

Calibrated visit files (``--calibrated-dir DIR`` of ``<planet_id>_<visit>.npz`` and/or
``--calibrated FILE ...``) are grouped by planet. With ``--labels TRAIN_CSV`` the labelled
planets among them calibrate the depth scale and the constant sigma
(:func:`spectramind.baselines.calibrate_baseline`); the predictions file then holds the other
(unlabelled) planets, or all with ``--planets all``. Writes the Predictions file of
docs/CONTRACTS.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from spectramind.commands._common import add_calibrated_visits_option, add_command

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "baseline", run)
    parser.add_argument(
        "--calibrated-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="folder of calibrated visit files <planet_id>_<visit>.npz (repeatable)",
    )
    add_calibrated_visits_option(
        parser, "calibrated visit files (planet id from the file meta or name)"
    )
    parser.add_argument(
        "--labels",
        type=Path,
        metavar="TRAIN_CSV",
        help="train.csv: labelled planets calibrate the depth scale and sigma",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="PRED.npz")
    parser.add_argument(
        "--planets",
        choices=("unlabelled", "all"),
        default="unlabelled",
        help="predict the planets without a label (default) or all planets",
    )
    parser.add_argument("--sigma", type=float, help="constant sigma (overrides the calibration)")
    parser.add_argument("--depth-scale", type=float, help="depth scale (overrides the calibration)")


FULL_OBSERVATION_H = 7.5  # length of a real visit [h]; the baseline defaults suit it


def time_scaled_config(config, paths_by_planet: dict):
    """``config`` with its time windows (smoothing, margin) scaled to the visits' length.

    The defaults suit 7.5 h visits. Shorter simulated visits (``--frames-scale``) compress the
    transit in time, so the smoothing window and margins shrink by the same factor (never
    above 1): the method is unchanged, only its time unit follows the data.
    """
    from dataclasses import replace

    from spectramind.artifacts.calibrated import read_calibrated_visit

    spans = []
    for paths in paths_by_planet.values():
        t = read_calibrated_visit(paths[0]).time_h
        spans.append(float(t.max() - t.min()) if t.size > 1 else FULL_OBSERVATION_H)
        if len(spans) >= 5:
            break
    scale = min(1.0, max(float(sum(spans) / len(spans)) / FULL_OBSERVATION_H, 1e-3))
    return replace(config, smooth_h=config.smooth_h * scale, margin_h=config.margin_h * scale)


def group_by_planet(dirs: list[Path], files: list[Path]) -> dict[int, list[Path]]:
    """``{planet_id: [visit files]}`` from folders of ``<planet_id>_<visit>.npz`` and files."""
    from spectramind.artifacts.calibrated import read_calibrated_visit
    from spectramind.errors import DataFormatError

    paths = list(files)
    for folder in dirs:
        if not folder.is_dir():
            raise DataFormatError(f"{folder}: expected a folder of calibrated visit files")
        found = sorted(folder.glob("*.npz"))
        if not found:
            raise DataFormatError(f"{folder}: expected <planet_id>_<visit>.npz files, found none")
        paths += found
    groups: dict[int, list[Path]] = {}
    for path in paths:
        if not path.is_file():
            raise DataFormatError(f"{path}: calibrated visit file not found")
        stem = path.stem.split("_")[0]
        if stem.isdigit():
            pid = int(stem)
        else:
            pid = read_calibrated_visit(path).planet_id
            if pid is None:
                raise DataFormatError(
                    f"{path}: no planet_id in meta and the name is not <planet_id>_<visit>.npz"
                )
        groups.setdefault(pid, []).append(path)
    if not groups:
        raise DataFormatError("no calibrated visit files given (--calibrated-dir / --calibrated)")
    return {pid: sorted(v) for pid, v in sorted(groups.items())}


def run(args: argparse.Namespace) -> int:
    """public baseline: one white-light depth for all wavelengths, constant sigma

    White light curve, ingress/egress, cubic baseline with one box depth; the same depth at
    all 283 wavelengths and one sigma. With --labels, the depth scale and sigma are fitted on
    the labelled planets and the others are predicted.
    """
    from dataclasses import replace

    import numpy as np

    from spectramind import baselines
    from spectramind.artifacts.tables import align_on_planet_id, read_labels
    from spectramind.errors import DataFormatError

    groups = group_by_planet(args.calibrated_dir, args.calibrated)
    config = time_scaled_config(baselines.BaselineConfig(), groups)
    labelled: set[int] = set()
    if args.labels is not None:
        labels = read_labels(args.labels)
        labelled = set(groups) & set(labels.planet_ids.tolist())
        if labelled:
            ids = sorted(labelled)
            fits = [baselines.planet_baseline(groups[p], config, p) for p in ids]
            ok = [k for k, f in enumerate(fits) if not f.fallback]
            if not ok:
                raise DataFormatError("baseline: no labelled planet could be fitted")
            white = np.array([np.mean(fits[k].visit_depths) for k in ok])
            rows = align_on_planet_id(
                [ids[k] for k in ok], labels.planet_ids, source=str(args.labels), expected="a label"
            )
            scale, sigma = baselines.calibrate_baseline(white, labels.values[rows])
            config = replace(config, depth_scale=scale, sigma=sigma)
            log.info(
                "calibrated on %d labelled planets: depth scale %.4f, sigma %.3g",
                len(ok),
                scale,
                sigma,
            )
        else:
            log.warning("%s: none of the calibrated planets has a label", args.labels)
    if args.depth_scale is not None:
        config = replace(config, depth_scale=args.depth_scale)
    if args.sigma is not None:
        config = replace(config, sigma=args.sigma)
    wanted = (
        groups if args.planets == "all" else {p: v for p, v in groups.items() if p not in labelled}
    )
    if not wanted:
        raise DataFormatError(
            "baseline: every calibrated planet has a label; nothing to predict "
            "(use --planets all to predict them too)"
        )
    baselines.write_baseline_predictions(wanted, args.out, config)
    log.info("wrote baseline predictions for %d planets to %s", len(wanted), args.out)
    return 0
