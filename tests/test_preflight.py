"""Errors before work: the workflow's preflight checks and the readers' one-line messages.

The preflight functions (spectramind.preflight) are what the Snakefile runs before any job;
here each is called directly on real folders. Reader faults are real files: a truncated and an
empty signal parquet read by `spectramind calibrate`, a duplicated planet id read by
`spectramind validate`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spectramind import preflight
from spectramind.data import layout, reader
from spectramind.data.validate import check_layout
from spectramind.errors import ConfigError, DataFormatError


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spectramind", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")},
    )


@pytest.fixture
def dataset(tiny_dataset: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny dataset, as a user's data_dir."""
    return Path(shutil.copytree(tiny_dataset, tmp_path / "data"))


def test_cores_must_be_at_least_one() -> None:
    preflight.check_cores(None)
    preflight.check_cores(1)
    with pytest.raises(ConfigError, match="--cores 0: expected at least 1 core"):
        preflight.check_cores(0)


@pytest.mark.parametrize(
    ("steps", "named"),
    [({"linearty": {"skip": True}}, "linearty"), ({"linearity": {"degre": 3}}, "degre")],
    ids=["step", "parameter"],
)
def test_unknown_calibration_steps_and_parameters_are_named(steps: dict, named: str) -> None:
    preflight.check_calibrate_config({"calibrate": {"preset": "default", "steps": {}}})
    with pytest.raises(ConfigError, match=named):
        preflight.check_calibrate_config({"calibrate": {"preset": "default", "steps": steps}})


def test_preflight_lists_the_planets_of_a_good_folder(dataset: Path) -> None:
    found = check_layout(dataset)
    assert set(found) == {"train", "test"}
    assert found["train"] == {
        p: reader.discover_visits(dataset, "train", p) for p in found["train"]
    }
    preflight.preflight({"calibrate": {}}, cores=2, data_dir=dataset)


def test_a_missing_folder_gets_the_message_of_validate(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataFormatError) as raised:
        preflight.check_dataset(missing)
    result = cli("validate", "--data-dir", str(missing), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"spectramind: {raised.value}")


@pytest.mark.parametrize(
    "table", [layout.LABELS_CSV, layout.STAR_INFO_CSV["test"], layout.SAMPLE_SUBMISSION_CSV]
)
def test_a_planet_listed_twice_in_a_table_is_refused(dataset: Path, table: str) -> None:
    path = dataset / table
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines, lines[1]]))  # the first planet again, as the last row
    planet = lines[1].split(",", 1)[0]
    message = f"{path}: expected each planet_id once, found planet {planet} in rows 2 and"
    with pytest.raises(DataFormatError, match="expected each planet_id once"):
        check_layout(dataset)
    result = cli("validate", "--data-dir", str(dataset), cwd=dataset.parent)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_signal_is_named_with_its_planet_by_calibrate(dataset: Path, damage: str) -> None:
    planet = reader.discover_planets(dataset, "train")[0]
    signal = layout.signal_path(dataset, "train", planet, layout.AIRS, 0)
    data = signal.read_bytes()
    signal.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    out = dataset.parent / "out.npz"
    result = cli(
        "calibrate", "--data-dir", str(dataset), "--split", "train", "--planet", str(planet),
        "--visit", "0", "--out", str(out),
        cwd=dataset.parent,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"{signal} (planet {planet}): not a readable parquet file" in line
    assert "Traceback" not in result.stderr and not out.exists()
    with pytest.raises(DataFormatError, match=f"planet {planet}"):
        reader.read_signal(signal, layout.AIRS)


def test_paths_in_and_out_of_planet_folders_are_described() -> None:
    assert layout.planet_of_path("d/train/17/AIRS-CH0_signal_0.parquet") == ("train", 17)
    assert layout.planet_of_path("d/test/5/FGS1_calibration_1/dark.parquet") == ("test", 5)
    assert layout.planet_of_path("artifacts/fit/train/42.npz") == ("train", 42)
    assert layout.planet_of_path("d/train.csv") is None
    assert layout.describe_path("d/train/17/x.parquet") == "d/train/17/x.parquet (planet 17)"
