"""The ADC 2025 on-disk layout: names, shapes, dtypes and closed forms.

This module is the single source of truth for what ``docs/FORMAT.md`` (the "FORMAT.md" that
docstrings cite) says about the Kaggle ``ariel-data-challenge-2025`` folder. The reader (:mod:`spectramind.data.reader`),
the simulator and the calibration chain import their constants from here; nothing else in the
package spells a file name or a detector shape.

Frame counts are *not* constants: the real data has 11250 AIRS / 135000 FGS frames per visit,
but the simulator can write a fraction of them at the real cadence. Readers therefore accept
any even frame count and check only the per-frame pixel layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "test")


@dataclass(frozen=True)
class InstrumentLayout:
    """Fixed geometry of one instrument's detector as stored in the parquet files."""

    name: str  # file-name prefix, e.g. "AIRS-CH0"
    rows: int  # spatial rows per frame
    cols: int  # columns per frame (spectral for AIRS)
    full_frames: int  # frames per visit in the real data (start and end reads)
    cds_cadence_s: float  # seconds between consecutive CDS frames
    start_read_offset_s: float  # time of the first start read within a cadence [s]
    end_read_offset_s: float  # time of the first end read within a cadence [s]
    # dt used by dark subtraction per read: start reads, end reads [s] (docs/FORMAT.md section 6)
    dark_dt_start_s: float
    dark_dt_end_s: float

    @property
    def pixels_per_frame(self) -> int:
        return self.rows * self.cols

    @property
    def full_cds_frames(self) -> int:
        return self.full_frames // 2


AIRS = InstrumentLayout(
    name="AIRS-CH0",
    rows=32,
    cols=356,
    full_frames=11250,
    cds_cadence_s=4.8,
    start_read_offset_s=0.1,
    end_read_offset_s=0.2,
    dark_dt_start_s=0.1,
    dark_dt_end_s=4.6,  # integration time 4.5 s plus 0.1 s (starter notebook convention)
)
FGS = InstrumentLayout(
    name="FGS1",
    rows=32,
    cols=32,
    full_frames=135000,
    cds_cadence_s=0.4,
    start_read_offset_s=0.1,
    end_read_offset_s=0.2,
    dark_dt_start_s=0.1,
    dark_dt_end_s=0.2,
)
INSTRUMENTS: dict[str, InstrumentLayout] = {AIRS.name: AIRS, FGS.name: FGS}

# AIRS integration times stored in axis_info, alternating start/end read [s].
AIRS_INTEGRATION_TIME_S = (0.1, 4.5)

# --- calibration maps -------------------------------------------------------------------
CALIBRATION_MAPS = ("dark", "dead", "flat", "linear_corr", "read")
LINEAR_CORR_DEGREE = 5  # linear = sum_k c_k x^k, k = 0..5
LINEAR_CORR_TERMS = LINEAR_CORR_DEGREE + 1
CALIBRATION_DTYPES = {
    "dark": np.dtype(np.float64),
    "dead": np.dtype(np.bool_),
    "flat": np.dtype(np.float64),
    "linear_corr": np.dtype(np.float64),
    "read": np.dtype(np.float64),
}


def calibration_shape(instrument: InstrumentLayout, name: str) -> tuple[int, int]:
    """Parquet (rows, cols) of calibration map ``name`` for ``instrument``."""
    if name == "linear_corr":
        return (LINEAR_CORR_TERMS * instrument.rows, instrument.cols)
    return (instrument.rows, instrument.cols)


# --- file names -------------------------------------------------------------------------
SIGNAL_RE = re.compile(r"^(AIRS-CH0|FGS1)_signal_(\d+)\.parquet$")


def signal_name(instrument: InstrumentLayout, visit: int) -> str:
    return f"{instrument.name}_signal_{visit}.parquet"


def calibration_dir_name(instrument: InstrumentLayout, visit: int) -> str:
    return f"{instrument.name}_calibration_{visit}"


def planet_dir(data_dir: Path, split: str, planet_id: int) -> Path:
    return Path(data_dir) / split / str(planet_id)


def signal_path(data_dir: Path, split: str, planet_id: int, instrument: InstrumentLayout,
                visit: int) -> Path:
    return planet_dir(data_dir, split, planet_id) / signal_name(instrument, visit)


def calibration_path(data_dir: Path, split: str, planet_id: int, instrument: InstrumentLayout,
                     visit: int, name: str) -> Path:
    return (planet_dir(data_dir, split, planet_id) / calibration_dir_name(instrument, visit)
            / f"{name}.parquet")


def planet_of_path(path: Path | str) -> tuple[str, int] | None:
    """(split, planet id) of a file inside a planet folder (``<split>/<planet_id>/...``, a
    calibration folder below it, or ``<split>/<planet_id>.<ext>``), else None."""
    parts = Path(path).parts
    candidates = [(parts[i - 1], parts[i]) for i in range(len(parts) - 2, 0, -1)][:2]
    if len(parts) >= 2:
        candidates.insert(0, (parts[-2], Path(parts[-1]).stem))
    for split, name in candidates:
        if split in SPLITS and name.isdigit():
            return split, int(name)
    return None


def describe_path(path: Path | str) -> str:
    """``path``, followed by ``(planet N)`` when it lies in a planet folder (for messages)."""
    found = planet_of_path(path)
    return f"{path} (planet {found[1]})" if found else str(path)


LABELS_CSV = "train.csv"
STAR_INFO_CSV = {"train": "train_star_info.csv", "test": "test_star_info.csv"}
WAVELENGTHS_CSV = "wavelengths.csv"
AXIS_INFO_PARQUET = "axis_info.parquet"
ADC_INFO_CSV = "adc_info.csv"
SAMPLE_SUBMISSION_CSV = "sample_submission.csv"

# --- tables -----------------------------------------------------------------------------
N_WAVELENGTHS = 283  # wl_1 (FGS1 photometer) + 282 AIRS columns
WL_COLUMNS = tuple(f"wl_{j}" for j in range(1, N_WAVELENGTHS + 1))
SIGMA_COLUMNS = tuple(f"sigma_{j}" for j in range(1, N_WAVELENGTHS + 1))
SUBMISSION_COLUMNS = ("planet_id", *WL_COLUMNS, *SIGMA_COLUMNS)
STAR_INFO_COLUMNS = ("planet_id", "Rs", "Ms", "Ts", "Mp", "e", "P", "sma", "i")
ADC_INFO_COLUMNS = (
    "FGS1_adc_offset",
    "FGS1_adc_gain",
    "AIRS-CH0_adc_offset",
    "AIRS-CH0_adc_gain",
)
ADC_DEFAULT = {"offset": -1000.0, "gain": 0.4369}
AXIS_INFO_COLUMNS = (
    "AIRS-CH0-axis0-h",
    "AIRS-CH0-axis2-um",
    "AIRS-CH0-integration_time",
    "FGS1-axis0-h",
)
FGS_WAVELENGTH_UM = 0.7

# --- wavelength solution ----------------------------------------------------------------
WAVELENGTH_COEFFS_UM = (1.95176069, 8.85825624e-3, -6.91347214e-6)
AIRS_CROP = slice(39, 321)  # the usual crop: 282 columns, column 39 + j is wl_(283 - j)
N_AIRS_CROPPED = AIRS_CROP.stop - AIRS_CROP.start


def wavelength_solution_um(k: np.ndarray | float) -> np.ndarray:
    """lambda(k) = 1.95176069 + 8.85825624e-3 k - 6.91347214e-6 k^2 [micron]."""
    k = np.asarray(k, dtype=np.float64)
    c0, c1, c2 = WAVELENGTH_COEFFS_UM
    return c0 + c1 * k + c2 * k * k


def airs_column_wavelengths_um() -> np.ndarray:
    """Wavelength of each of the 356 AIRS detector columns [micron], shape (356,), descending.

    Detector column c has wavelength lambda(320 - c).
    """
    return wavelength_solution_um(320 - np.arange(AIRS.cols))


def target_wavelengths_um() -> np.ndarray:
    """wl_1..wl_283 [micron], shape (283,): 0.7 for FGS1, then the cropped AIRS columns ascending."""
    airs = airs_column_wavelengths_um()[AIRS_CROP][::-1]
    return np.concatenate([[FGS_WAVELENGTH_UM], airs])


# --- metric constants (docs/FORMAT.md section 5) ---------------------------------------------
FGS_WEIGHT = 57.846
SIGMA_TRUE_FGS = 1e-6
SIGMA_TRUE_AIRS = 1e-5
