"""Shared fixtures: a tiny simulated dataset, made once per test session.

``tiny_dataset`` is the data folder (Path) of 3 train + 2 test planets at 1% of the real frame
count (112 AIRS / 1344 FGS frames per visit), seed 11, half of the planets with a second visit.
Its truth lies beside it (``spectramind.simulate.truth_csv_path`` / ``truth_dir_path``). Treat it
as read-only: copy what a test must corrupt.

``slurm_cluster`` (session scope, root only) is a running single-node SLURM cluster from
``scripts/slurm-cluster.sh``, stopped at the end of the session with nothing left running.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

import pytest

from spectramind.repro.cpu import pin_environment

# The CPU kernel pin every `spectramind` command applies, here before numpy or torch load, so
# that in-process tests compute like the commands do (docs/reproducibility.md).
pin_environment()

REPO = Path(__file__).resolve().parents[1]

TINY = {"n_train": 3, "n_test": 2, "seed": 11, "frames_scale": 0.01, "second_visit_fraction": 0.5}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spectramind.simulate import SimulationConfig, simulate_dataset

    out = tmp_path_factory.mktemp("tiny") / "data"
    return simulate_dataset(out, SimulationConfig(**TINY))


# --- the single-node SLURM cluster (scripts/slurm-cluster.sh), shared by tests/test_slurm_*.py ---

SLURM_SCRIPT = REPO / "scripts" / "slurm-cluster.sh"
SLURM_DAEMONS = ("munged", "slurmctld", "slurmscriptd", "slurmd", "slurmstepd")
SLURM_LOCK = Path("/tmp/spectramind-slurm.lock")


def slurm_script(action: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``scripts/slurm-cluster.sh ACTION``; fail with its output unless it exits 0."""
    proc = subprocess.run(
        ["bash", str(SLURM_SCRIPT), action], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"slurm-cluster.sh {action} failed (rc={proc.returncode})\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    return proc


def running_slurm_daemons() -> dict[str, list[str]]:
    """``{name: [pid, ...]}`` of the cluster's daemons still running on this host."""
    found = {}
    for name in SLURM_DAEMONS:
        out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
        if out.strip():
            found[name] = out.split()
    return found


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM cluster (CPU + one fake GPU), for the whole test session.

    Started on first use (installing slurm-wlm and munge with apt-get when missing), stopped at
    the end of the session; the teardown fails if any munged/slurmctld/slurmd is left. Needs root
    (CI runs as root); skipped otherwise. Concurrent pytest sessions on one host take turns.
    """
    if os.geteuid() != 0:
        pytest.skip("SLURM cluster tests need root (apt-get + system daemons); CI runs as root")
    with open(SLURM_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t0 = time.monotonic()
        try:
            slurm_script("start")
            print(f"\nSLURM cluster started in {time.monotonic() - t0:.1f}s")
            yield
        finally:
            slurm_script("stop")
            left = running_slurm_daemons()
            assert not left, f"SLURM daemons still running after stop: {left}"
