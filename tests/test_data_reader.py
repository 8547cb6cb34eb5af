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
    FGS,
    discover_planets,
    discover_visits,
    load_visit,
    read_axis_info,
    read_labels,
    read_signal,
    read_star_info,
)
from spectramind.data.reader import SignalFile
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


# --- the calibration path: SignalFile ------------------------------------------------------


def write_signal(path: Path, frames: np.ndarray, rows_per_group: int) -> None:
    """(n, 1024) uint16 frames as an FGS1 signal file with the given row groups."""
    names = [str(j) for j in range(frames.shape[1])]
    table = pa.Table.from_arrays([pa.array(frames[:, j]) for j in range(frames.shape[1])], names)
    pq.write_table(table, path, row_group_size=rows_per_group)


@pytest.mark.parametrize("rows_per_group", [7, 16, 40], ids=["7-row", "16-row", "one-group"])
def test_signal_file_reads_pixels_and_decodes_each_column_chunk_once(tmp_path, rows_per_group):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 65535, size=(40, FGS.pixels_per_frame), dtype=np.uint16)
    path = tmp_path / "FGS1_signal_0.parquet"
    write_signal(path, frames, rows_per_group)
    signal = SignalFile(path, FGS)
    assert signal.n_frames == 40
    window = np.arange(96, 160)  # rows 3-4 of the detector
    probe = signal.probe(window, 9)  # rounded down to 8 reads
    np.testing.assert_array_equal(probe, frames[:8, window])
    selected = window[::3]
    got = signal.read_pixels(selected, 38)  # (pixels, reads), the last 2 reads left out
    assert got.shape == (selected.size, 38) and got.dtype == np.uint16
    np.testing.assert_array_equal(got, frames[:38, selected].T)
    outside = np.array([900, 5, 5, 1023])  # not probed, unsorted, a duplicate
    np.testing.assert_array_equal(signal.read_pixels(outside, 40), frames[:, outside].T)
    # Every (row group, column) was decoded at most once: the probed groups of the probed
    # pixels came from the probe.
    chunks = [(g, int(c)) for groups, cols in signal.decoded for g in groups for c in cols]
    assert len(chunks) == len(set(chunks))
    probed_groups = -(-8 // rows_per_group)
    n_groups = -(-40 // rows_per_group)
    expected = {(g, int(c)) for g in range(probed_groups) for c in window}
    expected |= {(g, int(c)) for g in range(probed_groups, n_groups) for c in selected}
    expected |= {(g, c) for g in range(n_groups) for c in (5, 900, 1023)}
    assert set(chunks) == expected


def test_signal_file_refuses_what_read_signal_refuses(tmp_path):
    frames = np.zeros((6, FGS.pixels_per_frame), dtype=np.uint16)
    path = tmp_path / "FGS1_signal_0.parquet"
    write_signal(path, frames[:5], 5)
    with pytest.raises(DataFormatError, match=r"FGS1_signal_0\.parquet: expected an even"):
        SignalFile(path, FGS)
    with pytest.raises(DataFormatError, match="expected 11392 columns"):
        write_signal(path, frames, 6)
        SignalFile(path, AIRS)
    signal = SignalFile(path, FGS)
    with pytest.raises(DataFormatError, match="pixel selection out of range"):
        signal.read_pixels([1024], 6)
    arrays = [pa.array(frames[:, j]) for j in range(FGS.pixels_per_frame)]
    arrays[7] = pa.array([1, None, 3, 4, 5, 6], type=pa.uint16())
    pq.write_table(pa.Table.from_arrays(arrays, [str(j) for j in range(1024)]), path)
    with pytest.raises(DataFormatError, match=r"expected no missing values, found 1 in column '7'"):
        SignalFile(path, FGS).read_pixels([3, 7], 6)


def test_reading_a_visit_does_not_import_pandas(one_planet):
    """pyarrow's to_numpy imports pandas (about half a second per process): the readers of
    signals, maps and axes convert Arrow buffers themselves."""
    data, pid = one_planet
    code = (
        "import sys\n"
        "from spectramind.data import reader, AIRS, FGS\n"
        f"data, pid = {str(data)!r}, {pid}\n"
        "reader.read_axis_info(data)\n"
        "for inst in (AIRS, FGS):\n"
        "    reader.read_calibration(data, 'train', pid, inst, 0)\n"
        "    path = f'{data}/train/{pid}/{inst.name}_signal_0.parquet'\n"
        "    f = reader.SignalFile(path, inst)\n"
        "    f.probe(range(40), 4)\n"
        "    f.read_pixels(range(20, 60), f.n_frames)\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_arrow_values_match_pyarrow_conversion():
    from spectramind.data.reader import _array_values

    cases = [
        pa.array([True, False, True, True, False, False, True, False, True, True]).slice(3, 6),
        pa.array([1.5, None, 3.0, 4.0]).slice(1),
        pa.array(np.arange(10, dtype=np.uint16)).slice(4, 3),
        pa.array(np.arange(5, dtype=np.float32)),
        pa.array([1, None, 3], type=pa.int64()),  # nulls in integers: pyarrow's own path
    ]
    for array in cases:
        expected = array.to_numpy(zero_copy_only=False)
        got = _array_values(array)
        assert got.dtype == expected.dtype, array.type
        np.testing.assert_array_equal(got, expected)
