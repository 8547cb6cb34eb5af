"""An ADC 2025 validation set written by ExoSim 2, not by SpectraMind's simulator.

Runs in its own environment (``scripts/exosim-env.sh``: ExoSim 2.0.1 needs numpy < 2 and
astropy < 6); imports nothing from ``spectramind``. For every planet it writes ExoSim 2 XML
configurations (sky: a Planck star and a transiting planet; payload: an AIRS-like spectrometer and
an FGS-like photometer, see ``instrument.py``), runs ExoSim's three recipes (CreateFocalPlane ->
CreateSubExposures -> CreateNDRs) and converts the NDR cubes into the ADC 2025 Kaggle layout
(FORMAT.md, copied in docs/CONTRACTS.md and docs/exosim.md): per planet and visit
``AIRS-CH0_signal_0.parquet`` / ``FGS1_signal_0.parquet`` (uint16 raw reads, start and end read of
each CDS pair interleaved) and the five calibration maps per instrument, then the shared tables
(axis_info, adc_info, wavelengths.csv, train.csv, star info, sample_submission). The labels of the
test planets and every planet's true transit go *beside* the dataset folder, as our simulator does:
``<out>.truth.csv`` and ``<out>.truth/<split>/<planet_id>.json`` (the generic truth format read
by ``spectramind.oracles.independent_ceiling``).

Usage::

    scripts/exosim-env.sh                       # once: .venv-exosim
    .venv-exosim/bin/python benchmarks/exosim/generate.py \\
        --out artifacts/science-matrix/exosim/data --train 100 --test 25 --frames-scale 0.25 \\
        --seed 99 --workers 2

Resumable: a planet whose files are complete is skipped; the shared tables are written last.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import instrument as ins  # noqa: E402
import population  # noqa: E402

log = logging.getLogger("exosim-adc")


# --- ExoSim run of one planet ---------------------------------------------------------------


# ExoSim's cache chunk sizes [MB] to try, in turn. ExoSim 2.0.1 cannot apply the astronomical
# signal when the last sub-exposure of the transit model falls on the first row of a cache chunk
# (``applyAstronomicalSignal.select_chunk_range`` keeps that chunk whole and the model slice for
# it is empty: "operands could not be broadcast together with shapes (n,32,356) (0,1,356)").
# Another chunk size moves the chunk boundaries; 2 is ExoSim's default (planets that never hit
# the boundary are byte-identical to a run without this retry).
CHUNK_SIZES_MB = (2, 3, 5, 7, 11)
_CHUNK_BOUNDARY_ERROR = "could not be broadcast together"


def run_exosim(
    planet: population.Planet, workdir: Path, n_airs_cds: int, chunk_mb: float = 2
) -> dict:
    """Run ExoSim 2 for one planet visit; returns per channel the NDR cube, times, maps."""
    import exosim.recipes as recipes
    import h5py
    from exosim.utils import RunConfig

    RunConfig.random_seed = planet.exosim_seed
    RunConfig.n_job = 1
    RunConfig.chunk_size = chunk_mb
    # ExoSim collects every configuration file it has read, process-wide, and copies them next
    # to each output: start each planet with an empty list (the last planet's files are gone).
    RunConfig.config_file_list.clear()
    rng = np.random.default_rng([planet.exosim_seed, 1])
    maps = {
        ins.AIRS_NAME: ins.draw_maps(rng, ins.AIRS_COLS),
        ins.FGS_NAME: ins.draw_maps(rng, ins.FGS_COLS),
    }
    payload = workdir / "payload"
    ins.write_payload_files(payload, maps)
    task = Path(__file__).resolve().parent / "chromatic_ld_task.py"
    main = str(ins.write_configuration(workdir, payload, planet, n_airs_cds, task))
    fp, se, ndr = (str(workdir / f"{name}.h5") for name in ("focal_plane", "sub_exposures", "ndrs"))
    recipes.CreateFocalPlane(main, fp)
    recipes.CreateSubExposures(input_file=fp, output_file=se, options_file=main)
    Path(fp).unlink()
    recipes.CreateNDRs(input_file=se, output_file=ndr, options_file=main)
    Path(se).unlink()
    out = {}
    with h5py.File(ndr, "r") as f:
        for ch in (ins.AIRS_NAME, ins.FGS_NAME):
            grp = f["channels"][ch]["NDRs"]
            adc = grp["metadata"]["ADC"]
            out[ch] = {
                "ndrs": np.asarray(grp["data"][()]),
                "time_h": np.asarray(grp["time"][()], dtype=np.float64),
                "spectral_um": np.asarray(grp["spectral"][()], dtype=np.float64),
                "adc_gain": float(adc["gain"][()]),
                "adc_offset": float(adc["offset"][()]),
                "maps": maps[ch],
            }
    return out


# --- conversion to the ADC 2025 layout --------------------------------------------------------


def inverse_nonlinearity(pnl: np.ndarray) -> np.ndarray:
    """(6, rows, cols) degree-5 inverse of measured = q + A q^2 + B q^3 (Lagrange inversion)."""
    a, b = -pnl[1], pnl[2]  # measured = q - a q^2 + b q^3
    return np.stack(
        [
            np.zeros_like(a),
            np.ones_like(a),
            a,
            2 * a * a - b,
            5 * a**3 - 5 * a * b,
            14 * a**4 - 21 * a * a * b + 3 * b * b,
        ]
    )


def write_parquet(path: Path, matrix: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {str(j): pa.array(np.ascontiguousarray(matrix[:, j])) for j in range(matrix.shape[1])}
    )
    tmp = path.with_name(path.name + ".partial")
    pq.write_table(table, tmp, compression="snappy", use_dictionary=False, write_statistics=False)
    tmp.replace(path)


ADC_FULL_SCALE = 65535  # uint16 (FORMAT.md: raw = uint16(clip(floor(...), 0, 65535)))


def adc_encode(reads: np.ndarray, channel: str, where: str) -> np.ndarray:
    """ExoSim's 32-bit digital reads -> the 16-bit raw values of the format, clipped at full scale.

    ExoSim's own 16-bit ADC would wrap a read past 65535 modulo 65536 (``astype(uint16)``); a
    real ADC saturates. A negative analogue value cast to uint32 also wraps, to above 2^31: those
    read 0, as the format's encoder clips them.
    """
    if reads.dtype != np.uint32:
        raise TypeError(
            f"{where} {channel}: expected 32-bit ExoSim reads (ADC_num_bit 32), found "
            f"{reads.dtype}: a 16-bit ExoSim ADC wraps reads past full scale instead of "
            "clipping them"
        )
    signed = reads.astype(np.int64)
    signed[signed >= 2**31] = 0  # wrapped negatives
    clipped = int(np.count_nonzero(signed > ADC_FULL_SCALE))
    if clipped:
        log.info("%s %s: %d reads clipped at the ADC full scale", where, channel, clipped)
    return np.clip(signed, 0, ADC_FULL_SCALE).astype(np.uint16)


def write_visit(folder: Path, channel: str, sim: dict, flip_columns: bool) -> None:
    """Signal parquet (frames, rows*cols) uint16 and the five calibration maps of a channel."""
    ndrs = sim["ndrs"]
    maps = sim["maps"]
    if flip_columns:  # ExoSim disperses towards +x; ADC 2025 column 0 is the longest wavelength
        ndrs = ndrs[:, :, ::-1]
        maps = {k: v[..., ::-1] for k, v in maps.items()}
    frames = adc_encode(ndrs.reshape(ndrs.shape[0], -1), channel, folder.name.split(".")[0])
    write_parquet(folder / f"{channel}_signal_0.parquet", frames)
    cal = folder / f"{channel}_calibration_0"
    cal.mkdir(exist_ok=True)
    cols = ndrs.shape[2]
    values = {
        "dark": maps["dark"].astype(np.float64),
        "dead": maps["dead"].astype(bool),
        "flat": maps["flat"].astype(np.float64),
        "read": maps["read"].astype(np.float64),
        "linear_corr": inverse_nonlinearity(maps["pnl"]).reshape(-1, cols),
    }
    for name, array in values.items():
        write_parquet(cal / f"{name}.parquet", array)


def pixel_labels(planet: population.Planet, airs_wl: np.ndarray) -> np.ndarray:
    """(283,) true depth for wl_1..wl_283: photon-weighted band mean (FGS1) / pixel mean (AIRS).

    ``airs_wl`` (356,) is the ADC column order (descending). A column collects the light of its
    wavelength bin (edges half-way to its neighbours); the label is the depth averaged over the
    bin weighted by the stellar photon flux, which is what a perfect extraction measures.
    """
    fine = np.linspace(0.55, 4.3, 30000)
    photons = fine**-4 / np.expm1(14387.7688 / (fine * planet.t_eff))
    depth = planet.depth(fine)
    lo, hi = ins.FGS_BAND
    band = (fine >= lo) & (fine <= hi)
    fgs = float(np.sum(depth[band] * photons[band]) / np.sum(photons[band]))
    asc = airs_wl[::-1]
    edges = np.concatenate(
        [[1.5 * asc[0] - 0.5 * asc[1]], 0.5 * (asc[1:] + asc[:-1]), [1.5 * asc[-1] - 0.5 * asc[-2]]]
    )
    idx = np.digitize(fine, edges) - 1
    ok = (idx >= 0) & (idx < asc.size)
    num = np.bincount(idx[ok], depth[ok] * photons[ok], asc.size)
    den = np.bincount(idx[ok], photons[ok], asc.size)
    per_col_asc = num / den
    per_col = per_col_asc[::-1]  # ADC column order
    crop = per_col[39:321][::-1]  # wl_2..wl_283, ascending
    return np.concatenate([[fgs], crop])


def simulate_planet(job: tuple) -> dict:
    """Simulate and write one planet; returns its table rows (also stored in its truth JSON)."""
    out, truth_dir, seed, split, index, pid, n_airs_cds = job
    planet = population.draw(seed, split, index, pid, n_airs_cds, ins.AIRS_CADENCE_S)
    record_path = truth_dir / split / f"{pid}.json"
    folder = out / split / str(pid)
    if record_path.is_file():
        return json.loads(record_path.read_text())
    started = time.perf_counter()
    for attempt, chunk_mb in enumerate(CHUNK_SIZES_MB):
        work = Path(tempfile.mkdtemp(prefix=f"exosim-{pid}-"))
        try:
            sim = run_exosim(planet, work, n_airs_cds, chunk_mb)
            break
        except ValueError as err:
            if _CHUNK_BOUNDARY_ERROR not in str(err) or attempt == len(CHUNK_SIZES_MB) - 1:
                raise RuntimeError(f"ExoSim failed on {split} planet {pid}: {err}") from err
            log.warning(
                "planet %d: ExoSim chunk-boundary error with %s MB chunks; retrying with %s MB",
                pid,
                chunk_mb,
                CHUNK_SIZES_MB[attempt + 1],
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    write_visit(tmp, ins.AIRS_NAME, sim[ins.AIRS_NAME], flip_columns=True)
    write_visit(tmp, ins.FGS_NAME, sim[ins.FGS_NAME], flip_columns=False)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    airs_wl = sim[ins.AIRS_NAME]["spectral_um"][::-1]  # ADC column order (descending)
    labels = pixel_labels(planet, airs_wl)
    target_wl = np.concatenate([[0.7], airs_wl[39:321][::-1]])
    ld = planet.ld(np.concatenate([[0.7], target_wl[1:]]))
    # The transit model was sampled at the middle of each sub-exposure; axis_info times a CDS at
    # the mean of its two read times, 0.15 s after the cadence start. Mid-integration of the AIRS
    # CDS lies at 0.1 + 4.5 / 2 s, so on the axis_info clock the transit is 2.2 s earlier.
    shift_h = (0.1 + 4.5 / 2 - 0.15) / 3600.0
    record = {
        "planet_id": pid,
        "split": split,
        "generator": "exosim 2.0.1 (benchmarks/exosim)",
        "period_days": planet.period_days,
        "a_rs": planet.a_rs,
        "inc_deg": planet.inc_deg,
        "t0_h": [planet.t0_h - shift_h],
        "ld_law": "quadratic",
        "ld": ld.tolist(),
        "depth": labels.tolist(),
        "star_info": {
            "Rs": round(planet.r_star, 6),
            "Ms": round(planet.m_star, 6),
            "Ts": round(planet.t_eff, 6),
            "Mp": round(planet.m_planet, 6),
            "e": 0.0,
            "P": round(planet.period_days, 6),
            "sma": round(planet.a_rs, 6),
            "i": round(planet.inc_deg, 6),
        },
        "distance_pc": planet.distance_pc,
        "axes": {
            "airs_time_h": sim[ins.AIRS_NAME]["time_h"].tolist(),
            "fgs_time_h": sim[ins.FGS_NAME]["time_h"].tolist(),
            "airs_wavelength_um": airs_wl.tolist(),
        },
        "seconds": time.perf_counter() - started,
    }
    record_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_record = record_path.with_name(record_path.name + ".partial")
    tmp_record.write_text(json.dumps(record))
    tmp_record.replace(record_path)
    return record


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([repr(float(v)) if isinstance(v, float) else v for v in row])


def write_tables(out: Path, truth_csv: Path, records: list[dict]) -> None:
    """axis_info, adc_info, wavelengths, train.csv, star info, sample_submission; test truth."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wl_cols = [f"wl_{j}" for j in range(1, 284)]
    axes = records[0]["axes"]
    airs_t, fgs_t = np.array(axes["airs_time_h"]), np.array(axes["fgs_time_h"])
    airs_wl = np.array(axes["airs_wavelength_um"])
    n = fgs_t.size

    def padded(values: np.ndarray) -> np.ndarray:
        col = np.full(n, np.nan)
        col[: values.size] = values
        return col

    integration = np.tile([0.1, 4.5], airs_t.size // 2)
    table = pa.table(
        {
            "AIRS-CH0-axis0-h": padded(airs_t),
            "AIRS-CH0-axis2-um": padded(airs_wl),
            "AIRS-CH0-integration_time": padded(integration),
            "FGS1-axis0-h": fgs_t,
        }
    )
    pq.write_table(table, out / "axis_info.parquet")
    write_csv(
        out / "adc_info.csv",
        ["FGS1_adc_offset", "FGS1_adc_gain", "AIRS-CH0_adc_offset", "AIRS-CH0_adc_gain"],
        [[ins.ADC_OFFSET, ins.ADC_GAIN[ins.FGS_NAME], ins.ADC_OFFSET, ins.ADC_GAIN[ins.AIRS_NAME]]],
    )
    target = np.concatenate([[0.7], airs_wl[39:321][::-1]])
    write_csv(out / "wavelengths.csv", wl_cols, [[f"{v:.6f}" for v in target]])
    by_split = {
        s: sorted((r for r in records if r["split"] == s), key=lambda r: r["planet_id"])
        for s in ("train", "test")
    }
    write_csv(
        out / "train.csv",
        ["planet_id", *wl_cols],
        [[r["planet_id"], *r["depth"]] for r in by_split["train"]],
    )
    star_cols = ["Rs", "Ms", "Ts", "Mp", "e", "P", "sma", "i"]
    for split in ("train", "test"):
        write_csv(
            out / f"{split}_star_info.csv",
            ["planet_id", *star_cols],
            [[r["planet_id"], *(r["star_info"][c] for c in star_cols)] for r in by_split[split]],
        )
    labels = np.array([r["depth"] for r in by_split["train"]])
    mu, sd = (float(labels.mean()), float(labels.std())) if labels.size else (0.015, 0.01)
    write_csv(
        out / "sample_submission.csv",
        ["planet_id", *wl_cols, *[f"sigma_{j}" for j in range(1, 284)]],
        [[r["planet_id"], *([mu] * 283), *([sd] * 283)] for r in by_split["test"]],
    )
    write_csv(
        truth_csv,
        ["planet_id", *wl_cols],
        [[r["planet_id"], *r["depth"]] for r in by_split["test"]],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--test", type=int, default=25)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument(
        "--frames-scale",
        type=float,
        default=0.25,
        help="fraction of the real 5625 AIRS CDS frames per visit",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="processes (each runs planets in turn)"
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for name in ("exosim",):
        logging.getLogger(name).setLevel(logging.WARNING)
    out = args.out
    truth_dir = out.with_name(out.name + ".truth")
    truth_csv = out.with_name(out.name + ".truth.csv")
    n_airs_cds = max(20, round(ins.FULL_AIRS_CDS * args.frames_scale))
    ids = population.planet_ids(args.seed, args.train, args.test)
    jobs = [
        (out, truth_dir, args.seed, split, index, ids[(split, index)], n_airs_cds)
        for split, count in (("train", args.train), ("test", args.test))
        for index in range(count)
    ]
    for split in ("train", "test"):
        (out / split).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = []
    with ProcessPoolExecutor(args.workers, max_tasks_per_child=None) as pool:
        for i, record in enumerate(pool.map(simulate_planet, jobs)):
            records.append(record)
            log.info(
                "planet %d/%d (%s %d): %.0f s; elapsed %.0f s",
                i + 1,
                len(jobs),
                record["split"],
                record["planet_id"],
                record["seconds"],
                time.perf_counter() - started,
            )
    write_tables(out, truth_csv, records)
    (out.with_name(out.name + ".config.json")).write_text(
        json.dumps(
            {
                "generator": "exosim",
                "train": args.train,
                "test": args.test,
                "seed": args.seed,
                "frames_scale": args.frames_scale,
            }
        )
    )
    log.info("wrote %s in %.0f s", out, time.perf_counter() - started)


if __name__ == "__main__":
    main()
