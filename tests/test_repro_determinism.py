"""Determinism guardrails: same seed, same bits; settings reported for the manifest."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from spectramind.repro.guardrails import set_deterministic

TRAIN_STEP = """
import sys, torch
from spectramind.repro.guardrails import set_deterministic
set_deterministic(int(sys.argv[1]), threads=1)
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 283))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(256, 64)
for _ in range(3):
    loss = model(torch.nn.functional.dropout(x, 0.1)).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
weights = torch.cat([p.detach().flatten() for p in model.parameters()])
sys.stdout.write(weights.numpy().tobytes().hex())
"""


@pytest.fixture
def restore_torch() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)


def _sample(seed: int) -> tuple[np.ndarray, torch.Tensor]:
    set_deterministic(seed, threads=1)
    return np.random.rand(5), torch.randn(1000) @ torch.randn(1000, 50)  # noqa: NPY002


def test_same_seed_same_numbers_other_seed_other_numbers(restore_torch: None) -> None:
    first, again, other = _sample(7), _sample(7), _sample(8)
    assert np.array_equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1])


def test_settings_are_applied_and_reported(restore_torch: None) -> None:
    settings = set_deterministic(3, threads=2)
    assert settings["seed"] == 3 and settings["threads"] == 2 == torch.get_num_threads()
    assert settings["torch_deterministic"] is True and torch.are_deterministic_algorithms_enabled()
    assert settings["cudnn_benchmark"] is False and settings["tf32"] is False
    assert settings["CUBLAS_WORKSPACE_CONFIG"] in {":4096:8", ":16:8"}
    assert settings["OMP_NUM_THREADS"] == "2"


def test_training_steps_are_bit_identical_across_processes() -> None:
    def weights(seed: int) -> str:
        return subprocess.run(
            [sys.executable, "-c", TRAIN_STEP, str(seed)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

    first = weights(1)
    assert first and first == weights(1)
    assert first != weights(2)
