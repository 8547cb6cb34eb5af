"""Settings of the physics fit: one dataclass, every prior and bound stated with its reason.

No value here is taken from a simulator's draw ranges: limb darkening is bounded by the
physics of the quadratic law and centred on a grey atmosphere (:mod:`.limb_darkening`), the
drift degree is chosen by the data (:mod:`.drift`), and the geometry priors are the star
info's values with catalogue-size widths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from spectramind.errors import ConfigError


@dataclass(frozen=True)
class FitConfig:
    """Settings of the physics fit (all dimensionless unless stated).

    drift_degree: Legendre degree of the multiplicative drift in time; -1 (default) chooses it
        per light curve (FGS1, AIRS) by cross-validation in 0..``drift_degree_max``.
    drift_degree_max: the largest degree cross-validation may choose.
    use_regressors: add the visit's jitter regressors to the drift basis.
    regressor_order: 2 also adds the regressors' squares and pairwise products (a pointing
        offset moves flux out of the aperture in proportion to its square, whichever way it
        moves); 1 keeps them linear.
    a_prior_frac: 1-sigma of the a/R* prior as a fraction of the star-info sma (a catalogue
        a/R* from stellar density and period is good to a few per cent).
    inc_prior_deg: 1-sigma of the inclination prior [deg] (converted to impact parameter).
    n_starts: optimizer starts of the geometry fit (the star-info impact parameter, then the
        midpoints of equal slices of 0..1).
    ld_prior_sigma: (u1, u2) 1-sigma widths of the grey-atmosphere limb-darkening prior; a
        non-positive width drops that prior. Real atmospheres differ from the grey one by
        ~0.1-0.2 in each coefficient.
    ld_bins: AIRS wavelength bins for limb darkening; ld_degree: polynomial degree in lambda.
    gn_iterations: maximum Gauss-Newton iterations of the channel depths.
    min_detection_snr: box-search S/N below which the visit has "no transit".
    bad_quality_bits: channel quality bits that exclude a channel (default: any bit).
    drift_wavelength_degree: AIRS drift smooth in wavelength: per-channel drift coefficients
        are replaced by a polynomial of this degree in wavelength and the depths refitted with
        only a per-channel normalisation free; -1 keeps an independent drift per channel.
    """

    drift_degree: int = -1
    drift_degree_max: int = 5
    use_regressors: bool = True
    regressor_order: int = 2
    a_prior_frac: float = 0.05
    inc_prior_deg: float = 0.5
    n_starts: int = 3
    ld_prior_sigma: tuple[float, float] = (0.2, 0.2)
    ld_bins: int = 8
    ld_degree: int = 2
    gn_iterations: int = 8
    min_detection_snr: float = 7.0
    bad_quality_bits: int = 0xFFFF
    drift_wavelength_degree: int = 1

    def __post_init__(self) -> None:
        value = tuple(self.ld_prior_sigma)
        if len(value) != 2 or not all(math.isfinite(float(v)) for v in value):
            raise ConfigError(
                f"fit ld_prior_sigma: expected two finite widths (u1, u2), found {value}"
            )
        object.__setattr__(self, "ld_prior_sigma", (float(value[0]), float(value[1])))
        if self.drift_degree < -1:
            raise ConfigError(
                "fit drift_degree: expected -1 (cross-validated) or >= 0, "
                f"found {self.drift_degree}"
            )
        for name in ("drift_degree_max", "ld_bins", "n_starts", "gn_iterations", "regressor_order"):
            minimum = 0 if name == "drift_degree_max" else 1
            if getattr(self, name) < minimum:
                raise ConfigError(f"fit {name}: expected >= {minimum}, found {getattr(self, name)}")
        for name in ("a_prior_frac", "inc_prior_deg"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"fit {name}: expected > 0, found {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_config_from_mapping(values: Mapping[str, Any], base: FitConfig | None = None) -> FitConfig:
    """A :class:`FitConfig` with ``values`` replacing fields of ``base``; unknown keys refused."""
    known = {f.name for f in fields(FitConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"fit config: unknown keys {unknown}; known: {sorted(known)}")
    merged = (base or FitConfig()).to_dict()
    for key, value in values.items():
        default = merged[key]
        if isinstance(default, tuple):
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value
            ):
                raise ConfigError(f"fit config: {key} expects a list of numbers, found {value!r}")
            value = tuple(float(v) for v in value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"fit config: {key} expects true/false, found {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"fit config: {key} expects an integer, found {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"fit config: {key} expects a number, found {value!r}")
        else:
            value = float(value)
        merged[key] = value
    return FitConfig(**merged)
