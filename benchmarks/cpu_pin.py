"""Time cost of same-bytes-on-any-CPU: calibrate, fit, train and predict before and after.

    python benchmarks/cpu_pin.py --data-dir data/synthetic [--base b64138f] [--repeats 5]
        [--planets 200]

Each stage runs as a real ``spectramind`` command (a fresh process, as a workflow job does;
import and start-up time included) in three variants, interleaved so machine load hits all
alike:

- ``before``: the code of ``--base`` (``git archive``), libraries choosing their own kernels;
- ``unpinned``: this checkout with ``SPECTRAMIND_CPU_PIN=0`` (the code changes alone: fixed-order
  sums in calibrate, one torch thread, one planet per forward pass in predict);
- ``after``: this checkout as shipped (kernels pinned: ATen default, MKL CNR, OpenBLAS Nehalem,
  no numpy AVX-512, libm SSE2 variants).

Inputs: calibrate one visit of the first train planet of ``--data-dir`` (a simulated dataset,
e.g. the default workflow's ``data/synthetic``), fit that calibrated visit, train on and
predict for ``--planets`` synthetic planets (``spectramind.oracles.synthetic_fits``). Prints per
stage the median wall time and the median CPU time (user + system, what a shared machine distorts
least) of each variant and the ratios after/before and unpinned/before.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("before", "unpinned", "after")
# Variables the pin sets or the profiles emulate: removed so every variant starts alike.
SCRUB = (
    "ATEN_CPU_CAPABILITY", "MKL_CBWR", "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES",
    "GLIBC_TUNABLES", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "SPECTRAMIND_CPU_PIN",
    "SPECTRAMIND_RECORD", "PYTHONPATH",
)  # fmt: skip


def extract_base(rev: str, dest: Path) -> Path:
    """``src/`` of revision ``rev`` under ``dest``."""
    archive = dest / "base.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "archive", rev, "src"], cwd=REPO, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def variant_env(variant: str, base_src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env.update(SPECTRAMIND_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(OPENBLAS_NUM_THREADS="1", SPECTRAMIND_MANIFEST="0")
    env["PYTHONPATH"] = str(base_src if variant == "before" else REPO / "src")
    if variant == "unpinned":
        env["SPECTRAMIND_CPU_PIN"] = "0"
    return env


def timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one command; CPU time is what a shared, loaded
    machine distorts least."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "spectramind", "-q", *args], env=env, cwd=cwd, capture_output=True
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed: spectramind {' '.join(args)}\n{proc.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="simulated dataset")
    parser.add_argument("--base", default="b64138f", help="revision before the change")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--planets", type=int, default=200, help="synthetic train/predict set")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    planet = sorted(p.name for p in (data_dir / "train").iterdir() if p.is_dir())[0]

    from spectramind.data import layout
    from spectramind.oracles.synthetic_fits import write_synthetic_set

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base_src = extract_base(args.base, tmp)
        syn = write_synthetic_set(tmp / "set", args.planets, seed=0)
        fits = [str(p) for p in sorted(syn.features_dir.glob("*.npz"))]
        star_csv = str(data_dir / layout.STAR_INFO_CSV["train"])
        stages = {
            "calibrate": lambda v: [
                "calibrate", "--data-dir", str(data_dir), "--split", "train", "--planet", planet,
                "--visit", "0", "--out", f"calib-{v}.npz",
            ],
            "fit": lambda v: [
                "fit", "--calibrated", "calib-after.npz", "--star-info", star_csv,
                "--planet", planet, "--out", f"fit-{v}.npz",
            ],
            "train": lambda v: [
                "train", "--features", *fits, "--labels", str(syn.labels_csv),
                "--star-info", str(syn.star_info_csv), "--seed", "0", "--device", "cpu",
                "--out", f"model-{v}.pt",
            ],
            "predict": lambda v: [
                "predict", "--ckpt", "model-after.pt", "--features", *fits,
                "--star-info", str(syn.star_info_csv), "--device", "cpu",
                "--out", f"preds-{v}.npz",
            ],
        }  # fmt: skip
        times: dict[str, dict[str, list[tuple[float, float]]]] = {
            s: {v: [] for v in VARIANTS} for s in stages
        }
        for repeat in range(args.repeats):
            for stage, make_args in stages.items():
                order = VARIANTS if repeat % 2 == 0 else tuple(reversed(VARIANTS))
                for variant in order:
                    env = variant_env(variant, base_src)
                    times[stage][variant].append(timed(make_args(variant), env, tmp))
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)

    print(f"planet {planet} of {data_dir}; {args.planets} synthetic planets for train/predict")
    print(f"base {args.base}; medians of {args.repeats} interleaved runs, seconds per command")
    for k, kind in enumerate(("wall", "cpu")):
        header = f"{kind:<4} {'stage':<10} {'before':>8} {'unpinned':>9} {'after':>8}"
        print(f"{header}  after/before  unpinned/before")
        for stage, by_variant in times.items():
            med = {v: statistics.median(t[k] for t in runs) for v, runs in by_variant.items()}
            print(
                f"{kind:<4} {stage:<10} {med['before']:8.2f} {med['unpinned']:9.2f} "
                f"{med['after']:8.2f}  {med['after'] / med['before']:12.3f}  "
                f"{med['unpinned'] / med['before']:15.3f}"
            )


if __name__ == "__main__":
    main()
