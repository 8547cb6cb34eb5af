"""What the workflow has to do for a dataset: the planets, visits and artifact paths.

The Snakemake input functions (``workflow/rules/common.smk``) only delegate to these functions,
so the path scheme is defined, and tested, in one place:

- ``artifacts/calib/{split}/{planet_id}/visit_{visit}.npz``: one calibrated planet visit
- ``artifacts/fit/{split}/{planet_id}.npz``: one planet's physics fit (visits combined)

Snakemake calls the input functions once per job (about 2300 times for the 1100 real planets),
so the planets and visits of a split are read from disk once and cached, keyed on the split
folder's inode and modification time: a re-created dataset (the simulate checkpoint) is read
again; files added inside an existing planet folder during a run are not seen.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from spectramind.data import layout, reader

ARTIFACTS = Path("artifacts")


@functools.lru_cache(maxsize=16)
def _split_index(data_dir: str, split: str, stamp: tuple[int, int]) -> dict[int, tuple[int, ...]]:
    return {
        planet_id: tuple(reader.discover_visits(data_dir, split, planet_id))
        for planet_id in reader.discover_planets(data_dir, split)
    }


def _index(data_dir: Path | str, split: str) -> dict[int, tuple[int, ...]]:
    try:
        stat = (Path(data_dir) / split).stat()
    except OSError:
        reader.discover_planets(data_dir, split)  # raises the reader's error for this case
        raise
    return _split_index(str(data_dir), split, (stat.st_ino, stat.st_mtime_ns))


def planet_visits(data_dir: Path | str, split: str) -> dict[int, list[int]]:
    """``{planet_id: [visit, ...]}`` for every planet of ``split``, from the files present."""
    return {planet_id: list(visits) for planet_id, visits in _index(data_dir, split).items()}


def calibrated_path(split: str, planet_id: int | str, visit: int | str) -> str:
    return str(ARTIFACTS / "calib" / split / str(planet_id) / f"visit_{visit}.npz")


def fit_path(split: str, planet_id: int | str) -> str:
    return str(ARTIFACTS / "fit" / split / f"{planet_id}.npz")


def calibrated_paths_of_planet(data_dir: Path | str, split: str, planet_id: int | str) -> list[str]:
    visits = _index(data_dir, split).get(int(planet_id))
    if visits is None:  # not in the split: let the reader say why
        visits = tuple(reader.discover_visits(data_dir, split, int(planet_id)))
    return [calibrated_path(split, planet_id, visit) for visit in visits]


def fit_paths_of_split(data_dir: Path | str, split: str) -> list[str]:
    return [fit_path(split, planet_id) for planet_id in _index(data_dir, split)]


def raw_inputs_of_visit(
    data_dir: Path | str, split: str, planet_id: int | str, visit: int | str
) -> list[str]:
    """The raw files one calibration job reads: both signals and all calibration maps.

    The same paths as ``layout.signal_path`` / ``layout.calibration_path``, joined as strings
    (pathlib is the larger part of the dry-run cost of 1100 planets).
    """
    planet_dir = os.path.join(str(data_dir), split, str(planet_id))
    paths = []
    for instrument in (layout.AIRS, layout.FGS):
        paths.append(os.path.join(planet_dir, layout.signal_name(instrument, int(visit))))
        calibration_dir = os.path.join(
            planet_dir, layout.calibration_dir_name(instrument, int(visit))
        )
        paths.extend(
            os.path.join(calibration_dir, f"{name}.parquet") for name in layout.CALIBRATION_MAPS
        )
    paths.append(os.path.join(str(data_dir), layout.ADC_INFO_CSV))
    paths.append(os.path.join(str(data_dir), layout.AXIS_INFO_PARQUET))
    return paths


def selection_subset(planet_ids: Sequence[int], n: int, seed: int) -> list[int]:
    """Up to ``n`` planet ids, the smallest SHA-256("select:<seed>:<id>"), ascending: the train
    planets rule fit_select fits (a fixed hash of the ids, so adding planets keeps most)."""
    ids = sorted({int(p) for p in planet_ids})
    key = {p: hashlib.sha256(f"select:{int(seed)}:{p}".encode()).digest() for p in ids}
    return sorted(sorted(ids, key=key.__getitem__)[: max(0, n)])
