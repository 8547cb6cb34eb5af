"""Benchmark: fast calibration vs the float64 starter-order reference on one full-size visit.

Usage: python benchmarks/calibrate.py [--data-dir DIR] [--skip-reference]

Simulates one full-size train planet (``spectramind.simulate``, seed 5) unless ``--data-dir``
holds one, then runs, each in its own subprocess (peak RSS from ``resource.getrusage`` of the
child): (1) the reference (:mod:`spectramind.calibrate.reference`, linearity ON, 30/360
sum-binning) and (2) ``spectramind calibrate`` with the default preset (linearity on, float32).
Prints wall time, peak RSS, their ratios, the per-step split of the fast chain and the
projection for 1100 planets on 4 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = """
import sys, numpy as np
from spectramind.calibrate.reference import starter_light_curves
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
    """(wall s, peak RSS MiB, stdout) of ``python -c code args`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"child failed:\n{done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, max over children
    if peak < before:
        peak = before
    return wall, peak / 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--skip-reference", action="store_true")
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

    # The fast chain first: RUSAGE_CHILDREN keeps the maximum over all children, so the
    # smaller process must be measured before the larger one.
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
    if not args.skip_reference:
        ref_wall, ref_rss, _ = run_child(REFERENCE, str(data), pid)
        print(
            f"reference float64 starter order (linearity on):        wall {ref_wall:6.2f} s, "
            f"peak RSS {ref_rss:7.0f} MiB"
        )
        print(
            f"speed-up {ref_wall / fast_wall:.1f}x, memory ratio {ref_rss / fast_rss:.1f}x "
            f"(targets: >= 5x, calibrate < 1024 MiB)"
        )
    per_planet = fast_wall * 1.1  # ~10% of planets have a second visit
    print(
        f"projection: 1100 planets x {per_planet:.1f} s / 4 processes = "
        f"{1100 * per_planet / 4 / 3600:.2f} h on 4 cores (of the 9 h Kaggle budget)"
    )


if __name__ == "__main__":
    main()
