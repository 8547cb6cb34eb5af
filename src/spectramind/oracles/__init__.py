"""Oracles, reference implementations and test-data generators: for tests and benchmarks only.

Nothing here runs in the pipeline, and the import contracts (``[tool.importlinter]`` in
pyproject.toml, ``lint-imports``) keep it that way: no stage, command or library module may
import this package, so no pipeline result can depend on simulated truth or on code written
to check it.

- :mod:`.ceiling`: the noise-limited ceiling, computed from the simulator's truth
  (:mod:`spectramind.simulate.truth`).
- :mod:`.calibrate_reference`: a plain re-implementation of the official starter notebook's
  calibration, the reference the fast ``starter`` preset is tested against.
- :mod:`.synthetic_light_curves`: calibrated-like visits with a known truth (physics fit tests).
- :mod:`.synthetic_fits`: physics-fit files with a known bias (model tests, training benchmark).
"""
