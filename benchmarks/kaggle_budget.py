"""Benchmark: the Kaggle budget of the predict-only path, projected to 1100 test planets.

Usage: python benchmarks/kaggle_budget.py --model DIR [--planets N] [--cores C] [--keep DIR]

Simulates N full-size test planets (real frame counts, ~500 MB per visit; seed 77, a second
visit for every planet so both visit counts are timed), runs the predict-only workflow on them
with the shipped model folder ``DIR`` (``spectramind export-model`` or a bundle's ``model/``)
on C cores, and reads each job's Snakemake ``benchmark:`` record (wall seconds, peak RSS).
Prints the per-visit calibrate and per-planet fit medians, predict/submit/import_model per run,
the whole run's wall time, and the projection for 1100 planets x 1.1 visits on 4 cores:

    wall = (visits x calibrate_visit + planets x fit_planet + jobs x overhead) / 4
           + predict + submit + import_model (the jobs as measured: their fixed cost)
           + 1100 x (predict + submit per planet, timed on 1100 planets: the fits' rows repeated)
    peak memory = 4 x the largest per-job RSS (4 jobs side by side) + Snakemake's own

with the measured per-job scheduling overhead (run wall x cores - sum of job walls) added per
job. The 1 GPU + 4 CPU projection is the same: calibrate and fit (all but seconds of the work)
run on the CPU, and the bundle ships torch's CPU build. The load average is printed: these
machines are shared, so the figures are upper bounds.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_H = 9.0
KAGGLE_PLANETS = 1100
VISITS_PER_PLANET = 1.1
KAGGLE_CORES = 4


def bench(path: Path) -> dict[str, float]:
    """A job's wall seconds, CPU seconds and peak RSS (MB); zeros when the job left none."""
    if not path.is_file():
        return {"s": 0.0, "cpu_s": 0.0, "rss_mb": 0.0}
    with open(path) as handle:
        row = next(csv.DictReader(handle, delimiter="\t"))
    return {"s": float(row["s"]), "cpu_s": float(row["cpu_time"]), "rss_mb": float(row["max_rss"])}


def per_planet_marginal(work: Path, data: Path, model: Path, n: int) -> dict[str, float]:
    """Seconds that predict and submit add per planet, measured at ``n`` planets in this process.

    The run above predicts a handful of planets, so its predict and submit jobs are almost all
    fixed cost (interpreter, torch import, checkpoint load). Here the real fit files' rows are
    repeated to ``n`` planets (new ids) and the two stages' per-planet work is timed on them:
    one forward pass per planet plus the predictions file (predict), and ordering, checking,
    formatting and schema-validating the CSV (submit).
    """
    import numpy as np

    from spectramind.assets import SUBMISSION_SCHEMA, schema_path
    from spectramind.model.data import PlanetTable, feature_files_in, load_planets
    from spectramind.model.predict import load_checkpoint, predict, write_predictions
    from spectramind.submission import write_submission

    table = load_planets(feature_files_in(work / "artifacts/fit/test"), data / "test_star_info.csv")
    rows = np.arange(n) % len(table.planet_id)
    big = PlanetTable(
        planet_id=np.arange(1, n + 1, dtype=np.int64),
        depth=table.depth[rows],
        depth_err=table.depth_err[rows],
        inputs=table.inputs[rows],
        input_names=table.input_names,
    )
    checkpoint = load_checkpoint(model / "model.pt")
    scratch = Path(tempfile.mkdtemp(prefix="spectramind-budget-marginal-"))
    t0 = time.perf_counter()
    mu, sigma = predict(checkpoint, big, "cpu")
    write_predictions(scratch / "test.npz", big.planet_id, mu, sigma)
    t1 = time.perf_counter()
    write_submission(
        scratch / "submission.csv",
        big.planet_id,
        mu,
        sigma,
        big.planet_id.tolist(),
        schema_path(SUBMISSION_SCHEMA),
    )
    t2 = time.perf_counter()
    return {"predict": (t1 - t0) / n, "submit": (t2 - t1) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="shipped model folder")
    parser.add_argument("--planets", type=int, default=2, help="full-size test planets")
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores")
    parser.add_argument("--keep", type=Path, help="work here instead of a temporary folder")
    parser.add_argument(
        "--reuse", action="store_true", help="only read the figures of an earlier run in --keep"
    )
    args = parser.parse_args()
    base = (args.keep or Path(tempfile.mkdtemp(prefix="spectramind-budget-"))).resolve()
    base.mkdir(parents=True, exist_ok=True)
    model = args.model.resolve()
    print(f"workspace {base}; cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}", flush=True)
    data = base / "data"
    if not data.exists():
        t0 = time.perf_counter()
        subprocess.run(
            [
                "spectramind",
                "-q",
                "simulate",
                "--out",
                str(data),
                "--train",
                "1",
                "--test",
                str(args.planets),
                "--seed",
                "77",
                "--full-size",
                "--second-visit-fraction",
                "1",
                "--workers",
                str(args.cores),
            ],
            check=True,
        )
        print(
            f"simulated {args.planets} full-size test planets in {time.perf_counter() - t0:.0f} s"
        )
    work = base / "work"
    work.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    run = (
        None
        if args.reuse
        else subprocess.run(
            [
                "spectramind",
                "workflow",
                "run",
                "--cores",
                str(args.cores),
                "--forceall",
                "--quiet",
                "--configfile",
                str(model / "config-snapshot.yaml"),
                "--config",
                f"data_dir={data}",
                f"model={model / 'model.pt'}",
            ],
            cwd=work,
            check=False,
        )
    )
    wall = time.perf_counter() - t0
    run_wall = base / "run-wall-seconds.txt"  # kept for --reuse
    if run is None:
        wall = float(run_wall.read_text()) if run_wall.is_file() else None
    else:
        run_wall.write_text(f"{wall}\n")
    if run is not None and run.returncode != 0:
        print(f"the workflow failed (exit {run.returncode}): figures of the jobs that ran")
    root = work / "artifacts/benchmarks"
    calib = [bench(p) for p in sorted((root / "calibrate").rglob("*.tsv"))]
    fits = [bench(p) for p in sorted((root / "fit").rglob("*.tsv"))]
    once = {
        name: bench(root / name / f"{stem}.tsv")
        for name, stem in (
            ("import_model", "import_model"),
            ("predict", "test"),
            ("submit", "submit"),
        )
    }
    jobs = [*calib, *fits, *once.values()]
    overhead = 0.0
    if wall is not None:
        overhead = max(0.0, wall * args.cores - sum(j["s"] for j in jobs)) / len(jobs)
        print(f"run: {wall:.1f} s wall on {args.cores} cores; overhead {overhead:.2f} s per job")
    print(f"load after: {os.getloadavg()[0]:.1f}; {len(calib)} visits, {len(fits)} planets")
    for label, items in (("calibrate per visit", calib), ("fit per planet", fits)):
        print(
            f"{label}: wall median {statistics.median(j['s'] for j in items):.2f} s, CPU median "
            f"{statistics.median(j['cpu_s'] for j in items):.2f} s, peak RSS "
            f"{max(j['rss_mb'] for j in items):.0f} MB"
        )
    for name, figure in once.items():
        print(
            f"{name} (once, {args.planets} planets): wall {figure['s']:.2f} s, CPU "
            f"{figure['cpu_s']:.2f} s, peak RSS {figure['rss_mb']:.0f} MB"
        )
    marginal = per_planet_marginal(work, data, model, KAGGLE_PLANETS)
    print(
        f"per planet beyond the fixed cost, at {KAGGLE_PLANETS} planets: predict "
        f"{marginal['predict'] * 1e3:.2f} ms, submit {marginal['submit'] * 1e3:.2f} ms"
    )
    visits = KAGGLE_PLANETS * VISITS_PER_PLANET
    n_jobs = visits + KAGGLE_PLANETS + 3
    peak = max(j["rss_mb"] for j in jobs)
    for key, what in (("s", "wall (this loaded machine: upper bound)"), ("cpu_s", "CPU time")):
        cal = statistics.median(j[key] for j in calib)
        fit = statistics.median(j[key] for j in fits)
        # predict, submit and import_model: one job each per run; what they cost at 1100
        # planets is the measured job (fixed cost) plus the measured per-planet work x 1100.
        per_run = sum(once[name][key] for name in once) + KAGGLE_PLANETS * (
            marginal["predict"] + marginal["submit"]
        )
        total = (visits * cal + KAGGLE_PLANETS * fit + n_jobs * overhead) / KAGGLE_CORES + per_run
        print(
            f"projection from {what}: ({visits:.0f} x {cal:.2f} s + {KAGGLE_PLANETS} x {fit:.2f} s"
            f" + {n_jobs:.0f} jobs x {overhead:.2f} s) / {KAGGLE_CORES} + {per_run:.0f} s = "
            f"{total / 3600:.2f} h of the {LIMIT_H:.0f} h limit ({total / (LIMIT_H * 3600):.0%})"
        )
    print(
        f"peak memory: {KAGGLE_CORES} jobs x {peak:.0f} MB = {KAGGLE_CORES * peak / 1024:.1f} GiB"
        " (+ Snakemake's main process); the same on 1 GPU + 4 cores (calibrate and fit are CPU)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
