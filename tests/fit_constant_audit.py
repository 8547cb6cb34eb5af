"""Audit: which physics-fit constants equal a bound of a simulator random draw (issue 13).

The fit must not be shaped on our own simulator, so no prior, bound, start point or threshold
of the fit may be one of the simulator's draw bounds. Both sides are read from the source:

- draw bounds: every number in the arguments of a random draw or clip in
  ``src/spectramind/simulate/`` (``rng.uniform(0.45, 0.75)``), and every number in a
  module-level tuple there (the ``*_RANGE`` tables the draws unpack);
- fit constants: in ``src/spectramind/physics/`` every module-level UPPER_CASE constant, every
  dataclass field default (:class:`~spectramind.physics.config.FitConfig`), every number in
  an assignment to a name that says it is a bound, start or prior (``lower``, ``upper``,
  ``*_max``, ``start``, ``init``, ``prior``, ``box``, ...) and in the bounds of a clip or an
  optimizer call, plus the ``fit`` and ``fit_select`` sections of ``config/config.yaml``.

0, +-1, 0.5 and 2 are left out (identities, halves, squares). What remains in common must be a
coincidence of value between different quantities; :data:`COINCIDENCES` names each with the
reason, and anything new fails ``tests/test_fit_constants.py``.

Run ``python tests/fit_constant_audit.py`` to print the comparison (the "grep" of issue 13).
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DRAW_CALLS = {"uniform", "normal", "integers", "lognormal", "clip", "choice", "triangular"}
BOUND_CALLS = {"clip", "clip_physical", "least_squares", "minimize", "maximum", "minimum"}
BOUND_KEYWORDS = {"bounds", "a_min", "a_max", "min", "max"}
BOUND_NAME = re.compile(
    r"(^|_)(lower|upper|lo|hi|bounds?|min|max|start|starts|init|prior|box)($|_)", re.IGNORECASE
)
TRIVIAL = {0.0, 1.0, -1.0, 0.5, 2.0}

_LD_PRIOR_WIDTH = (
    "the grey-atmosphere prior's width: real atmospheres depart from grey by ~0.1-0.2 per "
    "coefficient; the simulator's 0.2 bounds limb-darkening slopes in wavelength, another quantity"
)

# value -> {fit site (file and name, no line number): why it is not taken from the simulator}
COINCIDENCES: dict[float, dict[str, str]] = {
    0.001: {
        "fallback.py FALLBACK_SIGMA_FLOOR": "a depth sigma floor (1000 ppm); the simulator's "
        "0.001 is the smallest start-of-visit ramp amplitude (relative flux)",
        "white_light.py TRANSIT_DERIVATIVE_STEPS": "a finite-difference step in u1, u2",
    },
    0.0025: {
        "limb_darkening.py _MU_GRID": "the first disc position mu of the grid the quadratic law "
        "is fitted on; the simulator's 0.0025 is a drift-coefficient width",
    },
    0.005: {
        "drift.py RAMP_FRACTIONS": "the shortest ramp e-folding time tried, as a fraction of "
        "the visit (0.005 x 1.5^k); the simulator draws its ramp in hours",
        "geometry.py lower": "the smallest rp/R* the geometry fit allows (a 25 ppm transit); "
        "the simulator's 0.005 is a detector-map draw",
    },
    0.01: {
        "geometry.py clip()": "the smallest rp/R* start point; the simulator's 0.01 is the "
        "low end of its jitter-loss coefficient",
        "spectrum.py MIN_CHI2_SCALE": "a floor on a reduced-chi2 error scale",
    },
    0.1: {
        "spectrum.py maximum()": "an error floor at 0.1 x the median error of the bins",
    },
    0.2: {
        "config.py FitConfig.ld_prior_sigma": _LD_PRIOR_WIDTH,
        "config.yaml fit": _LD_PRIOR_WIDTH,
    },
    0.25: {
        "spectrum.py clip()": "the largest depth, (rp/R* = 0.5)^2; the simulator's 0.25 is a "
        "pointing-jitter RMS in pixels",
    },
    0.4: {
        "white_light.py box": "the in-transit half-width of the box model, 0.4 T14 (inside the "
        "flat bottom of any transit with rp/R* < 0.2); the simulator's 0.4 is a spectrum "
        "parameter",
    },
    0.45: {
        "geometry.py clip()": "the largest rp/R* start point (below the 0.5 bound); the "
        "simulator's 0.45 is the low end of its u1 draw, another quantity",
    },
    1.5: {
        "drift.py RAMP_FRACTIONS": "the ratio of the geometric grid of ramp times tried",
    },
    3.0: {
        "config.py FitConfig.n_starts": "a count of optimizer starts",
        "config.yaml fit_select": "a drift degree among the candidates",
        "selection.py DEFAULT_CANDIDATES": "a drift degree among the candidates",
        "white_light.py MIN_LOCATING_SNR": "3 sigma, the usual detection threshold",
    },
    5.0: {
        "config.py FitConfig.drift_degree_max": "the largest polynomial degree the "
        "cross-validation may choose",
        "config.yaml fit": "drift_degree_max, as in FitConfig",
        "fallback.py FALLBACK_SIGMA_SCALE": "a fallback depth's sigma is 5x its standard error",
    },
    7.0: {
        "config.py FitConfig.min_detection_snr": "7 sigma, the usual transit-search threshold "
        "(Kepler's 7.1)",
    },
    40.0: {
        "config.yaml fit_select": "the number of train planets fit_select fits per candidate",
    },
    200.0: {
        "limb_darkening.py _MU_GRID": "the number of disc positions of that grid",
    },
    65535.0: {
        "config.py FitConfig.bad_quality_bits": "all 16 quality bits of the calibrated file "
        "(0xFFFF), a mask; the simulator's 65535 is the uint16 full scale of the raw format",
    },
}


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return None if isinstance(node.value, bool) else float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _number(node.operand)
        return None if value is None else -value
    return None


def _numbers(node: ast.AST) -> list[float]:
    """Every number written in ``node`` (a negative literal counted once, with its sign)."""
    found, negated = [], set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.UnaryOp) and isinstance(sub.op, ast.USub):
            negated.add(id(sub.operand))
        value = _number(sub)
        if value is not None and id(sub) not in negated:
            found.append(value)
    return found


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def draw_bounds(simulate_dir: Path) -> dict[float, set[str]]:
    """value -> {"file:line"} of the simulator's draw arguments and module-level tuples."""
    bounds: dict[float, set[str]] = defaultdict(set)
    for path in sorted(simulate_dir.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) in DRAW_CALLS:
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    for value in _numbers(arg):
                        bounds[value].add(f"{path.name}:{node.lineno}")
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Tuple):
                for value in _numbers(node.value):
                    bounds[value].add(f"{path.name}:{node.lineno}")
    return bounds


def fit_constants(physics_dir: Path, config_yaml: Path | None) -> dict[float, set[str]]:
    """value -> {"file name"} of the fit's named constants, defaults, bounds and starts."""
    found: dict[float, set[str]] = defaultdict(set)
    for path in sorted(physics_dir.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(node, ast.AnnAssign):
                target = node.target
            if isinstance(target, ast.Name) and target.id.isupper() and node.value is not None:
                for value in _numbers(node.value):
                    found[value].add(f"{path.name} {target.id}")
            if isinstance(node, ast.ClassDef):
                for field in node.body:
                    if isinstance(field, ast.AnnAssign) and field.value is not None:
                        for value in _numbers(field.value):
                            found[value].add(f"{path.name} {node.name}.{field.target.id}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
                names = [t.id for t in node.targets]
                if not names[0].isupper() and any(BOUND_NAME.search(n) for n in names):
                    for value in _numbers(node.value):
                        found[value].add(f"{path.name} {names[0]}")
            if isinstance(node, ast.Call) and _call_name(node) in BOUND_CALLS:
                args = [
                    *node.args[1:],
                    *(k.value for k in node.keywords if k.arg in BOUND_KEYWORDS),
                ]
                for arg in args:
                    for value in _numbers(arg):
                        found[value].add(f"{path.name} {_call_name(node)}()")
    if config_yaml is not None:
        config = yaml.safe_load(config_yaml.read_text(encoding="utf-8"))
        for section in ("fit", "fit_select"):
            for value in _yaml_numbers(config.get(section, {})):
                found[value].add(f"config.yaml {section}")
    return found


def _yaml_numbers(value: object) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _yaml_numbers(item)]
    if isinstance(value, list):
        return [v for item in value for v in _yaml_numbers(item)]
    return []


def shared_values(
    src: Path = REPO / "src" / "spectramind",
    config_yaml: Path | None = REPO / "config" / "config.yaml",
) -> dict[float, tuple[set[str], set[str]]]:
    """value -> (simulator draw sites, fit sites) for every non-trivial value on both sides."""
    bounds = draw_bounds(src / "simulate")
    constants = fit_constants(src / "physics", config_yaml)
    common = sorted(set(bounds) & set(constants) - TRIVIAL)
    return {v: (bounds[v], constants[v]) for v in common}


def unexplained(shared: dict[float, tuple[set[str], set[str]]]) -> dict[float, set[str]]:
    """The fit sites of ``shared`` that :data:`COINCIDENCES` does not explain."""
    out = {}
    for value, (_, sites) in shared.items():
        left = sites - set(COINCIDENCES.get(value, {}))
        if left:
            out[value] = left
    return out


def main() -> int:
    shared = shared_values()
    print(f"fit constants equal to a simulator draw bound (0, +-1, 0.5, 2 left out): {len(shared)}")
    for value, (draws, sites) in shared.items():
        print(f"  {value:g}: simulator {', '.join(sorted(draws))}")
        for site in sorted(sites):
            reason = COINCIDENCES.get(value, {}).get(site, "UNEXPLAINED")
            print(f"      fit {site}: {reason}")
    return 1 if unexplained(shared) else 0


if __name__ == "__main__":
    sys.exit(main())
