"""Validate a whole ADC 2025 data folder (or one planet) as the pipeline will read it."""

from __future__ import annotations

import logging
from pathlib import Path

from spectramind.data import layout, reader
from spectramind.errors import DataFormatError

log = logging.getLogger(__name__)


def check_frame_counts(visit: reader.PlanetVisit, axis: reader.AxisInfo, data_dir: Path) -> None:
    """Each signal must have as many frames as its time axis in ``axis_info.parquet``."""
    for inst_visit, n_axis in (
        (visit.airs, axis.airs_time_h.size),
        (visit.fgs, axis.fgs_time_h.size),
    ):
        if inst_visit is None:
            continue
        path = layout.signal_path(
            data_dir, visit.split, visit.planet_id, inst_visit.instrument, visit.visit
        )
        if inst_visit.signal.shape[0] != n_axis:
            raise DataFormatError(
                f"{path}: expected {n_axis} frames (as in {layout.AXIS_INFO_PARQUET}), "
                f"found {inst_visit.signal.shape[0]}"
            )


def check_layout(
    data_dir: Path | str, split: str | None = None
) -> dict[str, dict[int, list[int]]]:
    """Check the folder layout and the tables, without reading any signal; raise on the first fault.

    What is checked: the folder exists; ``adc_info.csv``, ``axis_info.parquet`` and
    ``wavelengths.csv`` read and have their shapes; each split folder present (or ``split``)
    holds integer planet folders whose visits each have both signal files and calibration
    folders; its star-info table has a row for every planet; ``train.csv`` labels every train
    planet and ``sample_submission.csv`` lists exactly the test planets; no table lists a planet
    twice. Cheap (tables and directory listings only): the workflow runs it before any job.

    Returns:
        ``{split: {planet_id: [visit, ...]}}``.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataFormatError(f"{data_dir}: expected a data directory, found none")
    reader.read_adc_info(data_dir)
    reader.read_axis_info(data_dir)
    wavelengths = reader.read_wavelengths(data_dir)
    if wavelengths.size != layout.N_WAVELENGTHS:
        raise DataFormatError(
            f"{data_dir / layout.WAVELENGTHS_CSV}: expected "
            f"{layout.N_WAVELENGTHS} wavelengths, found {wavelengths.size}"
        )
    splits = [split] if split else [s for s in layout.SPLITS if (data_dir / s).is_dir()]
    if not splits:
        raise DataFormatError(f"{data_dir}: expected train/ or test/ folders, found neither")
    found: dict[str, dict[int, list[int]]] = {}
    for s in splits:
        planets = reader.discover_planets(data_dir, s)
        star = reader.read_star_info(data_dir, s)
        missing = sorted(set(planets) - set(star))
        if missing:
            raise DataFormatError(
                f"{data_dir / layout.STAR_INFO_CSV[s]}: expected a row for "
                f"every {s} planet, found none for {missing[:5]}"
            )
        if s == "train":
            ids, _ = reader.read_labels(data_dir)
            unlabeled = sorted(set(planets) - set(ids.tolist()))
            if unlabeled:
                raise DataFormatError(
                    f"{data_dir / layout.LABELS_CSV}: expected labels for "
                    f"every train planet, found none for {unlabeled[:5]}"
                )
        if s == "test":
            sample = set(reader.read_sample_submission_ids(data_dir))
            if sample != set(planets):
                raise DataFormatError(
                    f"{data_dir / layout.SAMPLE_SUBMISSION_CSV}: expected the {len(planets)} "
                    f"test planet ids, found {len(sample)} ids "
                    f"({len(sample ^ set(planets))} differ)"
                )
        found[s] = {pid: reader.discover_visits(data_dir, s, pid) for pid in planets}
    return found


def validate_dataset(
    data_dir: Path | str, split: str | None = None, planet_id: int | None = None
) -> dict[str, int]:
    """Read every table and planet visit of ``data_dir``; raise DataFormatError on the first fault.

    :func:`check_layout` first (the same checks, and messages, as the workflow's preflight),
    then every signal and calibration map of the selected planets.

    Args:
        split: only this split (default: every split folder present).
        planet_id: only this planet (searched in the selected splits).

    Returns:
        Counts: ``{"planets": n, "visits": n}``.
    """
    data_dir = Path(data_dir)
    found = check_layout(data_dir, split)
    axis = reader.read_axis_info(data_dir)
    selected = {
        s: {pid: visits for pid, visits in planets.items() if planet_id in (None, pid)}
        for s, planets in found.items()
    }
    if planet_id is not None and not any(selected.values()):
        raise DataFormatError(
            f"{data_dir}: unknown planet id {planet_id} in split(s) {list(found)}"
        )
    total = sum(len(p) for p in selected.values())
    n_planets = n_visits = 0
    for s, planets in selected.items():
        for pid, visits in planets.items():
            for v in visits:
                check_frame_counts(reader.load_visit(data_dir, s, pid, v), axis, data_dir)
                n_visits += 1
            n_planets += 1
            log.info("%s planet %d ok (%d/%d)", s, pid, n_planets, total)
    log.info("%s: %d planet(s), %d visit(s) valid", data_dir, n_planets, n_visits)
    return {"planets": n_planets, "visits": n_visits}
