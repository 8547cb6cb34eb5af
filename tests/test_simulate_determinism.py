"""Same arguments give byte-identical files; a planet depends only on (seed, split, index)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from spectramind.simulate import SimulationConfig, simulate_dataset

SCALE = "0.004"  # 22 AIRS / 264 FGS CDS frames: fast


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file under the dataset folder and its truth siblings."""
    out = {}
    for base in (root, root.with_name(root.name + ".truth")):
        for path in sorted(base.rglob("*")):
            if path.is_file():
                out[str(path.relative_to(root.parent))] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    truth_csv = root.with_name(root.name + ".truth.csv")
    out[truth_csv.name] = hashlib.sha256(truth_csv.read_bytes()).hexdigest()
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spectramind", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "data"
    result = cli(
        "simulate",
        "--out",
        str(out),
        "--train",
        "2",
        "--test",
        "1",
        "--seed",
        "5",
        "--frames-scale",
        SCALE,
        "--second-visit-fraction",
        "0.5",
        "--workers",
        "1",
    )
    assert result.returncode == 0, result.stderr
    return out


def test_same_seed_byte_identical_any_workers(reference: Path, tmp_path: Path) -> None:
    again = tmp_path / "data"
    result = cli(
        "simulate",
        "--out",
        str(again),
        "--train",
        "2",
        "--test",
        "1",
        "--seed",
        "5",
        "--frames-scale",
        SCALE,
        "--second-visit-fraction",
        "0.5",
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    ref, new = digests(reference), digests(again)
    assert len(ref) > 30
    assert ref == new


def test_different_seed_differs(reference: Path, tmp_path: Path) -> None:
    other = simulate_dataset(
        tmp_path / "data",
        SimulationConfig(2, 1, seed=6, frames_scale=float(SCALE), second_visit_fraction=0.5),
    )
    ref, new = digests(reference), digests(other)
    # nothing planet-specific is shared (the shared tables may be equal)
    assert not set(ref) & {k for k in new if "/train/" in k or "/test/" in k}
    signals = lambda d: sorted(v for k, v in d.items() if "signal" in k)  # noqa: E731
    assert not set(signals(ref)) & set(signals(new))


def test_planet_independent_of_dataset_size(reference: Path, tmp_path: Path) -> None:
    """Planet (train, 0) is the same bytes when simulated alone.

    Both datasets come from the command, as the reference does: every ``spectramind`` command
    pins the CPU kernels (libm without FMA included, docs/reproducibility.md), a library call
    inside this test process does not, and the simulator's exp/log/pow would then round
    differently on an FMA machine.
    """
    alone = tmp_path / "data"
    result = cli(
        "simulate", "--out", str(alone), "--train", "1", "--test", "0", "--seed", "5",
        "--frames-scale", SCALE, "--second-visit-fraction", "0.5", "--workers", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (pid,) = [p.name for p in (alone / "train").iterdir()]
    ref = {k.split("/", 1)[1]: v for k, v in digests(reference).items() if pid in k}
    new = {k.split("/", 1)[1]: v for k, v in digests(alone).items() if pid in k}
    assert len(new) >= 12
    assert ref == new


def test_refuses_existing_output_and_bad_arguments(reference: Path) -> None:
    result = cli("simulate", "--out", str(reference), "--train", "1", "--test", "0")
    assert result.returncode == 2
    assert "existing" in result.stderr and str(reference) in result.stderr
    result = cli("simulate", "--out", str(reference.parent / "x"), "--frames-scale", "0.001")
    assert result.returncode == 2 and "--frames-scale" in result.stderr
    assert not (reference.parent / "x").exists()
