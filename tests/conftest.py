"""Shared fixtures: a tiny simulated dataset, made once per test session.

``tiny_dataset`` is the data folder (Path) of 3 train + 2 test planets at 1% of the real frame
count (112 AIRS / 1344 FGS frames per visit), seed 11, half of the planets with a second visit.
Its truth lies beside it (``spectramind.simulate.truth_csv_path`` / ``truth_dir_path``). Treat it
as read-only: copy what a test must corrupt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = {"n_train": 3, "n_test": 2, "seed": 11, "frames_scale": 0.01, "second_visit_fraction": 0.5}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spectramind.simulate import SimulationConfig, simulate_dataset

    out = tmp_path_factory.mktemp("tiny") / "data"
    return simulate_dataset(out, SimulationConfig(**TINY))
