"""What the workflow has to do for a dataset: the planets, visits and artifact paths.

The Snakemake input functions (``workflow/rules/common.smk``) only delegate to these functions,
so the path scheme is defined, and tested, in one place:

- ``artifacts/calib/{split}/{planet_id}/visit_{visit}.npz``: one calibrated planet visit
- ``artifacts/fit/{split}/{planet_id}.npz``: one planet's physics fit (visits combined)
"""

from __future__ import annotations

from pathlib import Path

from spectramind.data import layout, reader

ARTIFACTS = Path("artifacts")


def planet_visits(data_dir: Path | str, split: str) -> dict[int, list[int]]:
    """``{planet_id: [visit, ...]}`` for every planet of ``split``, from the files present."""
    return {
        planet_id: reader.discover_visits(data_dir, split, planet_id)
        for planet_id in reader.discover_planets(data_dir, split)
    }


def calibrated_path(split: str, planet_id: int | str, visit: int | str) -> str:
    return str(ARTIFACTS / "calib" / split / str(planet_id) / f"visit_{visit}.npz")


def fit_path(split: str, planet_id: int | str) -> str:
    return str(ARTIFACTS / "fit" / split / f"{planet_id}.npz")


def calibrated_paths_of_planet(data_dir: Path | str, split: str, planet_id: int | str) -> list[str]:
    visits = reader.discover_visits(data_dir, split, int(planet_id))
    return [calibrated_path(split, planet_id, visit) for visit in visits]


def fit_paths_of_split(data_dir: Path | str, split: str) -> list[str]:
    return [fit_path(split, planet_id) for planet_id in reader.discover_planets(data_dir, split)]


def raw_inputs_of_visit(
    data_dir: Path | str, split: str, planet_id: int | str, visit: int | str
) -> list[str]:
    """The raw files one calibration job reads: both signals and all calibration maps."""
    data_dir = Path(data_dir)
    paths = []
    for instrument in (layout.AIRS, layout.FGS):
        paths.append(layout.signal_path(data_dir, split, int(planet_id), instrument, int(visit)))
        paths.extend(
            layout.calibration_path(data_dir, split, int(planet_id), instrument, int(visit), name)
            for name in layout.CALIBRATION_MAPS
        )
    paths.append(data_dir / layout.ADC_INFO_CSV)
    paths.append(data_dir / layout.AXIS_INFO_PARQUET)
    return [str(p) for p in paths]
