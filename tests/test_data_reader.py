"""The validated reader on real parquet files: good data loads, each bad input fails clearly.

Every bad case must raise DataFormatError with a one-line message naming the path, what was
expected and what was found, and make ``spectramind validate`` exit with code 2.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spectramind.data import (
    AIRS,
    discover_planets,
    discover_visits,
    load_visit,
    read_axis_info,
    read_labels,
    read_signal,
    read_star_info,
)
from spectramind.errors import DataFormatError


@pytest.fixture
def one_planet(tiny_dataset: Path, tmp_path: Path) -> tuple[Path, int]:
    """A private copy of the tables and the first train planet."""
    data = tmp_path / "data"
    data.mkdir()
    for f in tiny_dataset.iterdir():
        if f.is_file():
            shutil.copy(f, data / f.name)
    pid = discover_planets(tiny_dataset, "train")[0]
    shutil.copytree(tiny_dataset / "train" / str(pid), data / "train" / str(pid))
    return data, pid


def validate_cli(data: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "spectramind",
            "-q",
            "validate",
            "--data-dir",
            str(data),
            "--split",
            "train",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clear_failure(data: Path, pid: int, *needles: str, cli: bool = False) -> None:
    with pytest.raises(DataFormatError) as info:
        for v in discover_visits(data, "train", pid):
            load_visit(data, "train", pid, v)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    if not cli:  # the CLI path costs a subprocess: checked for a few cases only
        return
    result = validate_cli(data)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ERROR" in lines[0], result.stderr
    for needle in needles:
        assert needle in lines[0]


def rewrite(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path)


def test_good_visit_loads(tiny_dataset: Path) -> None:
    pid = discover_planets(tiny_dataset, "train")[0]
    visit = load_visit(tiny_dataset, "train", pid, 0)
    assert visit.airs.signal.shape == (112, 32, 356) and visit.airs.signal.dtype == np.uint16
    assert visit.fgs.signal.shape == (1344, 32, 32) and visit.fgs.signal.dtype == np.uint16
    assert visit.airs.calibration.linear_corr.shape == (6, 32, 356)
    assert visit.fgs.calibration.dead.dtype == np.bool_
    assert visit.airs.adc.gain == 0.4369 and visit.airs.adc.offset == -1000.0
    # positional read equals the raw parquet table, frame by frame
    path = tiny_dataset / "train" / str(pid) / "AIRS-CH0_signal_0.parquet"
    table = pq.read_table(path, columns=["0", "5000", "11391"])
    np.testing.assert_array_equal(
        visit.airs.signal.reshape(112, -1)[:, [0, 5000, 11391]],
        np.column_stack([c.to_numpy() for c in table.columns]),
    )
    subset = read_signal(path, AIRS, [11391, 7, 5000])
    np.testing.assert_array_equal(subset, visit.airs.signal.reshape(112, -1)[:, [11391, 7, 5000]])
    axis = read_axis_info(tiny_dataset)
    assert axis.airs_time_h.size == 112 and axis.fgs_time_h.size == 1344
    ids, labels = read_labels(tiny_dataset)
    assert labels.shape == (3, 283) and set(ids) == set(discover_planets(tiny_dataset, "train"))
    assert set(read_star_info(tiny_dataset, "test")) == set(discover_planets(tiny_dataset, "test"))
    result = subprocess.run(
        [sys.executable, "-m", "spectramind", "validate", "--data-dir", str(tiny_dataset)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "5 planet(s)" in result.stderr


def test_missing_file(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "FGS1_calibration_0" / "flat.parquet"
    path.unlink()
    assert_clear_failure(data, pid, str(path), "file not found", cli=True)


def test_missing_signal_of_a_visit(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "FGS1_signal_0.parquet"
    path.unlink()
    assert_clear_failure(data, pid, str(path), "missing signal file")


def test_wrong_shape(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "AIRS-CH0_calibration_0" / "flat.parquet"
    rewrite(path, pq.read_table(path).slice(0, 31))
    assert_clear_failure(data, pid, str(path), "expected shape (32, 356)", "found (31, 356)")


def test_wrong_signal_width(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "FGS1_signal_0.parquet"
    table = pq.read_table(path)
    rewrite(path, table.select(list(range(1000))))
    assert_clear_failure(data, pid, str(path), "expected 1024 columns", "found 1000")


def test_wrong_dtype(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "AIRS-CH0_signal_0.parquet"
    table = pq.read_table(path)
    rewrite(path, table.cast(pa.schema([pa.field(n, pa.int32()) for n in table.column_names])))
    assert_clear_failure(data, pid, str(path), "expected uint16", "found int32", cli=True)


def test_wrong_map_dtype(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "AIRS-CH0_calibration_0" / "dead.parquet"
    table = pq.read_table(path)
    rewrite(path, table.cast(pa.schema([pa.field(n, pa.float64()) for n in table.column_names])))
    assert_clear_failure(data, pid, str(path), "expected bool", "found double")


def test_odd_frame_count(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "AIRS-CH0_signal_0.parquet"
    rewrite(path, pq.read_table(path).slice(0, 111))
    assert_clear_failure(data, pid, str(path), "even", "found 111")


def test_frame_count_disagrees_with_axis_info(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "FGS1_signal_0.parquet"
    rewrite(path, pq.read_table(path).slice(0, 1000))
    result = validate_cli(data)
    assert result.returncode == 2
    assert str(path) in result.stderr and "expected 1344 frames" in result.stderr
    assert "found 1000" in result.stderr


def test_nan_in_a_map(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "FGS1_calibration_0" / "dark.parquet"
    table = pq.read_table(path)
    column = table.column(3).to_numpy().copy()
    column[7] = np.nan
    rewrite(path, table.set_column(3, table.column_names[3], pa.array(column)))
    assert_clear_failure(data, pid, str(path), "expected finite values", "found 1 NaN", cli=True)


def test_unknown_planet_id(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    with pytest.raises(DataFormatError, match="unknown planet id 123") as info:
        load_visit(data, "train", 123, 0)
    assert str(data / "train" / "123") in str(info.value)
    result = validate_cli(data, "--planet", "123")
    assert result.returncode == 2 and "unknown planet id 123" in result.stderr
    with pytest.raises(DataFormatError, match="expected visit 1"):
        load_visit(data, "train", pid, 1 + max(discover_visits(data, "train", pid)))


def test_corrupt_parquet_and_missing_table(one_planet: tuple[Path, int]) -> None:
    data, pid = one_planet
    path = data / "train" / str(pid) / "AIRS-CH0_signal_0.parquet"
    path.write_bytes(b"not parquet at all")
    assert_clear_failure(data, pid, str(path), "not a readable parquet file")
    (data / "adc_info.csv").unlink()
    with pytest.raises(DataFormatError, match=r"adc_info\.csv: file not found"):
        load_visit(data, "train", pid, 0)
