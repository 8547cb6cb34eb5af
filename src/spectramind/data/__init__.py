"""The ADC 2025 data layer: the one place that knows the Kaggle folder layout.

- :mod:`spectramind.data.layout`: names, shapes, dtypes, the wavelength solution.
- :mod:`spectramind.data.reader`: discovery, validated reading of visits and tables.
"""

from spectramind.data.layout import AIRS, FGS, INSTRUMENTS
from spectramind.data.reader import (
    AdcInfo,
    AxisInfo,
    CalibrationMaps,
    InstrumentVisit,
    PlanetVisit,
    discover_planets,
    discover_visits,
    load_visit,
    read_adc_info,
    read_axis_info,
    read_calibration,
    read_labels,
    read_sample_submission_ids,
    read_signal,
    read_star_info,
    read_wavelengths,
)

__all__ = [
    "AIRS",
    "FGS",
    "INSTRUMENTS",
    "AdcInfo",
    "AxisInfo",
    "CalibrationMaps",
    "InstrumentVisit",
    "PlanetVisit",
    "discover_planets",
    "discover_visits",
    "load_visit",
    "read_adc_info",
    "read_axis_info",
    "read_calibration",
    "read_labels",
    "read_sample_submission_ids",
    "read_signal",
    "read_star_info",
    "read_wavelengths",
]
