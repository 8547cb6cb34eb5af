"""Benchmark: fast calibration vs the float64 starter-order reference on one full-size visit.

Usage: python benchmarks/calibrate.py [--data-dir DIR] [--skip-reference] [--repeat N]

Simulates one full-size train planet (``spectramind.simulate``, seed 5) unless ``--data-dir``
holds one, then runs, each in its own subprocess (peak RSS from ``resource.getrusage`` of the
child): (1) the reference (:mod:`spectramind.oracles.calibrate_reference`, linearity ON, 30/360
sum-binning) and (2) ``spectramind calibrate`` with the default preset (linearity on, float32).
Prints wall time, peak RSS, their ratios, the per-step split of the fast chain and the
projection for 1100 planets on 4 cores; with ``--repeat N`` the pair runs N times and the
medians are printed last (the machine is shared: compare ratios from the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = """
import sys, numpy as np
from spectramind.oracles.calibrate_reference import starter_light_curves
lc = starter_light_curves(sys.argv[1], "train", int(sys.argv[2]), 0, linearity=True)
print("reference bins", lc.shape)
"""

FAST = """
import json, sys
from spectramind.calibrate.config import build_config
from spectramind.calibrate.pipeline import StepTimer, calibrate_visit
from spectramind.calibrate import product
timer = StepTimer()
v = calibrate_visit(sys.argv[1], "train", int(sys.argv[2]), 0, build_config(), timer)
product.save(sys.argv[3], v)
print("STEPS", json.dumps(timer.seconds))
"""


def run_child(code: str, *args: str) -> tuple[float, float, str]:
    """(wall s, peak RSS MiB, stdout) of ``python -c code args`` in a fresh process.

    The peak RSS is that child's own (``os.wait4``), so runs can be repeated in any order.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode:
            sys.exit(f"child failed:\n{err.read()}")
        return wall, usage.ru_maxrss / 1024, out.read()  # ru_maxrss in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the pair (medians)")
    args = parser.parse_args()
    if args.data_dir is None:
        from spectramind.simulate import SimulationConfig, simulate_dataset

        data = Path(tempfile.mkdtemp(prefix="calib-bench-")) / "data"
        t = time.perf_counter()
        simulate_dataset(
            data,
            SimulationConfig(
                n_train=1, n_test=0, seed=5, frames_scale=1.0, second_visit_fraction=0
            ),
        )
        print(f"simulated one full-size planet in {time.perf_counter() - t:.1f} s: {data}")
    else:
        data = Path(args.data_dir)
    (pid,) = [p.name for p in (data / "train").iterdir()][:1]
    out = Path(tempfile.mkdtemp(prefix="calib-bench-out-")) / "visit.npz"

    runs = [measure(data, pid, out, args.skip_reference) for _ in range(max(1, args.repeat))]
    if len(runs) > 1:
        import statistics

        print(f"medians of {len(runs)} runs:")
        for key in runs[0]:
            print(f"  {key:<14s} {statistics.median(r[key] for r in runs):8.2f}")
    per_planet = (
        statistics.median(r["fast_wall_s"] for r in runs)
        if len(runs) > 1
        else runs[0]["fast_wall_s"]
    )
    per_planet *= 1.1  # ~10% of planets have a second visit
    print(
        f"projection: 1100 planets x {per_planet:.1f} s / 4 processes = "
        f"{1100 * per_planet / 4 / 3600:.2f} h on 4 cores (of the 9 h Kaggle budget)"
    )


def measure(data: Path, pid: str, out: Path, skip_reference: bool) -> dict[str, float]:
    """One run of the pair; prints it and returns its figures."""
    fast_wall, fast_rss, stdout = run_child(FAST, str(data), pid, str(out))
    steps = json.loads(stdout.split("STEPS", 1)[1])
    print(
        f"spectramind calibrate (default, float32, linearity on): wall {fast_wall:6.2f} s, "
        f"peak RSS {fast_rss:7.0f} MiB"
    )
    total = sum(steps.values())
    for name, sec in sorted(steps.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<11s} {sec:6.2f} s  {100 * sec / total:5.1f} %")
    print(f"  (process start, imports and writing: {fast_wall - total:.2f} s)")
    result = {"fast_wall_s": fast_wall, "fast_rss_mib": fast_rss, "fast_read_s": steps["read"]}
    if not skip_reference:
        ref_wall, ref_rss, _ = run_child(REFERENCE, str(data), pid)
        print(
            f"reference float64 starter order (linearity on):        wall {ref_wall:6.2f} s, "
            f"peak RSS {ref_rss:7.0f} MiB"
        )
        print(
            f"speed-up {ref_wall / fast_wall:.1f}x, memory ratio {ref_rss / fast_rss:.1f}x "
            f"(targets: >= 5x, calibrate < 1024 MiB)"
        )
        result.update(ref_wall_s=ref_wall, ref_rss_mib=ref_rss, speedup=ref_wall / fast_wall)
    return result


if __name__ == "__main__":
    main()
