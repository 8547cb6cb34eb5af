"""Benchmark: ``spectramind calibrate`` against the parquet decode floor and the plain chain.

Usage: python benchmarks/calibrate.py [--data-dir DIR] [--repeat N] [--accuracy]

On one full-size visit (11250 AIRS x 32 x 356 and 135000 FGS1 x 32 x 32 frames; simulated
with ``spectramind.simulate``, seed 5, unless ``--data-dir`` holds a train planet), each of
these runs in its own fresh process, interleaved, ``--repeat`` times (default 3):

(a) the decode floor: pyarrow (threaded, as calibrate reads) decodes exactly the parquet column
    chunks calibrate decodes, into Arrow memory, nothing else: the signal files' chunks that
    calibrate decoded (its probe: the crop window's first row groups; then the selected pixels'
    other row groups; found by running calibrate once in this process and recording what its
    reader decoded), the ten calibration maps and axis_info.parquet;
(b) the plain host-notebook chain written as well as plain numpy allows (:func:`plain_chain`):
    cropped first (only the crop window's columns are decoded), then on the whole visit at once
    as the notebook does, vectorised and in place: ADC decode, degree-5 linearity by Horner in
    float64 on every read, dark per read, CDS, sum-binning (30 AIRS / 360 FGS CDS frames), then
    flat and the hot/dead mask, and the notebook's extraction (AIRS rows 10:22, FGS whole frame);
(b') the same chain in blocks of 8 bins (bounded memory, cache-friendly; beyond the notebook);
(c) ``spectramind calibrate`` (the CLI, default preset, float32) on the same visit.

Each figure is the child's wall time, CPU time (user + sys) and peak RSS (``os.wait4``);
medians over the runs, and the ratios c/a and b/c from the same runs. Before timing, one
untimed calibrate run fills the numba cache and the page cache (all three read the same
files). ``--accuracy`` also compares the float32 chain with float64 on this visit (largest
relative flux difference) and fits both (the fitted spectrum's change in units of its sigma).
The load average is printed: the machine may be shared, so compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FLOOR = """
import json, sys
import pyarrow.parquet as pq
plan = json.load(open(sys.argv[1]))
for path in plan["tables"]:
    table = pq.ParquetFile(path).read(use_threads=True)
for path, calls in plan["signals"].items():
    reader = pq.ParquetFile(path).reader
    for groups, columns in calls:
        table = reader.read_row_groups(groups, column_indices=columns, use_threads=True)
        del table
"""

PLAIN = """
import sys
sys.path.insert(0, sys.argv[1])
from calibrate import plain_chain
block = int(sys.argv[4]) or None
lc = plain_chain(sys.argv[2], "train", int(sys.argv[3]), block)
print(lc.shape)
"""


def plain_chain(
    data_dir: str, split: str, planet_id: int, block_bins: int | None = None
) -> np.ndarray:
    """The starter notebook's chain in plain numpy, float64: light curves (n_bins, 283).

    What a competent numpy user writes: decode only the crop window's parquet columns (AIRS
    all rows x columns 39:321, FGS all), keep raw uint16, and run the float64 chain on the
    whole visit (``block_bins`` None, as the notebook) or in blocks of ``block_bins`` bins
    (bounded memory, cache-friendly), vectorised and in place: ``raw / gain + offset``, Horner
    ``c5 -> c0`` in place, ``- dark * dt`` per read (dt 0.1/4.6 s AIRS, 0.1/0.2 s FGS), CDS,
    sum over 30 / 360 CDS frames; then divide by the flat, zero the hot (5-sigma clip of the
    dark, 5 iterations) and dead pixels, sum AIRS rows 10:22 per column (flipped to ascending
    wavelength) and the whole FGS frame.
    """
    import pyarrow.parquet as pq

    from spectramind.calibrate.steps.mask import sigma_clip_mask
    from spectramind.data import layout, reader
    from spectramind.data.layout import AIRS, FGS

    adc = reader.read_adc_info(data_dir)
    curves = {}
    for inst, cols, binning, dt_start, dt_end in (
        (AIRS, slice(39, 321), 30, 0.1, 4.6),
        (FGS, slice(0, 32), 360, 0.1, 0.2),
    ):
        rows_idx = np.arange(inst.rows)[:, None]
        cols_idx = np.arange(inst.cols)[cols][None, :]
        window = (rows_idx * inst.cols + cols_idx).ravel()
        path = layout.signal_path(Path(data_dir), split, planet_id, inst, 0)
        table = pq.ParquetFile(path).read(columns=[str(c) for c in window], use_threads=True)
        raw = np.empty((table.num_rows, window.size), dtype=np.uint16)
        for j, column in enumerate(table.columns):
            raw[:, j] = column.to_numpy()
        del table
        maps = reader.read_calibration(data_dir, split, planet_id, inst, 0)
        crop = (slice(None), cols)
        dark = maps.dark[crop].ravel()
        coeffs = maps.linear_corr[(slice(None), *crop)].reshape(6, -1)
        gain, offset = adc[inst.name].gain, adc[inst.name].offset
        n_bins = raw.shape[0] // (2 * binning)
        block = block_bins or n_bins
        dt = np.tile([dt_start, dt_end], binning * block)[:, None]
        binned = np.empty((n_bins, window.size))
        for b0 in range(0, n_bins, block):
            b1 = min(n_bins, b0 + block)
            x = raw[2 * binning * b0 : 2 * binning * b1].astype(np.float64)
            x /= gain
            x += offset
            y = np.empty_like(x)
            y[:] = coeffs[5]
            for k in range(4, -1, -1):
                y *= x
                y += coeffs[k]
            y -= dark * dt[: y.shape[0]]
            cds = y[1::2] - y[0::2]
            binned[b0:b1] = cds.reshape(b1 - b0, binning, -1).sum(axis=1)
        binned /= maps.flat[crop].ravel()
        masked = sigma_clip_mask(maps.dark[crop], 5.0, 5) | maps.dead[crop]
        binned[:, masked.ravel()] = 0.0
        images = binned.reshape(n_bins, inst.rows, -1)
        curves[inst.name] = (
            images[:, 10:22, :].sum(axis=1)[:, ::-1]
            if inst is AIRS
            else images.sum(axis=(1, 2))[:, None]
        )
    n = min(len(curves[FGS.name]), len(curves[AIRS.name]))
    return np.column_stack([curves[FGS.name][:n], curves[AIRS.name][:n]])


def run_child(argv: list[str]) -> dict[str, float]:
    """Wall [s], CPU [s] (user + sys) and peak RSS [MiB] of one fresh child process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            sys.exit(f"child {argv[:4]} failed:\n{err.read()}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
    }


def decode_plan(data: Path, pid: int, path: Path) -> None:
    """Run calibrate once in this process and write what its reader decoded to ``path``."""
    from spectramind.calibrate.pipeline import calibrate_visit
    from spectramind.data import reader

    opened: list[reader.SignalFile] = []

    class Recording(reader.SignalFile):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    original = reader.SignalFile
    reader.SignalFile = Recording
    try:
        calibrate_visit(data, "train", pid, 0)
    finally:
        reader.SignalFile = original
    from spectramind.data import layout
    from spectramind.data.layout import AIRS, FGS

    signals = {
        str(f.path): [[list(groups), [int(c) for c in cols]] for groups, cols in f.decoded]
        for f in opened
    }
    tables = [str(data / layout.AXIS_INFO_PARQUET)] + [
        str(layout.calibration_path(data, "train", pid, inst, 0, name))
        for inst in (AIRS, FGS)
        for name in layout.CALIBRATION_MAPS
    ]
    path.write_text(json.dumps({"signals": signals, "tables": tables}))
    for f in opened:
        chunks = sum(len(groups) * len(cols) for groups, cols in f.decoded)
        distinct = {(g, int(c)) for groups, cols in f.decoded for g in groups for c in cols}
        print(
            f"  {f.path.name}: {len(distinct)} column chunks decoded "
            f"({chunks - len(distinct)} twice), {f._group_start.size - 1} row groups"
        )


def accuracy(data: Path, pid: int, star_csv: Path) -> None:
    """float32 vs float64 on this visit: flux, and the fitted spectrum in units of its sigma."""
    from spectramind.calibrate.config import build_config
    from spectramind.calibrate.pipeline import calibrate_visit
    from spectramind.data import reader
    from spectramind.physics.fit import fit_planet
    from spectramind.physics.lightcurves import VisitLightCurves

    results = {}
    for dtype in ("float32", "float64"):
        results[dtype] = calibrate_visit(data, "train", pid, 0, build_config({"dtype": dtype}))
    f32, f64 = results["float32"].flux, results["float64"].flux
    rel = np.abs(f32 - f64) / np.abs(f64)
    print(f"float32 vs float64 flux: max relative difference {rel.max():.2e}", end=" ")
    print(f"(median {np.median(rel):.1e})")
    star = reader.read_star_info(data, "train")[pid]
    fits = {}
    for dtype, visit in results.items():
        with tempfile.TemporaryDirectory() as tmp:
            from spectramind.calibrate import product

            product.save(Path(tmp) / "v.npz", visit)
            from spectramind.physics.lightcurves import load_calibrated_visit

            lc: VisitLightCurves = load_calibrated_visit(Path(tmp) / "v.npz")
        fits[dtype] = fit_planet([lc], star, planet_id=pid, split="train")
    d32, d64 = fits["float32"].depth, fits["float64"].depth
    z = np.abs(d32 - d64) / fits["float64"].depth_err
    print(
        f"fitted spectrum float32 vs float64: max |d depth| / sigma = {z.max():.2e} "
        f"(median {np.median(z):.1e}); max |d depth| = {np.abs(d32 - d64).max():.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="dataset with one full-size train planet")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (medians)")
    parser.add_argument("--skip-plain", action="store_true", help="do not run (b)")
    parser.add_argument("--accuracy", action="store_true", help="float32 vs float64 and the fit")
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
    pid = int(sorted(p.name for p in (data / "train").iterdir())[0])
    work = Path(tempfile.mkdtemp(prefix="calib-bench-out-"))
    out = work / "visit.npz"
    calibrate = [sys.executable, "-m", "spectramind", "calibrate", "--data-dir", str(data)]
    calibrate += ["--split", "train", "--planet", str(pid), "--out", str(out)]
    commands = {
        "a": [sys.executable, "-c", FLOOR, str(work / "plan.json")],
        "b": [sys.executable, "-c", PLAIN, str(Path(__file__).parent), str(data), str(pid), "0"],
        "b'": [sys.executable, "-c", PLAIN, str(Path(__file__).parent), str(data), str(pid), "8"],
        "c": calibrate,
    }
    if args.skip_plain:
        del commands["b"], commands["b'"]

    print(f"planet {pid} in {data}")
    warm = run_child(calibrate)  # fills the numba cache (first run on a machine) and page cache
    print(f"untimed first calibrate run: wall {warm['wall_s']:.2f} s (includes any compiling)")
    decode_plan(data, pid, work / "plan.json")
    runs: dict[str, list[dict[str, float]]] = {key: [] for key in commands}
    for i in range(max(1, args.repeat)):
        for key, argv in commands.items():
            runs[key].append(run_child(argv))
        print(f"run {i + 1}: " + ", ".join(f"{k} {r[-1]['wall_s']:.2f} s" for k, r in runs.items()))
    med = {k: {m: statistics.median(r[m] for r in rs) for m in rs[0]} for k, rs in runs.items()}
    names = {
        "a": "(a) decode floor, columns calibrate reads",
        "b": "(b) plain numpy chain, float64, whole visit",
        "b'": "(b') the same in blocks of 8 bins",
        "c": "(c) spectramind calibrate",
    }
    print(f"\nmedians of {len(runs['c'])} runs (load average {os.getloadavg()[0]:.1f}):")
    print(f"{'':44s} {'wall s':>8s} {'CPU s':>8s} {'peak RSS MiB':>13s}")
    for key, m in med.items():
        print(f"{names[key]:44s} {m['wall_s']:8.2f} {m['cpu_s']:8.2f} {m['rss_mib']:13.0f}")
    c, a = med["c"], med["a"]
    ratio = {m: c[m] / a[m] for m in ("wall_s", "cpu_s")}
    print(f"c/a: wall {ratio['wall_s']:.2f}, CPU {ratio['cpu_s']:.2f} (target <= 2)")
    for key in ("b", "b'"):
        if key in med:
            ratio = {m: med[key][m] / c[m] for m in ("wall_s", "cpu_s")}
            print(f"{key}/c: wall {ratio['wall_s']:.2f}, CPU {ratio['cpu_s']:.2f} (target >= 5)")
    print(f"calibrate peak RSS {c['rss_mib']:.0f} MiB (target < 1024)")
    if args.accuracy:
        accuracy(data, pid, data / "train_star_info.csv")


if __name__ == "__main__":
    main()
