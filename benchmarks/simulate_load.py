"""Wall time and peak RSS of simulating and of loading one full-size planet visit.

Each measurement runs in a fresh Python subprocess that reports its own ``ru_maxrss``, so the
figures do not include this driver. Usage::

    python benchmarks/simulate_load.py [--frames-scale 1.0] [--workdir DIR]

Prints one line per step: wall seconds, peak RSS in MB, and sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SIMULATE = """
import json, resource, sys, time
from spectramind.simulate import SimulationConfig, simulate_dataset
t = time.perf_counter()
simulate_dataset(sys.argv[1], SimulationConfig(1, 0, seed=1, frames_scale=float(sys.argv[2]),
                                               second_visit_fraction=0.0))
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": rss}))
"""

LOAD = """
import json, resource, sys, time
from spectramind.data import discover_planets, load_visit
t = time.perf_counter()
pid = discover_planets(sys.argv[1], "train")[0]
visit = load_visit(sys.argv[1], "train", pid, 0)
wall = time.perf_counter() - t
arrays_mb = (visit.airs.signal.nbytes + visit.fgs.signal.nbytes) / 2**20
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": rss,
                  "airs_shape": visit.airs.signal.shape, "fgs_shape": visit.fgs.signal.shape,
                  "signal_arrays_mb": arrays_mb}))
"""

BASELINE = """
import json, resource
import numpy, pyarrow, pyarrow.parquet, scipy.special, batman
import spectramind.data, spectramind.simulate
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames-scale", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        data = Path(tmp) / "data"
        base = run(BASELINE)
        print(f"imports only:          peak RSS {base['peak_rss_mb']:.0f} MB")
        sim = run(SIMULATE, str(data), str(args.frames_scale))
        files = sorted(data.glob("train/*/*_signal_0.parquet"))
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 2**20:.0f} MB" for p in files)
        print(
            f"simulate 1 visit:      {sim['wall_s']:.1f} s, peak RSS {sim['peak_rss_mb']:.0f} MB "
            f"(frames scale {args.frames_scale}; on disk: {sizes})"
        )
        load = run(LOAD, str(data))
        print(
            f"load_visit 1 visit:    {load['wall_s']:.1f} s, peak RSS {load['peak_rss_mb']:.0f} MB "
            f"(AIRS {tuple(load['airs_shape'])}, FGS {tuple(load['fgs_shape'])} uint16 = "
            f"{load['signal_arrays_mb']:.0f} MB of signal arrays)"
        )


if __name__ == "__main__":
    main()
