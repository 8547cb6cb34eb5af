"""Per-planet time of the physics fit on full-size synthetic binned light curves.

Usage: python benchmarks/fit.py [--planets N] [--bins N_BINS] [--visits V]

BLAS is pinned to one thread (as one workflow job per core would run it) unless the
environment already sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from spectramind.oracles import synthetic_light_curves as synthetic  # noqa: E402
from spectramind.physics.fit import fit_planet  # noqa: E402
from spectramind.physics.transit import TransitGeometry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planets", type=int, default=8)
    parser.add_argument("--bins", type=int, default=1125, help="time bins per visit (24 s bins)")
    parser.add_argument("--visits", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    times, z_rms = [], []
    for i in range(args.planets):
        geometry = TransitGeometry(
            t0_h=float(rng.uniform(3.0, 4.5)),
            period_days=float(rng.uniform(3.0, 7.0)),
            a_over_rs=float(rng.uniform(8.0, 14.0)),
            inc_deg=float(rng.uniform(87.0, 89.8)),
        )
        truth = synthetic.make_truth(continuum=float(rng.uniform(0.006, 0.03)), geometry=geometry)
        visits = [
            synthetic.make_visit(truth, n_bins=args.bins, relative_noise=2e-3, seed=10 * i + v,
                                 visit=v)
            for v in range(args.visits)
        ]  # fmt: skip
        start = time.perf_counter()
        result = fit_planet(visits, truth.star_info())
        times.append(time.perf_counter() - start)
        z = (result.depth - truth.depth) / result.depth_err
        z_rms.append(float(np.sqrt(np.mean(z**2))))
        print(
            f"planet {i}: {times[-1]:.3f} s, z-score RMS {z_rms[-1]:.3f}, "
            f"fallback {result.meta['fallback']}"
        )
    print(
        f"per-planet fit time over {args.planets} planets x {args.visits} visit(s), "
        f"{args.bins} bins x 283 channels, BLAS threads "
        f"{os.environ['OPENBLAS_NUM_THREADS']}: median {statistics.median(times):.3f} s, "
        f"mean {statistics.mean(times):.3f} s, max {max(times):.3f} s; "
        f"z-score RMS median {statistics.median(z_rms):.3f}"
    )


if __name__ == "__main__":
    main()
