"""Physical constants and the simulator's fixed instrument numbers, with units.

Numbers quoted from FORMAT.md section 8 (real count levels, noise, systematics) live here so that
the physics and detector modules never spell a magic number.
"""

from __future__ import annotations

# --- physics ------------------------------------------------------------------------------
HC_OVER_K_UM_K = 14387.7688  # second radiation constant h c / k [micron K]
G_SI = 6.6743e-11  # gravitational constant [m^3 kg^-1 s^-2]
M_SUN_KG = 1.98847e30  # solar mass [kg]
R_SUN_M = 6.957e8  # nominal solar radius [m]
SECONDS_PER_DAY = 86400.0
SECONDS_PER_HOUR = 3600.0

# --- observation (real data, before frame scaling) ------------------------------------------
FULL_OBSERVATION_H = 7.5  # length of one visit [h]
MID_TRANSIT_RANGE_H = (2.5, 5.0)  # mid-transit time into the full-size window [h]
BASELINE_MARGIN_H = 0.75  # minimum out-of-transit baseline on each side, full size [h]
DURATION_RANGE_H = (2.0, 5.0)  # accepted T14 at full size [h]; <= 6 keeps the baselines
FGS_CDS_PER_AIRS_CDS = 12  # 4.8 s AIRS cadence / 0.4 s FGS cadence

# --- count levels -------------------------------------------------------------------------
AIRS_CDS_ELECTRONS = 1.6e7  # e- per 4.5 s CDS frame summed over the cropped AIRS frame
FGS_CDS_ELECTRONS = 2.2e5  # e- per 0.1 s CDS frame summed over the FGS frame

# --- detector -----------------------------------------------------------------------------
READ_NOISE_E = 10.0  # mean read noise per read [e-]
BIAS_LEVEL_E = 2000.0  # mean pedestal of a reset pixel [e-]
HOT_PIXEL_FRACTION = 0.017
DEAD_PIXEL_FRACTION = 0.011
NEGATIVE_DARK_FRACTION = 0.002  # strongly negative darks (seen in the real test set)
FLAT_RANGE = (0.57, 1.2)  # flat-field extremes seen in the real data
NONLINEARITY_ALPHA_RANGE = (1.5e-7, 2.5e-7)  # quadratic loss m = q - alpha q^2 [1/e-]
AIRS_COSMIC_RATE = 0.3  # expected cosmic-ray hits per AIRS CDS frame (whole detector)
FGS_COSMIC_RATE = 0.003  # expected hits per FGS CDS frame
SATURATED_E = 1.0e6  # charge deposited by a cosmic-ray hit: far beyond the ADC range [e-]
