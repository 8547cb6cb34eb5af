"""Public truth API of a simulated dataset, for tests and evaluation (never for the pipeline).

The simulator writes, beside (never inside) the dataset folder ``D``:

- ``D.truth.csv``: the test planets' true spectra, same columns as ``train.csv``.
- ``D.truth/<split>/<planet_id>.npz``: each planet's full truth (:class:`.planet.PlanetTruth`:
  star, orbit, spectrum, limb darkening, stellar flux, per-visit t0, jitter, drift, background).

From these, :func:`expected_light_curves` recomputes a visit's noise-free light curves with the
very function the simulator used to make its frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spectramind.artifacts.tables import read_labels
from spectramind.errors import DataFormatError
from spectramind.simulate.dataset import truth_csv_path, truth_dir_path
from spectramind.simulate.planet import (
    ExpectedLightCurves,
    PlanetTruth,
    load_truth,
    visit_light_curves,
)


def planet_truth(data_dir: Path | str, split: str, planet_id: int) -> PlanetTruth:
    """The stored truth of one simulated planet."""
    path = truth_dir_path(data_dir) / split / f"{int(planet_id)}.npz"
    if not path.is_file():
        raise DataFormatError(
            f"{path}: expected the simulator's truth for {split} planet {planet_id}, found none"
        )
    return load_truth(path)


def expected_light_curves(
    data_dir: Path | str, split: str, planet_id: int, visit: int = 0
) -> ExpectedLightCurves:
    """Noise-free AIRS and FGS light curves of one visit (see :class:`ExpectedLightCurves`).

    AIRS: (n_airs_cds, 356) electrons per 4.5 s CDS frame per detector column summed over rows;
    FGS: (n_fgs_cds,) electrons per 0.1 s CDS frame summed over the frame. Both are
    stellar flux x transit x gain drift x jitter loss, i.e. before flat field, without dark,
    bias, background, non-linearity, noise, cosmic rays or dead pixels: what a perfect
    calibration (linearise, subtract dark and background, CDS, divide by the flat, sum over
    rows) recovers. Times are the mean of each CDS pair's axis_info read times [h].
    """
    truth = planet_truth(data_dir, split, planet_id)
    if not 0 <= visit < len(truth.visits):
        raise DataFormatError(
            f"{truth_dir_path(data_dir)}: planet {planet_id} has visits "
            f"{list(range(len(truth.visits)))}, asked for {visit}"
        )
    return visit_light_curves(truth, visit)


def true_spectrum(data_dir: Path | str, split: str, planet_id: int) -> np.ndarray:
    """(283,) true (Rp/Rs)^2 for wl_1..wl_283 of any simulated planet (train or test)."""
    return planet_truth(data_dir, split, planet_id).labels


def read_truth_csv(data_dir: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """``<data_dir>.truth.csv``: test planet ids (n,) int64 and true spectra (n, 283)."""
    path = truth_csv_path(data_dir)
    if not path.is_file():
        raise DataFormatError(f"{path}: expected the simulator's test truth file, found none")
    table = read_labels(path)  # the same columns as train.csv
    return table.planet_ids, table.values
