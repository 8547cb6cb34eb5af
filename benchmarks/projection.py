"""Project the Kaggle run (about 1100 planets x 1.1 visits on 4 cores) from a measured workflow.

Usage: python benchmarks/projection.py --workspace DIR [--planets 1100] [--visits-per-planet 1.1]
                                       [--cores 4] [--memory-gib 30]
       python benchmarks/projection.py --run DIR [--train 6 --test 2 --frames-scale 1.0]
                                       [--run-cores 2]  (runs that workflow first)

Reads a finished workflow folder: Snakemake's benchmark TSVs (``artifacts/benchmarks/<rule>/``:
wall ``s``, ``cpu_time``, ``max_rss`` in MB, per job) and the run's manifest records (per-job
``overhead_s``: process start-up and the manifest layer's work). ``--run`` first makes such a
folder: a copy of this repository, ``snakemake --cores N`` on the embedded simulator with the
given planets at ``--frames-scale`` (1.0 = the real frame counts, ~500 MB per visit; the
projection refuses a run at another scale unless ``--allow-scaled``).

The projection for the inference run on Kaggle (the checkpoint is trained beforehand; no
simulation; the data is read from disk) is printed with its arithmetic:

- calibrate: one job per visit, ``planets x visits_per_planet`` jobs of the median measured
  calibrate job (and of the slowest, as a pessimistic line), plus hashing the visit's raw files
  once (SHA-256 throughput measured here; the measured run reused the simulator's hashes);
- fit: one job per planet, of the median measured fit job;
- predict: one job: the measured predict job (start-up, torch import, checkpoint load and check,
  its planets) plus the model's inference per planet, timed here on the workspace's test fits,
  for each further planet; submit: measured once;
- the per-visit and per-planet jobs run ``cores`` at a time (one thread each, the workflow's
  default); Snakemake's own scheduling and imperfect packing enter through the efficiency of the
  measured run's calibrate+fit phase: its jobs' summed wall times over its cores times the span
  of that phase in the records.

Wall times of a loaded machine are upper bounds; the CPU-time line is what the same jobs cost
on idle cores. Memory: the largest ``max_rss`` of each rule, and ``cores`` of the largest jobs at
once against ``--memory-gib``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

from spectramind.repro.audit import all_records

REPO = Path(__file__).resolve().parents[1]
PER_JOB_RULES = ("calibrate", "fit")


def run_workflow(dest: Path, train: int, test: int, frames_scale: float, cores: int) -> float:
    """Run the workflow in a fresh copy at ``dest``; return its wall time in seconds."""
    sys.path.insert(0, str(REPO / "tests"))
    from workflow_helpers import copy_workflow, snakemake

    if dest.exists():
        shutil.rmtree(dest)
    workdir = copy_workflow(dest, git=True)
    overlay = {
        "simulate": {
            "train": train,
            "test": test,
            "frames_scale": frames_scale,
            "second_visit_fraction": 0.3,
        }
    }
    (workdir / "projection.yaml").write_text(yaml.safe_dump(overlay))
    start = time.perf_counter()
    result = snakemake(workdir, "--configfile", "projection.yaml", cores=cores, timeout=7200)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"the workflow failed in {workdir}:\n{result.stderr[-4000:]}")
    return elapsed


def benchmark_rows(workspace: Path) -> dict[str, list[dict[str, float]]]:
    """{rule: [{s, cpu_time, max_rss}, ...]} from the benchmark TSVs."""
    rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    root = workspace / "artifacts/benchmarks"
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0]
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                rows[rule].append(
                    {
                        "s": float(row["s"]),
                        "cpu_time": float(row.get("cpu_time") or "nan"),
                        "max_rss": float(row.get("max_rss") or "nan"),
                    }
                )
    return rows


def run_facts(workspace: Path) -> tuple[dict, list[dict]]:
    """(config snapshot, ok records) of the latest run in ``workspace``."""
    runs = all_records(workspace / "artifacts/runs")
    run_id = max(runs)
    records = [r for r in runs[run_id] if r.get("status") == "ok"]
    snapshot = workspace / records[0]["config_snapshot_path"]
    return yaml.safe_load(snapshot.read_text()), records


def predict_per_planet_s(workspace: Path, reps: int = 5) -> tuple[float, int]:
    """(seconds per planet, planets) of the model's inference on the workspace's test fits,
    timed here in-process (median of ``reps``) after loading the checkpoint: the part of the
    predict job that grows with the planets (the rest, start-up, torch import, checkpoint load
    and check, is paid once)."""
    from spectramind.model.data import load_planets
    from spectramind.model.predict import load_checkpoint, predict, select_planets

    here = Path.cwd()
    os.chdir(workspace)  # records name paths relative to the workflow folder
    try:
        checkpoint = load_checkpoint("artifacts/ckpt/model.pt")
        fits = sorted(Path("artifacts/fit/test").glob("*.npz"))
        table = select_planets(
            checkpoint, load_planets(fits, "data/synthetic/test_star_info.csv"), "all"
        )
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            predict(checkpoint, table, "cpu")
            times.append(time.perf_counter() - start)
    finally:
        os.chdir(here)
    return statistics.median(times) / len(fits), len(fits)


def sha256_mib_per_s(mib: int = 256) -> float:
    """hashlib SHA-256 throughput here (what a first-seen raw file costs the wrapper)."""
    import hashlib

    block = os.urandom(1 << 20)
    start = time.perf_counter()
    digest = hashlib.sha256()
    for _ in range(mib):
        digest.update(block)
    return mib / (time.perf_counter() - start)


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def project(args: argparse.Namespace, workspace: Path) -> None:
    rows = benchmark_rows(workspace)
    config, records = run_facts(workspace)
    scale = float(config["simulate"]["frames_scale"])
    if config.get("data_dir"):
        scale = 1.0  # real data
    if scale != 1.0 and not args.allow_scaled:
        sys.exit(
            f"{workspace} ran at frames_scale {scale}, not the real frame counts: a calibrate "
            "time from it says little about a real visit (use --run with --frames-scale 1.0, "
            "or --allow-scaled to print it anyway)"
        )
    n_test = int(config["simulate"]["test"])
    print(f"workspace: {workspace}  frames_scale: {scale}  load average now: {os.getloadavg()}")

    print("\n## measured jobs (benchmark TSVs; wall s, cpu s, max RSS MB)")
    print(
        f"{'rule':16s} {'jobs':>5s} {'median s':>9s} {'max s':>8s} {'median cpu s':>13s} "
        f"{'max RSS MB':>11s}"
    )
    for rule, values in sorted(rows.items()):
        print(
            f"{rule:16s} {len(values):5d} {med([v['s'] for v in values]):9.2f} "
            f"{max(v['s'] for v in values):8.2f} {med([v['cpu_time'] for v in values]):13.2f} "
            f"{max(v['max_rss'] for v in values):11.0f}"
        )

    overheads: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in records:
        spent = record.get("overhead_s") or {}
        manifest = sum(v for k, v in spent.items() if k != "startup")
        overheads[record["rule"]].append((spent.get("startup", float("nan")), manifest))
    print("\n## per-job overhead inside those jobs (records' overhead_s, median s)")
    for rule, values in sorted(overheads.items()):
        print(
            f"{rule:16s} start-up {med([v[0] for v in values]):.3f}  "
            f"manifest {med([v[1] for v in values]):.3f}"
        )

    # Snakemake's scheduling and the jobs' packing onto the cores, as measured: the calibrate and
    # fit phase's summed job walls over (cores x the phase's span in the records).
    from datetime import datetime

    def stamp(record: dict) -> float:
        return datetime.fromisoformat(record["time_utc"].replace("Z", "+00:00")).timestamp()

    phase = [r for r in records if r["rule"] in PER_JOB_RULES]
    first = min(stamp(r) - (r.get("overhead_s") or {}).get("startup", 0.0) for r in phase)
    last = max(stamp(r) + r["duration_s"] + 0.1 for r in phase)
    busy = sum(v["s"] for rule in PER_JOB_RULES for v in rows.get(rule, []))
    efficiency = min(1.0, busy / (args.run_cores * (last - first)))
    print(
        f"\ncalibrate+fit phase of the measured run: {last - first:.1f} s span, {busy:.1f} s of "
        f"job walls on {args.run_cores} cores -> packing efficiency {efficiency:.2f}"
    )

    visits = args.planets * args.visits_per_planet
    print(
        f"\n## projection: {args.planets} planets x {args.visits_per_planet} visits = "
        f"{visits:.0f} calibrate jobs + {args.planets} fit jobs on {args.cores} cores"
    )
    calibrate, fit = rows.get("calibrate", []), rows.get("fit", [])
    predict = rows.get("predict", [])
    submit = rows.get("submit", [])
    if not (calibrate and fit and predict):
        sys.exit("the workspace lacks calibrate, fit or predict benchmarks")
    per_planet, n_timed = predict_per_planet_s(workspace)
    print(
        f"predict inference, timed here: {per_planet * 1000:.2f} ms per planet "
        f"(median of 5 over {n_timed} planets; one planet at a time, so linear in planets)"
    )
    # On Kaggle every raw visit is seen for the first time: its wrapper hashes it once (here the
    # calibrate jobs reused the simulator's recorded hashes instead).
    raw_bytes = med(
        [sum(e["size"] for e in r["inputs"]) for r in records if r["rule"] == "calibrate"]
    )
    hash_s = raw_bytes / (1 << 20) / sha256_mib_per_s()
    print(
        f"first-seen raw input per visit: {raw_bytes / 1e6:.0f} MB, hashed here at "
        f"{raw_bytes / (1 << 20) / hash_s:.0f} MiB/s = {hash_s:.2f} s per calibrate job"
    )
    for label, key, pick in (
        ("wall, median jobs", "s", med),
        ("wall, slowest jobs", "s", max),
        ("CPU time, median jobs (idle cores)", "cpu_time", med),
    ):
        c = pick([v[key] for v in calibrate]) + hash_s
        f = pick([v[key] for v in fit])
        p_job = pick([v[key] for v in predict])
        p_kaggle = p_job + (args.planets - n_test) * per_planet
        s = pick([v[key] for v in submit]) if submit else 0.0
        parallel = (visits * c + args.planets * f) / args.cores / efficiency
        serial = p_kaggle + s
        total = parallel + serial
        print(f"\n{label}:")
        print(
            f"  calibrate {visits:.0f} x {c:.2f} s (incl. hashing) + fit {args.planets} x {f:.2f} s"
            " "
            f"= {visits * c + args.planets * f:.0f} job-s"
        )
        print(f"  / {args.cores} cores / packing efficiency {efficiency:.2f} = {parallel:.0f} s")
        print(
            f"  + predict job {p_job:.2f} s (its {n_test} planets) + {args.planets - n_test} "
            f"x {per_planet * 1000:.2f} ms + submit {s:.2f} s = {serial:.0f} s"
        )
        print(
            f"  = {total:.0f} s = {total / 3600:.2f} h of the 9 h budget "
            f"({100 * total / (9 * 3600):.0f}%)"
        )

    print("\n## peak memory per job (max_rss, MB)")
    peaks = {rule: max(v["max_rss"] for v in values) for rule, values in rows.items()}
    for rule, peak in sorted(peaks.items(), key=lambda item: -item[1]):
        print(f"  {rule:16s} {peak:8.0f}")
    worst = max(peaks.get(rule, 0.0) for rule in PER_JOB_RULES)
    at_once = args.cores * worst / 1024
    print(
        f"  {args.cores} of the largest per-visit/per-planet jobs at once: {args.cores} x "
        f"{worst:.0f} MB = {at_once:.1f} GiB of {args.memory_gib} GiB"
        f" ({'fits' if at_once < args.memory_gib else 'DOES NOT FIT'})"
    )
    if not math.isfinite(worst):
        print("  (max_rss missing from the TSVs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--workspace", type=Path, help="a finished workflow folder")
    where.add_argument("--run", type=Path, help="run the workflow in this (new) folder first")
    parser.add_argument("--train", type=int, default=6)
    parser.add_argument("--test", type=int, default=2)
    parser.add_argument("--frames-scale", type=float, default=1.0)
    parser.add_argument("--run-cores", type=int, default=2, help="--cores of the measured run")
    parser.add_argument("--planets", type=int, default=1100)
    parser.add_argument("--visits-per-planet", type=float, default=1.1)
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--memory-gib", type=float, default=30.0, help="RAM of the target")
    parser.add_argument("--allow-scaled", action="store_true")
    args = parser.parse_args()
    workspace = args.workspace
    if args.run is not None:
        wall = run_workflow(args.run, args.train, args.test, args.frames_scale, args.run_cores)
        print(f"workflow ran in {wall:.1f} s")
        workspace = args.run
    project(args, workspace)


if __name__ == "__main__":
    main()
