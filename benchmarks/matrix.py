"""The robustness matrix of ``benchmarks/science.py --matrix`` (issue 13).

One row per dataset, each differing from our default simulator in one way (docs/
simulate-variants.md), plus an ExoSim 2 dataset written by a different simulator altogether
(benchmarks/exosim/); every row is measured by the same code (:func:`science.measure`) with the
same ceiling definition (:mod:`spectramind.oracles.independent_ceiling`).
Each row lives in its own work
folder ``ROOT/<row>/`` (``data/``, ``calibrated/``, fits per ``--fit-tag``, ceiling cache), built
if missing and cached; simulator rows are simulated and calibrated planet by planet with the raw
frames discarded (only calibrated products, metadata files and truth are needed afterwards).

Usage (the issue's sizes; ~1-3 h per row on 2 shared cores)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/science.py --matrix \\
        --matrix-root artifacts/science-matrix --train 100 --test 25 --frames-scale 0.25 \\
        --seed 99 --workers 2

``--no-build`` measures only the rows whose data exist; ``--rows a,b`` picks rows.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("science.matrix")


@dataclass(frozen=True)
class Row:
    name: str
    variants: tuple[str, ...] = ()
    generator: str = "spectramind"  # "spectramind" (our simulator) or "exosim"
    # (train, test, seed, frames_scale) when not the command line's
    size: tuple[int, int, int, float] | None = None

    def describe(self) -> str:
        if self.generator == "exosim":
            return "ExoSim 2 (benchmarks/exosim)"
        text = "simulator " + (", ".join(self.variants) if self.variants else "default")
        return text


ROWS = (
    Row("default"),
    Row("limb-darkening", ("limb-darkening",)),
    Row("systematics", ("systematics",)),
    Row("wavelengths", ("wavelengths",)),
    Row("cosmics", ("cosmics",)),
    Row("star-info", ("star-info",)),
    Row("spectra", ("spectra",)),
    Row("exosim", generator="exosim"),
    # The docs/science.md acceptance size: full-length visits.
    Row("default-full", size=(120, 40, 2025, 1.0)),
)


def row_args(args: argparse.Namespace, row: Row) -> argparse.Namespace:
    out = copy.copy(args)
    if row.size is not None:
        out.train, out.test, out.seed, out.frames_scale = row.size
    out.variant = list(row.variants)
    out.work = args.matrix_root / row.name
    return out


def _stamp_ok(args: argparse.Namespace, data: Path) -> bool:
    import science

    stamp, want = science._dataset_stamp(args, data, raw="discarded")
    return stamp.is_file() and json.loads(stamp.read_text()) == want


def _exosim_ready(data: Path, cal: Path) -> bool:
    from spectramind.data import reader

    if not (data / "train.csv").is_file():
        return False
    for split in ("train", "test"):
        for pid in reader.discover_planets(data, split):
            if not (cal / split / f"{pid}_0.npz").is_file():
                return False
    return True


def prepare(args: argparse.Namespace, row: Row, build: bool) -> tuple[str, dict]:
    """Make the row's calibrated data if allowed; returns (status, calibration timing)."""
    import science

    data, cal = args.work / "data", args.work / "calibrated"
    if row.generator == "exosim":
        if not (data / "train.csv").is_file():
            return "missing: run scripts/exosim-env.sh, then benchmarks/exosim/generate.py", {}
        if _exosim_ready(data, cal):
            return "ready", {}
        if not build:
            return "missing: not calibrated (run without --no-build)", {}
        return "ready", science.calibrate(args, data, cal)
    if _stamp_ok(args, data):
        return "ready", {}
    if not build:
        return "missing: not simulated (run without --no-build)", {}
    args.work.mkdir(parents=True, exist_ok=True)
    if row.variants == ("star-info",):
        default = row_args(args, ROWS[0])
        if _stamp_ok(default, default.work / "data"):
            derive_star_info(default.work, args)
            return "ready", {}
    return "ready", science.simulate_streaming(args, data, cal)


def derive_star_info(default_work: Path, args: argparse.Namespace) -> None:
    """Build the star-info row from the default row without simulating a frame.

    The ``star-info`` variant draws its catalogue errors from its own stream, so its frames,
    calibration maps and hence calibrated products are byte-identical to the default dataset's
    (tests/test_simulate_variants.py checks this); only the star-info csv and the truth differ.
    Planet folders and calibrated products are linked from the default row, the truth and the
    tables are written anew.
    """
    import shutil

    import science

    from spectramind.simulate import SimulationConfig
    from spectramind.simulate.dataset import (
        planet_tasks,
        truth_csv_path,
        truth_dir_path,
        write_tables,
    )
    from spectramind.simulate.planet import save_truth

    work = args.work
    data, src = work / "data", default_work / "data"
    config = SimulationConfig(
        args.train, args.test, args.seed, args.frames_scale, variants=("star-info",)
    )
    for sub in (data, truth_dir_path(data)):
        if sub.exists():
            shutil.rmtree(sub)
    truths = []
    for task in planet_tasks(config, data, truth_dir_path(data)):
        truth = task.draw()
        folder = data / task.split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(truth.planet_id)).symlink_to(src / task.split / str(truth.planet_id))
        save_truth(truth_dir_path(data) / task.split / f"{truth.planet_id}.npz", truth)
        truths.append(truth)
    write_tables(data, truths, config.n_airs_cds, truth_csv_path(data), None)
    cal = work / "calibrated"
    if not cal.exists():
        cal.symlink_to(default_work / "calibrated")
    stamp, want = science._dataset_stamp(args, data, raw="discarded")
    stamp.write_text(json.dumps(want))
    log.info("star-info row derived from %s (%d planets)", default_work, len(truths))


def _by_name(results: dict) -> dict[str, dict]:
    return {r["approach"]: r for r in results["rows"]}


def _interval(row: dict) -> str:
    low_high = row.get("z_rms_interval")  # absent in results written before it was added
    return f"{low_high[0]:.2f}-{low_high[1]:.2f}" if low_high else "n/a"


def _calibrated(row: dict) -> str:
    low_high = row.get("z_rms_calibrated_interval")  # absent in results written before it
    if not low_high:
        return "n/a"
    inside = low_high[0] <= row["z_rms"] <= low_high[1]
    return f"{low_high[0]:.2f}-{low_high[1]:.2f} ({'inside' if inside else 'OUTSIDE'})"


def markdown(rows: list[dict]) -> str:
    head = (
        "| row | data | naive | baseline | physics | physics + torch | ceiling | torch - baseline "
        "| ceiling - torch | FGS / AIRS torch | FGS / AIRS ceiling | z RMS torch (all / FGS / "
        "AIRS) | z RMS torch, 90 % over test planets | z RMS a calibrated model shows, 90 % | "
        "coverage torch | z RMS physics |"
    )
    lines = [head, "|" + "---|" * 2 + "---:|" * 14]
    for r in rows:
        if "results" not in r:
            lines.append(f"| {r['row']} | {r['data']} | {r['status']} |" + " |" * 13)
            continue
        a = _by_name(r["results"])
        base, phys = a["public baseline"], a["physics (depth, depth_err)"]
        torch, ceil = a["physics + torch"], a["ceiling (independent noise)"]
        lines.append(
            f"| {r['row']} | {r['data']} | {a['naive']['score']:.3f} | {base['score']:.3f} | "
            f"{phys['score']:.3f} | **{torch['score']:.3f}** | {ceil['score']:.3f} | "
            f"{torch['score'] - base['score']:+.3f} | {ceil['score'] - torch['score']:+.3f} | "
            f"{torch['fgs_score']:.3f} / {torch['airs_score']:.3f} | "
            f"{ceil['fgs_score']:.3f} / {ceil['airs_score']:.3f} | "
            f"{torch['z_rms']:.2f} / {torch['z_rms_fgs']:.2f} / {torch['z_rms_airs']:.2f} | "
            f"{_interval(torch)} | {_calibrated(torch)} | {torch['within_1sigma']:.3f} | "
            f"{phys['z_rms']:.2f} |"
        )
    return "\n".join(lines)


def run_matrix(args: argparse.Namespace) -> None:
    import science

    names = [r.name for r in ROWS]
    wanted = args.rows.split(",") if args.rows else names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise SystemExit(
            f"--rows: unknown row(s) {', '.join(unknown)}; expected {', '.join(names)}"
        )
    args.matrix_root.mkdir(parents=True, exist_ok=True)
    out_rows = []
    for row in (r for r in ROWS if r.name in wanted):
        rargs = row_args(args, row)
        made = rargs.work / "data.config.json"
        if row.generator == "exosim" and made.is_file():
            # the ExoSim set has its own size (it is made by its own environment)
            info = json.loads(made.read_text())
            rargs.train, rargs.test = info["train"], info["test"]
            rargs.seed, rargs.frames_scale = info["seed"], info["frames_scale"]
        size = f"{rargs.train}/{rargs.test}, x{rargs.frames_scale:g}, seed {rargs.seed}"
        entry = {"row": row.name, "data": f"{row.describe()} ({size})"}
        started = time.perf_counter()
        status, cal_timing = prepare(rargs, row, build=not args.no_build)
        entry["status"] = status
        entry["build_seconds"] = time.perf_counter() - started
        if status == "ready":
            log.info("matrix row %s: measuring %s", row.name, rargs.work)
            t0 = time.perf_counter()
            entry["results"] = science.measure(
                rargs, rargs.work, rargs.work / "data", cal_timing, ceilings=("independent",)
            )
            entry["measure_seconds"] = time.perf_counter() - t0
        else:
            log.warning("matrix row %s: %s", row.name, status)
        out_rows.append(entry)
    table = markdown(out_rows)
    result = {"command": " ".join(sys.argv), "fit_tag": args.fit_tag, "rows": out_rows}
    path = args.out or args.matrix_root / f"matrix-{args.fit_tag}.json"
    path.write_text(json.dumps(result, indent=1))
    print(table)
    print(f"\n(details: {path})")
    logging.getLogger("science").info("matrix written to %s", path)
