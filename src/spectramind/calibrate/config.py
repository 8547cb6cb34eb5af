"""Calibration configuration: which steps run, with which parameters, and presets.

A configuration is a mapping such as::

    {"preset": "default", "dtype": "float32",
     "steps": {"linearity": {"skip": true}, "bin": {"airs_cds_per_bin": 5}}}

(from YAML or a dict). Unknown steps or parameters raise :class:`ConfigError`; lists become
tuples so that the parameter dataclasses stay hashable and comparable.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectramind.calibrate import steps as step_modules
from spectramind.errors import ConfigError


def step_names() -> tuple[str, ...]:
    """Names of the registered steps, in order (:data:`spectramind.calibrate.steps.REGISTRY`)."""
    return tuple(m.NAME for m in step_modules.REGISTRY)


PRESETS: dict[str, dict[str, Any]] = {
    # Our chain: float32, 24 s bins (5 AIRS / 60 FGS CDS frames), linearity on, cosmic rays
    # rejected, masked pixels interpolated, background from the rows outside the trace.
    "default": {"dtype": "float32", "steps": {}},
    # The official starter notebook (FORMAT.md section 6): ADC decode, crop, 5-sigma hot +
    # dead masking (masked pixels contribute zero), linearity OFF as in the notebook, dark with
    # dt 0.1/4.6 (AIRS) and 0.1/0.2 (FGS), CDS, sum-binning 30 / 360 (187 bins), flat field,
    # AIRS rows 10:22 summed, FGS whole frame summed. No cosmic rays, saturation rejection,
    # background or jitter. float64 so that it matches the reference to rounding.
    "starter": {
        "dtype": "float64",
        "steps": {
            # The notebook neither flags nor rejects saturated reads: 65536 never triggers.
            "adc": {"saturation_raw": 65536},
            "linearity": {"skip": True},
            "mask": {"fill": "zero"},
            "cosmic": {"skip": True},
            "background": {"skip": True},
            "jitter": {"skip": True},
            "bin": {"airs_cds_per_bin": 30, "fgs_cds_per_bin": 360, "statistic": "sum"},
            # Fixed geometry: nothing is located from the data.
            "locate": {"skip": True},
            "extract": {"airs_rows": [10, 22], "fgs_rows": [0, 32], "fgs_cols": [0, 32]},
        },
    },
}


@dataclass(frozen=True)
class StepSetting:
    name: str
    skip: bool
    params: Any  # the step module's Params instance


@dataclass(frozen=True)
class CalibrationConfig:
    preset: str = "default"
    dtype: str = "float32"  # float type of the per-frame chain: "float32" or "float64"
    chunk_values: int = 8_000_000  # raw read values per block of pixels (bounds memory)
    steps: dict[str, StepSetting] = field(default_factory=dict)

    def step(self, name: str) -> StepSetting:
        return self.steps[name]

    def runs(self, name: str) -> bool:
        return not self.steps[name].skip

    def params(self, name: str) -> Any:
        return self.steps[name].params


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert YAML values (lists, ints) to the dataclass field type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # "X | None": None means "derive it"
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _coerce(value, inner, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, found {value!r}")
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], where) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, found {value!r}")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args, strict=True))
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, found {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, found {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, found {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, found {value!r}")
        return value
    return value


def _params(module: Any, values: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(module.Params)
    names = {f.name for f in dataclasses.fields(module.Params)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"calibrate config: step {module.NAME!r} has no parameter {unknown[0]!r} "
            f"(expected one of {sorted(names) or 'none'})"
        )
    kwargs = {k: _coerce(v, hints[k], f"steps.{module.NAME}.{k}") for k, v in values.items()}
    return module.Params(**kwargs)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(
    overrides: Mapping[str, Any] | None = None, preset: str | None = None
) -> CalibrationConfig:
    """Configuration from a preset plus overrides (a dict as read from YAML).

    ``preset`` (argument) wins over ``overrides["preset"]``; default ``"default"``.
    """
    overrides = dict(overrides or {})
    name = preset or overrides.pop("preset", None) or "default"
    overrides.pop("preset", None)
    if name not in PRESETS:
        raise ConfigError(
            f"calibrate config: unknown preset {name!r}, expected one of {sorted(PRESETS)}"
        )
    unknown = sorted(set(overrides) - {"dtype", "chunk_values", "steps"})
    if unknown:
        raise ConfigError(
            f"calibrate config: unknown key {unknown[0]!r}, expected dtype, chunk_values, steps"
        )
    merged = _merge(PRESETS[name], overrides)
    step_values = merged.get("steps") or {}
    if not isinstance(step_values, Mapping):
        raise ConfigError(f"calibrate config: 'steps' must be a mapping, found {step_values!r}")
    bad_steps = sorted(set(step_values) - set(step_names()))
    if bad_steps:
        raise ConfigError(
            f"calibrate config: unknown step {bad_steps[0]!r}, expected one of {list(step_names())}"
        )
    steps = {}
    for module in step_modules.REGISTRY:
        values = dict(step_values.get(module.NAME) or {})
        skip = values.pop("skip", False)
        if not isinstance(skip, bool):
            raise ConfigError(f"steps.{module.NAME}.skip: expected true or false, found {skip!r}")
        if skip and getattr(module, "REQUIRED", False):
            raise ConfigError(f"calibrate config: step {module.NAME!r} cannot be skipped")
        steps[module.NAME] = StepSetting(module.NAME, skip, _params(module, values))
    dtype = merged.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"calibrate config: dtype must be float32 or float64, found {dtype!r}")
    chunk = merged.get("chunk_values", CalibrationConfig.chunk_values)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ConfigError(
            f"calibrate config: chunk_values must be a positive integer, found {chunk!r}"
        )
    _check(steps)
    return CalibrationConfig(preset=name, dtype=dtype, chunk_values=chunk, steps=steps)


def _check(steps: dict[str, StepSetting]) -> None:
    b = steps["bin"].params
    if b.airs_cds_per_bin < 1 or b.fgs_cds_per_bin < 1:
        raise ConfigError("steps.bin: expected positive frames per bin")
    # A common time grid: both instruments' bins must last the same time (AIRS 4.8 s, FGS 0.4 s).
    if b.airs_cds_per_bin * 12 != b.fgs_cds_per_bin:
        raise ConfigError(
            f"steps.bin: expected fgs_cds_per_bin = 12 x airs_cds_per_bin for a common time grid "
            f"(4.8 s vs 0.4 s), found {b.airs_cds_per_bin} and {b.fgs_cds_per_bin}"
        )
    if b.statistic not in ("mean", "sum"):
        raise ConfigError(f"steps.bin.statistic: expected mean or sum, found {b.statistic!r}")
    if steps["mask"].params.fill not in ("interpolate", "zero"):
        raise ConfigError(
            f"steps.mask.fill: expected interpolate or zero, found {steps['mask'].params.fill!r}"
        )
    if steps["flat"].params.on_invalid not in ("mask", "error"):
        raise ConfigError(
            "steps.flat.on_invalid: expected mask or error, "
            f"found {steps['flat'].params.on_invalid!r}"
        )
    if steps["background"].params.time not in ("constant", "per_bin"):
        raise ConfigError(
            f"steps.background.time: expected constant or per_bin, "
            f"found {steps['background'].params.time!r}"
        )
    if steps["extract"].params.weights not in ("uniform", "optimal"):
        raise ConfigError(
            f"steps.extract.weights: expected uniform or optimal, found "
            f"{steps['extract'].params.weights!r}"
        )
    crop_p, ext = steps["crop"].params, steps["extract"].params
    bg = steps["background"].params
    fixed = [
        ("airs", "extract.airs_rows", ext.airs_rows, crop_p.airs_rows),
        ("fgs", "extract.fgs_rows", ext.fgs_rows, crop_p.fgs_rows),
        ("fgs", "extract.fgs_cols", ext.fgs_cols, crop_p.fgs_cols),
    ] + [("airs", "background.airs_rows", rows, crop_p.airs_rows) for rows in (bg.airs_rows or ())]
    for inst, key, value, (cr0, cr1) in fixed:
        if value is not None and not (cr0 <= value[0] < value[1] <= cr1):
            raise ConfigError(
                f"steps.{key}: {inst} rows/cols {value[0]}:{value[1]} must lie inside the "
                f"crop {cr0}:{cr1}"
            )
    if steps["locate"].skip:
        missing = [key for _, key, value, _ in fixed[:3] if value is None]
        if not steps["background"].skip and bg.airs_rows is None:
            missing.append("background.airs_rows")
        if missing:
            raise ConfigError(
                f"steps.locate is skipped, so steps.{missing[0]} must be given "
                "(nothing derives it from the data)"
            )
    lp = steps["locate"].params
    if lp.probe_cds < 3:
        raise ConfigError(f"steps.locate.probe_cds: expected >= 3, found {lp.probe_cds}")
    for name in ("airs_flux_fraction", "fgs_flux_fraction"):
        if not 0.5 <= getattr(lp, name) < 1.0:
            raise ConfigError(
                f"steps.locate.{name}: expected a fraction in [0.5, 1), found {getattr(lp, name)}"
            )


def load_config_file(path: Path | str) -> dict[str, Any]:
    """Read a YAML calibration config file into a dict (validated by :func:`build_config`)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: calibration config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: expected a mapping at the top level, found {type(data).__name__}"
        )
    # Accept the config nested under a "calibrate" key too (a section of a larger config).
    return dict(data.get("calibrate", data))


def params_record(setting: StepSetting) -> dict[str, Any]:
    """JSON-ready parameters of one step."""
    return {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in dataclasses.asdict(setting.params).items()
    }
