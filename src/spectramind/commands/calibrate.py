"""``spectramind calibrate``: raw frames of planet visits -> calibrated visit files.

One visit: ``--planet ID [--visit N] --out PATH`` (what the workflow's per-planet rule calls).
Several planets in one process: ``--planet A --planet B ... --out-dir DIR`` writes
``DIR/<planet_id>_<visit>.npz`` for every visit (or only ``--visit N``), logging progress.
"""

from __future__ import annotations

import argparse
import logging
import time

from spectramind.commands._common import add_command

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "calibrate", run)
    parser.add_argument("--data-dir", required=True, help="dataset folder (Kaggle layout)")
    parser.add_argument("--split", required=True, choices=["train", "test"])
    parser.add_argument(
        "--planet", required=True, type=int, action="append", help="planet id (repeatable)"
    )
    parser.add_argument(
        "--visit",
        type=int,
        default=None,
        help="visit number (default: 0 with --out, all with --out-dir)",
    )
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="output .npz for one planet visit")
    out.add_argument("--out-dir", help="output folder: <planet_id>_<visit>.npz per visit")
    parser.add_argument("--config", help="YAML with calibration settings (steps, dtype)")
    parser.add_argument(
        "--steps-json",
        help='per-step overrides as JSON, e.g. \'{"linearity": {"skip": true}}\' '
        "(the workflow passes config calibrate.steps this way)",
    )
    parser.add_argument(
        "--preset", choices=["default", "starter"], default=None, help="parameter preset"
    )


def run(args: argparse.Namespace) -> int:
    """calibrate raw AIRS-CH0/FGS1 frames into light curves (one file per visit)

    Calibrate planet visits: ADC decode, crop, hot/dead masking, linearity, dark, CDS, flat,
    cosmic rays, time binning, background, jitter regressors, extraction. Writes the calibrated
    visit file of docs/CONTRACTS.md.
    """
    from pathlib import Path

    from spectramind.artifacts.calibrated import write_calibrated_visit
    from spectramind.calibrate import config as cfgmod
    from spectramind.calibrate.pipeline import StepTimer, calibrate_visit
    from spectramind.data.reader import discover_visits
    from spectramind.errors import ConfigError

    overrides = cfgmod.load_config_file(args.config) if args.config else {}
    if args.steps_json:
        import json

        try:
            steps = json.loads(args.steps_json)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--steps-json: not valid JSON ({err})") from err
        overrides = {**overrides, "steps": {**overrides.get("steps", {}), **steps}}
    cfg = cfgmod.build_config(overrides, preset=args.preset)
    if args.out is not None:
        if len(args.planet) != 1:
            raise ConfigError(
                f"--out takes one planet, found {len(args.planet)}: use --out-dir for several"
            )
        jobs = [(args.planet[0], 0 if args.visit is None else args.visit, Path(args.out))]
    else:
        jobs = []
        for pid in args.planet:
            visits = (
                [args.visit]
                if args.visit is not None
                else discover_visits(args.data_dir, args.split, pid)
            )
            jobs += [(pid, v, Path(args.out_dir) / f"{pid}_{v}.npz") for v in visits]
    timer = StepTimer()
    started = time.perf_counter()
    for i, (pid, visit, path) in enumerate(jobs, 1):
        t0 = time.perf_counter()
        result = calibrate_visit(args.data_dir, args.split, pid, visit, cfg, timer)
        write_calibrated_visit(path, result)
        elapsed = time.perf_counter() - started
        log.info(
            "calibrated %d/%d: planet %s visit %s in %.1f s -> %s (eta %.0f s)",
            i,
            len(jobs),
            pid,
            visit,
            time.perf_counter() - t0,
            path,
            elapsed / i * (len(jobs) - i),
        )
    split = ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(timer.seconds.items(), key=lambda kv: -kv[1])
    )
    log.info("time per step [s]: %s", split)
    return 0
