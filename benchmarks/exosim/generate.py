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
by ``spectramind.independent_ceiling``).

Usage::

    scripts/exosim-env.sh                       # once: .venv-exosim
    .venv-exosim/bin/python benchmarks/exosim/generate.py --out /work/data/science/exosim/data \\
        --train 100 --test 25 --frames-scale 0.25 --seed 99 --workers 2

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


def run_exosim(planet: population.Planet, workdir: Path, n_airs_cds: int) -> dict:
    """Run ExoSim 2 for one planet visit; returns NDR cubes, NDR times, maps per channel."""
    import h5py

    import exosim.recipes as recipes
    from exosim.utils import RunConfig

    RunConfig.random_seed = planet.exosim_seed
    RunConfig.n_job = 1
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
    recipes.CreateNDRs(input_file=se, output_file=ndr, options_file=main)
    out = {}
    with h5py.File(ndr, "r") as f, h5py.File(fp, "r") as g:
        for ch in (ins.AIRS_NAME, ins.FGS_NAME):
            out[ch] = {"maps": maps[ch], "h5": ndr, "fp": fp}
        log.info("ndr file: %s", list(f["channels"][ins.AIRS_NAME].keys()))
        log.info("fp file: %s", list(g["channels"][ins.AIRS_NAME].keys()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--test", type=int, default=25)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--frames-scale", type=float, default=0.25)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--probe", action="store_true", help="run one planet, keep the h5 files")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    n_airs_cds = max(20, round(ins.FULL_AIRS_CDS * args.frames_scale))
    ids = population.planet_ids(args.seed, args.train, args.test)
    planet = population.draw(
        args.seed, "train", 0, ids[("train", 0)], n_airs_cds, ins.AIRS_CADENCE_S
    )
    work = Path(tempfile.mkdtemp(prefix="exosim-probe-"))
    t0 = time.perf_counter()
    run_exosim(planet, work, n_airs_cds)
    log.info("probe done in %.0f s (%s)", time.perf_counter() - t0, work)


if __name__ == "__main__":
    main()
