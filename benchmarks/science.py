"""Issue 4 science measurement: naive, public baseline, physics, physics + torch and the ceiling.

One run simulates a dataset (train planets to learn from, test planets held out with known
labels from the simulator's truth), calibrates every visit, fits every planet, trains the torch
correction on the train planets and scores every approach on the held-out test planets with the
exact competition metric. Intermediate products are cached in ``--work`` (simulated data,
calibrated visits, fits per ``--fit-tag``, ceiling stds) so a re-run skips what is done.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/science.py --work artifacts/science \\
        --train 150 --test 50 --frames-scale 0.1 --workers 2

Full size (the acceptance run of docs/science.md; ~35 minutes on 2 cores; ``--discard-raw``
deletes each visit's raw frames once calibrated, so 160 planets fit in ~1.3 GB of disk)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/science.py --work artifacts/science-full \\
        --train 120 --test 40 --frames-scale 1.0 --workers 2 --discard-raw

Frame scale: every noise term per planet scales as 1/sqrt(frames); the ceiling is computed from
the same simulated frames, so physics, model and ceiling are compared on the same data. 0.1
(1124 AIRS / 13488 FGS frames per visit) keeps simulate + calibrate to ~3 s per planet.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

log = logging.getLogger("science")


# --- stages (each cached) --------------------------------------------------------------------


def _dataset_stamp(args: argparse.Namespace, data: Path, **extra: str) -> tuple[Path, dict]:
    """The file beside ``data`` that records how it was made, and what it must say."""
    want = {
        "train": args.train,
        "test": args.test,
        "seed": args.seed,
        "frames_scale": args.frames_scale,
        **extra,
    }
    if args.variant:  # absent for the default simulator: old stamps stay valid
        want["variants"] = list(_variants(args))
    return data.with_name(data.name + ".config.json"), want


def _variants(args: argparse.Namespace) -> tuple[str, ...]:
    from spectramind.simulate.variants import parse_variants

    return parse_variants(args.variant)


def simulate(args: argparse.Namespace, data: Path) -> None:
    stamp, want = _dataset_stamp(args, data)
    if data.is_dir() and stamp.is_file() and json.loads(stamp.read_text()) == want:
        log.info("simulate: cached %s", data)
        return
    if data.is_dir() and not stamp.is_file() and not args.overwrite:
        # A dataset made by hand with the same command line: trust its planet counts.
        from spectramind.data import reader

        n = (
            len(reader.discover_planets(data, "train")),
            len(reader.discover_planets(data, "test")),
        )
        if n == (args.train, args.test):
            stamp.write_text(json.dumps(want))
            log.info("simulate: adopted existing %s", data)
            return
    from spectramind.simulate import SimulationConfig, simulate_dataset

    start = time.perf_counter()
    simulate_dataset(
        data,
        SimulationConfig(
            n_train=args.train,
            n_test=args.test,
            seed=args.seed,
            frames_scale=args.frames_scale,
            workers=args.workers,
            variants=_variants(args),
        ),
        overwrite=True,
    )
    stamp.write_text(json.dumps(want))
    log.info("simulate: %.0f s", time.perf_counter() - start)


def _simulate_calibrate_one(job: tuple) -> tuple[str, int, int, float, float]:
    """Simulate one planet, calibrate its visits, then delete its raw signal files."""
    from spectramind.artifacts.calibrated import write_calibrated_visit
    from spectramind.calibrate.pipeline import calibrate_visit
    from spectramind.data import layout
    from spectramind.data.layout import AIRS, FGS
    from spectramind.simulate.dataset import simulate_planet

    task, cal = job
    start = time.perf_counter()
    truth = simulate_planet(task)
    simulated = time.perf_counter()
    folder = Path(cal) / task.split
    for v in range(len(truth.visits)):
        result = calibrate_visit(task.data_dir, task.split, truth.planet_id, v)
        write_calibrated_visit(folder / f"{truth.planet_id}_{v}.npz", result)
        for inst in (AIRS, FGS):
            layout.signal_path(task.data_dir, task.split, truth.planet_id, inst, v).unlink()
    done = time.perf_counter()
    return task.split, truth.planet_id, len(truth.visits), simulated - start, done - simulated


def simulate_streaming(args: argparse.Namespace, data: Path, cal: Path) -> dict[str, float]:
    """--discard-raw: simulate + calibrate planet by planet and delete each planet's raw frames.

    A full-size planet is ~500 MB of raw frames; keeping 200 of them needs 100 GB of disk. Here
    each worker simulates one planet, calibrates its visits into ``cal`` and deletes its signal
    parquet files (calibration maps, star info and the truth stay, so the ceiling can still be
    computed). Resumable: planets whose truth and calibrated visits exist are skipped.
    """
    from spectramind.data import reader
    from spectramind.simulate import SimulationConfig
    from spectramind.simulate.dataset import planet_tasks, truth_csv_path, write_tables
    from spectramind.simulate.planet import load_truth, planet_id
    from spectramind.simulate.truth import truth_dir_path

    stamp, want = _dataset_stamp(args, data, raw="discarded")
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        log.info("simulate+calibrate: cached %s", data)
        return {}
    config = SimulationConfig(
        args.train, args.test, args.seed, args.frames_scale, variants=_variants(args)
    )
    config.validate()
    truth_dir = truth_dir_path(data)
    for split in ("train", "test"):
        (truth_dir / split).mkdir(parents=True, exist_ok=True)
        (cal / split).mkdir(parents=True, exist_ok=True)
    # Shared tables first: calibration reads axis_info and adc_info.
    write_tables(data, [], config.n_airs_cds, truth_csv_path(data), config.airs_wavelength_um)
    todo, truths = [], []
    for task in planet_tasks(config, data, truth_dir):
        pid = planet_id(args.seed, task.split, task.index)
        path = truth_dir / task.split / f"{pid}.npz"
        if path.is_file() and (cal / task.split / f"{pid}_0.npz").is_file():
            truth = load_truth(path)
            if all(
                (cal / task.split / f"{pid}_{v}.npz").is_file() for v in range(len(truth.visits))
            ):
                truths.append(truth)
                continue
        todo.append(task)
    log.info("simulate+calibrate: %d planets to do, %d cached", len(todo), len(truths))
    started = time.perf_counter()
    sim_s, cal_s, n_visits = [], [], 0
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        jobs = [(task, str(cal)) for task in todo]
        for i, (split, pid, nv, ts, tc) in enumerate(pool.map(_simulate_calibrate_one, jobs)):
            sim_s.append(ts / nv)
            cal_s.append(tc / nv)
            n_visits += nv
            truths.append(load_truth(truth_dir / split / f"{pid}.npz"))
            elapsed = time.perf_counter() - started
            log.info(
                "planet %d/%d (%s %d, %d visit(s)): simulate %.1f s, calibrate %.1f s; eta %.0f s",
                i + 1,
                len(todo),
                split,
                pid,
                nv,
                ts,
                tc,
                elapsed / (i + 1) * (len(todo) - i - 1),
            )
    write_tables(data, truths, config.n_airs_cds, truth_csv_path(data), config.airs_wavelength_um)
    n = (len(reader.discover_planets(data, "train")), len(reader.discover_planets(data, "test")))
    if n != (args.train, args.test):
        raise SystemExit(f"simulate+calibrate: expected {args.train}/{args.test}, found {n}")
    stamp.write_text(json.dumps(want))
    if not sim_s:
        return {}
    return {
        "simulate_seconds_per_visit_median": float(np.median(sim_s)),
        "calibrate_seconds_per_visit_median": float(np.median(cal_s)),
        "visits": n_visits,
        "wall_seconds": time.perf_counter() - started,
    }


def calibrate(args: argparse.Namespace, data: Path, out: Path) -> dict[str, float]:
    """Calibrate every visit of both splits (one `spectramind calibrate` process per chunk)."""
    from spectramind.data import reader

    timing = {}
    for split in ("train", "test"):
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        todo = []
        for pid in reader.discover_planets(data, split):
            visits = reader.discover_visits(data, split, pid)
            if not all((folder / f"{pid}_{v}.npz").is_file() for v in visits):
                todo.append(pid)
        if not todo:
            continue
        start = time.perf_counter()
        chunks = [todo[k :: args.workers] for k in range(args.workers)]
        procs = []
        for chunk in chunks:
            if not chunk:
                continue
            cmd = [sys.executable, "-m", "spectramind", "-q", "calibrate", "--data-dir", str(data)]
            cmd += ["--split", split, "--out-dir", str(folder)]
            for pid in chunk:
                cmd += ["--planet", str(pid)]
            procs.append(subprocess.Popen(cmd))
        if any(p.wait() != 0 for p in procs):
            raise SystemExit("calibrate failed")
        timing[split] = (time.perf_counter() - start) * args.workers / len(todo)
        log.info(
            "calibrate %s: %d planets, %.2f s per planet-core", split, len(todo), timing[split]
        )
    return timing


def _fit_one(job: tuple) -> tuple[int, float, bool]:
    data, split, pid, paths, out, overrides = job
    from spectramind.artifacts.calibrated import read_calibrated_visit
    from spectramind.artifacts.fits import write_planet_fit
    from spectramind.data import reader
    from spectramind.physics.config import fit_config_from_mapping
    from spectramind.physics.fit import fit_planet

    star = reader.read_star_info(data, split)[pid]
    wavelengths = reader.read_wavelengths(data)
    visits = [read_calibrated_visit(p) for p in paths]
    config = fit_config_from_mapping(overrides)
    start = time.perf_counter()
    result = fit_planet(visits, star, config, pid, split, wavelengths)
    elapsed = time.perf_counter() - start
    write_planet_fit(out, result)
    return pid, elapsed, bool(result.meta["fallback"])


def _groups(cal: Path, split: str) -> dict[int, list[Path]]:
    groups: dict[int, list[Path]] = {}
    for path in sorted((cal / split).glob("*.npz")):
        groups.setdefault(int(path.stem.split("_")[0]), []).append(path)
    return groups


def select_fit(args: argparse.Namespace, data: Path, cal: Path, out: Path, base: dict) -> dict:
    """The workflow's fit_select: candidates fitted on a subset of train planets, the one
    closest to the labels chosen (spectramind.physics.selection); cached under OUT/select/."""
    from spectramind import plan
    from spectramind.model.data import read_labels_csv
    from spectramind.physics import selection

    candidates = json.loads(args.fit_candidates) if args.fit_candidates else None
    candidates = list(candidates or selection.DEFAULT_CANDIDATES)
    groups = _groups(cal, "train")
    planets = plan.selection_subset(list(groups), args.select_planets, seed=0)
    jobs = []
    for k, candidate in enumerate(candidates):
        folder = out / "select" / f"c{k}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "overrides.json").write_text(json.dumps({**base, **candidate}))
        for pid in planets:
            if not (folder / f"{pid}.npz").is_file():
                jobs.append(
                    (
                        str(data),
                        "train",
                        pid,
                        groups[pid],
                        folder / f"{pid}.npz",
                        {**base, **candidate},
                    )
                )
    if jobs:
        start = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(_fit_one, jobs, chunksize=2))
        log.info("select: %d candidate fits in %.0f s", len(jobs), time.perf_counter() - start)
    label_ids, label_values = read_labels_csv(data / "train.csv")
    labels = dict(zip(label_ids.tolist(), label_values, strict=True))
    truth = np.stack([labels[p] for p in planets])
    depths = [
        np.stack([np.load(out / "select" / f"c{k}" / f"{p}.npz")["depth"] for p in planets])
        for k in range(len(candidates))
    ]
    chosen = selection.choose(candidates, depths, truth, planets)
    (out / "selected.json").write_text(json.dumps(chosen.to_dict(), indent=1))
    return {**base, **chosen.overrides}


def fit(args: argparse.Namespace, data: Path, cal: Path, out: Path) -> dict:
    """Physics fit of every planet; per-planet fit times cached beside the fits."""
    timings_path = out / "fit_times.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    overrides = json.loads(args.fit_config) if args.fit_config else {}
    if args.select_planets > 0:
        overrides = select_fit(args, data, cal, out, overrides)
    (out / "fit_config.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "fit_config.json").write_text(json.dumps(overrides))
    jobs = []
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
        groups: dict[int, list[Path]] = {}
        for path in sorted((cal / split).glob("*.npz")):
            groups.setdefault(int(path.stem.split("_")[0]), []).append(path)
        for pid, paths in groups.items():
            target = out / split / f"{pid}.npz"
            if not target.is_file():
                jobs.append((str(data), split, pid, paths, target, overrides))
    if jobs:
        start = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            for pid, elapsed, fallback in pool.map(_fit_one, jobs, chunksize=4):
                timings[str(pid)] = {"seconds": elapsed, "fallback": fallback}
        timings_path.write_text(json.dumps(timings, indent=1))
        log.info("fit: %d planets in %.0f s", len(jobs), time.perf_counter() - start)
    return timings


def _ceiling_one(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    from spectramind.oracles import ceiling

    data, split, pid = job
    return (
        ceiling.planet_depth_std(data, split, pid, free_normalisation=True),
        ceiling.planet_depth_std(data, split, pid, free_normalisation=False),
    )


def ceiling_std(args: argparse.Namespace, data: Path, ids: np.ndarray, out: Path) -> tuple:
    path = out / "ceiling_std.npz"
    if path.is_file():
        cached = np.load(path)
        if np.array_equal(cached["planet_id"], ids):
            return cached["free"], cached["fixed"]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(_ceiling_one, [(str(data), "test", int(p)) for p in ids]))
    free = np.stack([r[0] for r in rows])
    fixed = np.stack([r[1] for r in rows])
    np.savez(path, planet_id=ids, free=free, fixed=fixed)
    return free, fixed


# --- scoring -----------------------------------------------------------------------------------


def z_rms_interval(
    truth: np.ndarray, mu: np.ndarray, sigma: np.ndarray, resamples: int = 2000, seed: int = 0
) -> list[float]:
    """5th and 95th percentile of the z-score RMS when the test planets are resampled.

    truth, mu, sigma: (n_planets, 283). A planet's errors are correlated across wavelength (a
    shared depth offset), so the planets, not the 283 values of each, are the independent draws:
    with 12 planets the z RMS itself is uncertain by ~20 %. z as in :func:`spectramind.metric.
    score_arrays` (sigma floored at its SIGMA_FLOOR).
    """
    from spectramind.metric import planet_z2

    z2 = planet_z2(truth, mu, sigma)  # (n_planets,) mean z^2 per planet
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, z2.size, size=(resamples, z2.size))
    values = np.sqrt(z2[picks].mean(axis=1))
    return [float(np.percentile(values, 5)), float(np.percentile(values, 95))]


def _row(name: str, breakdown, extra: str = "") -> dict:
    return {
        "approach": name,
        "score": breakdown.score,
        "score_unclipped": breakdown.score_unclipped,
        "fgs_score": breakdown.fgs_score,
        "airs_score": breakdown.airs_score,
        "z_rms": breakdown.z_rms,
        "z_rms_fgs": breakdown.z_rms_fgs,
        "z_rms_airs": breakdown.z_rms_airs,
        "within_1sigma": breakdown.within_1sigma,
        "note": extra,
    }


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| approach | score | FGS score | AIRS score | z RMS (all / FGS / AIRS) | within 1 sigma |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['approach']} | {r['score']:.4f} | {r['fgs_score']:.3f} | "
            f"{r['airs_score']:.3f} | {r['z_rms']:.3f} / {r['z_rms_fgs']:.2f} / "
            f"{r['z_rms_airs']:.3f} | {r['within_1sigma']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("artifacts/science"))
    parser.add_argument("--train", type=int, default=150)
    parser.add_argument("--test", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--frames-scale", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fit-tag", default="fits", help="fit cache folder name under --work")
    parser.add_argument(
        "--fit-config", help="FitConfig overrides as JSON, e.g. '{\"drift_wavelength_degree\": -1}'"
    )
    parser.add_argument(
        "--select-planets",
        type=int,
        default=40,
        help="train planets per fit candidate in the workflow's fit_select step (0: off)",
    )
    parser.add_argument(
        "--fit-candidates",
        help="JSON list of FitConfig overrides for fit_select (default: the workflow's)",
    )
    parser.add_argument("--train-config", type=Path, help="YAML of TrainConfig fields")
    parser.add_argument("--overwrite", action="store_true", help="re-simulate the dataset")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="simulator variant (repeatable; see spectramind simulate --help)",
    )
    parser.add_argument(
        "--discard-raw",
        action="store_true",
        help="simulate and calibrate planet by planet, deleting raw frames (full-size runs)",
    )
    parser.add_argument("--out", type=Path, help="results JSON (default WORK/results-TAG.json)")
    matrix = parser.add_argument_group(
        "robustness matrix (--matrix)",
        "one row per dataset variant, each in its own work folder ROOT/<row>/, built if missing "
        "(cached); --train/--test/--seed/--frames-scale give the size of every row except "
        "default-full (120/40, seed 2025, full size)",
    )
    matrix.add_argument("--matrix", action="store_true", help="measure the robustness matrix")
    matrix.add_argument(
        "--matrix-root", type=Path, default=Path("artifacts/science-matrix"), metavar="ROOT"
    )
    matrix.add_argument(
        "--rows", help="comma-separated rows to measure (default: all; see benchmarks/matrix.py)"
    )
    matrix.add_argument(
        "--no-build",
        action="store_true",
        help="measure only rows whose calibrated data exist; list the others as missing",
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    if args.matrix:
        from matrix import run_matrix  # benchmarks/matrix.py, beside this file

        run_matrix(args)
        return
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    if args.discard_raw:
        cal_timing = simulate_streaming(args, data, work / "calibrated")
    else:
        simulate(args, data)
        cal_timing = calibrate(args, data, work / "calibrated")
    results = measure(args, work, data, cal_timing, ceilings=("simulator",))
    out = args.out or work / f"results-{args.fit_tag}.json"
    out.write_text(json.dumps(results, indent=1))
    print(markdown_table(results["rows"]))
    print(json.dumps({k: v for k, v in results.items() if k != "rows"}, indent=1))


def independent_ceiling_std(args: argparse.Namespace, data: Path, ids: np.ndarray, work: Path):
    """(n, 283) independent-noise ceiling std of the test planets (cached in WORK)."""
    path = work / "ceiling_independent.npz"
    if path.is_file():
        cached = np.load(path)
        if np.array_equal(cached["planet_id"], ids):
            return cached["std"]
    jobs = [(str(data), str(work / "calibrated"), "test", int(p)) for p in ids]
    with ProcessPoolExecutor(args.workers) as pool:
        std = np.stack(list(pool.map(_independent_one, jobs)))
    np.savez(path, planet_id=ids, std=std)
    return std


def _independent_one(job: tuple) -> np.ndarray:
    from spectramind.oracles.independent_ceiling import planet_depth_std

    return planet_depth_std(*job)


def measure(
    args: argparse.Namespace,
    work: Path,
    data: Path,
    cal_timing: dict,
    ceilings: tuple[str, ...] = ("simulator",),
) -> dict:
    """Fit, train and score every approach on one prepared dataset (``work``/calibrated).

    ``ceilings``: "simulator" (:mod:`spectramind.oracles.ceiling`, our simulator's noise model;
    both the
    free- and known-normalisation rows) and/or "independent" (:mod:`spectramind.
    independent_ceiling`, the same definition for any generator).
    """
    fits_dir = work / args.fit_tag
    fit_times = fit(args, data, work / "calibrated", fits_dir)

    from spectramind import baselines, metric
    from spectramind.commands.baseline import group_by_planet, time_scaled_config
    from spectramind.model.config import load_config
    from spectramind.model.crossfit import train_model
    from spectramind.model.data import DEPTH_UNIT, feature_files_in, load_planets, read_labels_csv
    from spectramind.model.predict import predict
    from spectramind.model.train import train
    from spectramind.simulate import read_truth_csv

    train_ids, train_labels = read_labels_csv(data / "train.csv")
    test_ids, test_truth = read_truth_csv(data)
    order = np.argsort(test_ids)
    test_ids, test_truth = test_ids[order], test_truth[order]
    naive = metric.NaiveReference.from_labels(train_labels)
    rows = []

    def score(name: str, mu: np.ndarray, sigma: np.ndarray, note: str = "") -> None:
        b = metric.score_arrays(test_truth, mu, sigma, naive, test_ids, source=name)
        row = _row(name, b, note)
        row["z_rms_interval"] = z_rms_interval(test_truth, mu, sigma)
        rows.append(row)
        log.info(
            "%-28s score %.4f  z_rms %.3f (90%% over planets %.2f-%.2f)",
            name,
            b.score,
            b.z_rms,
            *row["z_rms_interval"],
        )

    n = len(test_ids)
    score("naive", np.full((n, 283), naive.mean), np.full((n, 283), naive.sigma))

    # Public baseline: scale and sigma calibrated on the train planets.
    train_groups = group_by_planet([work / "calibrated" / "train"], [])
    test_groups = group_by_planet([work / "calibrated" / "test"], [])
    cfg = time_scaled_config(baselines.BaselineConfig(), train_groups)
    fits = [baselines.planet_baseline(train_groups[int(p)], cfg, int(p)) for p in train_ids]
    ok = [k for k, f in enumerate(fits) if not f.fallback]
    scale, sigma = baselines.calibrate_baseline(
        np.array([np.mean(fits[k].visit_depths) for k in ok]), train_labels[ok]
    )
    from dataclasses import replace

    cfg = replace(cfg, depth_scale=scale, sigma=sigma)
    _, mu, sg = baselines.predict_baseline({int(p): test_groups[int(p)] for p in test_ids}, cfg)
    score("public baseline", mu, sg, f"scale {scale:.4f}, sigma {sigma:.3g}")

    # Physics alone.
    test_table = load_planets(feature_files_in(fits_dir / "test"), data / "test_star_info.csv")
    assert np.array_equal(test_table.planet_id, test_ids)
    score(
        "physics (depth, depth_err)",
        np.clip(test_table.depth / DEPTH_UNIT, 0, None),
        test_table.depth_err / DEPTH_UNIT,
    )

    # Physics + torch: one model with its hold-out calibration (the issue-4 stage), then the
    # default (cross-fitted members, spectral prior, out-of-fold calibration).
    train_table = load_planets(
        feature_files_in(fits_dir / "train"), data / "train_star_info.csv", data / "train.csv"
    )
    tcfg = load_config(args.train_config, {"device": "cpu"})
    single = train(replace(tcfg, n_folds=1), train_table)
    mu, sg = predict(single, test_table)
    score("physics + torch, one model", mu, sg, f"best epoch {single['best_epoch']}")
    start = time.perf_counter()
    checkpoint = train_model(tcfg, train_table)
    train_seconds = time.perf_counter() - start
    mu, sg = predict(checkpoint, test_table)
    prior = checkpoint.get("prior")
    score(
        "physics + torch",
        mu,
        sg,
        f"{len(checkpoint.get('members', [1]))} member(s), prior with "
        f"{len(prior['components']) if prior else 0} directions",
    )
    if checkpoint.get("members"):
        # The z RMS a perfectly calibrated model would show on this many test planets, from the
        # members' out-of-fold errors on the train planets (metric.calibrated_z_rms_interval).
        oof_mu, oof_sigma = predict(checkpoint, train_table, planets="holdout")
        oof_z2 = metric.planet_z2(train_table.labels / DEPTH_UNIT, oof_mu, oof_sigma)
        interval = metric.calibrated_z_rms_interval(oof_z2, oof_z2.size, int(n))
        rows[-1]["z_rms_calibrated_interval"] = list(interval)
        log.info(
            "physics + torch: a calibrated model shows z RMS %.2f-%.2f (90%%) on %d test planets "
            "with its scale from %d out-of-fold ones",
            *interval,
            n,
            oof_z2.size,
        )

    # Ceilings.
    from spectramind.oracles.ceiling import ceiling_predictions

    free = None
    if "simulator" in ceilings:
        free, fixed = ceiling_std(args, data, test_ids, work)
        mu, sg = ceiling_predictions(test_truth, free, seed=args.seed)
        score("ceiling (F0 free)", mu, sg, "Cramer-Rao, stellar flux level marginalised")
        mu, sg = ceiling_predictions(test_truth, fixed, seed=args.seed)
        score("ceiling (all but depth known)", mu, sg, "Cramer-Rao, every other parameter known")
    independent = None
    if "independent" in ceilings:
        independent = independent_ceiling_std(args, data, test_ids, work)
        mu, sg = ceiling_predictions(test_truth, independent, seed=args.seed)
        score(
            "ceiling (independent noise)",
            mu,
            sg,
            "Cramer-Rao from measured white noise and the true transit shape",
        )
    ceiling_ppm = free if free is not None else independent

    times = np.array([v["seconds"] for k, v in fit_times.items()])
    n_fallback = sum(bool(v["fallback"]) for v in fit_times.values())
    physics_err = test_table.depth / DEPTH_UNIT - test_truth
    results = {
        "command": " ".join(sys.argv),
        "n_train": len(train_ids),
        "n_test": int(n),
        "frames_scale": args.frames_scale,
        "fit_tag": args.fit_tag,
        "rows": rows,
        "fit_seconds_per_planet": {
            "median": float(np.median(times)),
            "mean": float(times.mean()),
            "max": float(times.max()),
        },
        "fit_planets_with_fallback_channels": n_fallback,
        "calibrate_seconds_per_planet": cal_timing,
        "train_seconds": train_seconds,
        "train_best_epoch": [m["best_epoch"] for m in checkpoint.get("members", [checkpoint])],
        "train_noise_scale": checkpoint.get("noise_scale"),
        "train_sigma_scale": checkpoint.get("sigma_scale"),
        "train_out_of_fold": checkpoint.get("holdout_diagnostics"),
        "diagnostics": {
            "ceiling_std_ppm_median_airs": float(np.median(ceiling_ppm[:, 1:]) * 1e6),
            "ceiling_std_ppm_median_fgs": float(np.median(ceiling_ppm[:, 0]) * 1e6),
            "physics_err_rms_ppm_airs": float(np.sqrt(np.mean(physics_err[:, 1:] ** 2)) * 1e6),
            "physics_err_rms_ppm_fgs": float(np.sqrt(np.mean(physics_err[:, 0] ** 2)) * 1e6),
            "physics_sigma_median_ppm_airs": float(np.median(test_table.depth_err[:, 1:])),
            # Common-mode part: per-planet mean error over AIRS, and what is left per channel.
            "physics_common_mode_rms_ppm": float(
                np.sqrt(np.mean(physics_err[:, 1:].mean(axis=1) ** 2)) * 1e6
            ),
            "physics_channel_rms_after_common_ppm": float(
                np.sqrt(
                    np.mean(
                        (physics_err[:, 1:] - physics_err[:, 1:].mean(axis=1, keepdims=True)) ** 2
                    )
                )
                * 1e6
            ),
        },
    }
    return results


if __name__ == "__main__":
    main()
