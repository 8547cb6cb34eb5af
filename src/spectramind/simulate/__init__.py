"""Synthetic ADC 2025 data in the exact Kaggle layout, with its truth kept outside the dataset.

Command line: ``spectramind simulate --out D --train N --test M --seed S [--frames-scale F |
--full-size] [--second-visit-fraction X] [--workers W]``.

Modules:
- :mod:`.physics`: stellar spectrum, transit spectrum, limb darkening, batman transits, drift.
- :mod:`.planet`: per-planet truth (drawn parameters) and the noise-free light curves.
- :mod:`.detector`: calibration maps, non-linearity and its ``linear_corr`` inverse, ADC, frames.
- :mod:`.dataset`: writes the dataset (parallel over planets, time-blocked parquet row groups).
- :mod:`.truth`: the public truth API below.

Truth API (stable, for tests and evaluation; the pipeline must never read it):

- ``expected_light_curves(data_dir, split, planet_id, visit=0) -> ExpectedLightCurves``:
  noise-free flux per CDS frame. ``airs_flux`` (n_airs_cds, 356) e- per 4.5 s CDS per detector
  column summed over rows, ``fgs_flux`` (n_fgs_cds,) e- per 0.1 s CDS over the frame;
  ``airs_flux_targets`` (n_airs_cds, 282) is the crop 39:321 flipped to wl_2..wl_283. INCLUDED:
  stellar flux, limb-darkened transit, multiplicative gain drift and jitter photometric loss (an
  astrophysical + systematic truth that calibration must not remove). EXCLUDED (calibration
  removes them): flat field, dark, bias, sky background, non-linearity, ADC, noise, cosmic rays,
  dead pixels. Times ``airs_time_h`` / ``fgs_time_h`` are the mean of each CDS pair's two
  axis_info read times [h]; the truth also gives ``*_transit``, ``*_systematics`` and
  ``*_jitter_px`` separately.
- ``true_spectrum(data_dir, split, planet_id) -> (283,)`` (Rp/Rs)^2, wl_1..wl_283.
- ``planet_truth(data_dir, split, planet_id) -> PlanetTruth`` (star, orbit, t0 per visit, ...).
- ``read_truth_csv(data_dir) -> (ids, depths)`` of ``<data_dir>.truth.csv`` (test planets).

Frame scaling: with ``s = round(5625 F) / 5625`` a visit has ``2 round(5625 F)`` AIRS and 12x
as many FGS frames at the real cadence (axis_info matches). The transit is the full-size one
compressed in time: mid-transit at ``s x (2.5..5) h`` with at least ``s x 0.75 h`` of baseline
on each side, and the star-info period ``P`` is ``s x`` the Kepler period of (Ms, Rs, sma), so
T14 scales by ``s``. batman with ``per=P, a=sma, inc=i, ecc=e`` from star info and the truth's
t0 and limb darkening reproduces the simulated transit exactly; Kepler's third law holds only at
full size.

Determinism: planet (split, index) draws from ``SeedSequence(seed, spawn_key=(split_no, index,
purpose))`` only; the same arguments give byte-identical files whatever ``--workers``.
"""

from spectramind.simulate.dataset import (
    SimulationConfig,
    simulate_dataset,
    truth_csv_path,
    truth_dir_path,
)
from spectramind.simulate.planet import ExpectedLightCurves, PlanetTruth, planet_id
from spectramind.simulate.truth import (
    expected_light_curves,
    planet_truth,
    read_truth_csv,
    true_spectrum,
)

__all__ = [
    "ExpectedLightCurves",
    "PlanetTruth",
    "SimulationConfig",
    "expected_light_curves",
    "planet_id",
    "planet_truth",
    "read_truth_csv",
    "simulate_dataset",
    "true_spectrum",
    "truth_csv_path",
    "truth_dir_path",
]
