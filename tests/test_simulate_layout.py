"""The simulated dataset follows FORMAT.md file by file (real parquet/csv files, read raw)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spectramind.simulate import planet_truth, read_truth_csv, truth_csv_path, truth_dir_path

N_AIRS_CDS = 56  # round(5625 * 0.01)
N_FGS_CDS = 12 * N_AIRS_CDS


def lam(k):
    """FORMAT.md wavelength solution, written out independently of the package."""
    k = np.asarray(k, dtype=float)
    return 1.95176069 + 8.85825624e-3 * k - 6.91347214e-6 * k**2


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def planet_dirs(data: Path, split: str) -> list[Path]:
    return sorted(p for p in (data / split).iterdir())


def test_top_level_files(tiny_dataset: Path) -> None:
    names = {p.name for p in tiny_dataset.iterdir()}
    assert names == {
        "train",
        "test",
        "train.csv",
        "train_star_info.csv",
        "test_star_info.csv",
        "wavelengths.csv",
        "axis_info.parquet",
        "adc_info.csv",
        "sample_submission.csv",
    }
    # truth lies beside the folder, never inside it
    assert truth_csv_path(tiny_dataset) == tiny_dataset.parent / "data.truth.csv"
    assert truth_csv_path(tiny_dataset).is_file()
    assert truth_dir_path(tiny_dataset).is_dir()
    assert not any("truth" in p.name for p in tiny_dataset.rglob("*"))
    # no temporary leftovers
    assert not any(p.name.startswith(".") for p in tiny_dataset.parent.iterdir())


def test_planet_folders_and_visits(tiny_dataset: Path) -> None:
    n_two_visits = 0
    ids = []
    for split, count in (("train", 3), ("test", 2)):
        dirs = planet_dirs(tiny_dataset, split)
        assert len(dirs) == count
        for pdir in dirs:
            assert pdir.name.isdigit() and len(pdir.name) == 10
            ids.append(int(pdir.name))
            names = {p.name for p in pdir.iterdir()}
            n_visits = len(names) // 4
            assert n_visits in (1, 2)
            n_two_visits += n_visits == 2
            expected = set()
            for v in range(n_visits):
                expected |= {
                    f"AIRS-CH0_signal_{v}.parquet",
                    f"FGS1_signal_{v}.parquet",
                    f"AIRS-CH0_calibration_{v}",
                    f"FGS1_calibration_{v}",
                }
            assert names == expected
            for v in range(n_visits):
                for inst in ("AIRS-CH0", "FGS1"):
                    cal = {p.name for p in (pdir / f"{inst}_calibration_{v}").iterdir()}
                    assert cal == {
                        f"{m}.parquet" for m in ("dark", "dead", "flat", "linear_corr", "read")
                    }
    assert len(set(ids)) == len(ids)
    assert n_two_visits >= 1  # the fixture asks for 50% second visits


@pytest.mark.parametrize(
    ("inst", "pixels", "n_cds"), [("AIRS-CH0", 32 * 356, N_AIRS_CDS), ("FGS1", 32 * 32, N_FGS_CDS)]
)
def test_signal_files(tiny_dataset: Path, inst: str, pixels: int, n_cds: int) -> None:
    for path in tiny_dataset.glob(f"*/*/{inst}_signal_*.parquet"):
        meta = pq.ParquetFile(path)
        schema = meta.schema_arrow
        assert meta.metadata.num_rows == 2 * n_cds
        assert len(schema) == pixels
        assert schema.names == [str(j) for j in range(pixels)]
        assert all(pa.types.is_uint16(f.type) for f in schema)


@pytest.mark.parametrize(("inst", "cols"), [("AIRS-CH0", 356), ("FGS1", 32)])
def test_calibration_files(tiny_dataset: Path, inst: str, cols: int) -> None:
    for cal_dir in tiny_dataset.glob(f"*/*/{inst}_calibration_*"):
        for name in ("dark", "dead", "flat", "linear_corr", "read"):
            table = pq.read_table(cal_dir / f"{name}.parquet")
            rows = 192 if name == "linear_corr" else 32
            assert (table.num_rows, table.num_columns) == (rows, cols), name
            kind = pa.types.is_boolean if name == "dead" else pa.types.is_float64
            assert all(kind(f.type) for f in table.schema), name
            assert all(isinstance(n, str) for n in table.column_names)


def test_axis_info_closed_forms(tiny_dataset: Path) -> None:
    table = pq.read_table(tiny_dataset / "axis_info.parquet")
    assert table.column_names == [
        "AIRS-CH0-axis0-h",
        "AIRS-CH0-axis2-um",
        "AIRS-CH0-integration_time",
        "FGS1-axis0-h",
    ]
    assert all(pa.types.is_float64(f.type) for f in table.schema)
    assert table.num_rows == 2 * N_FGS_CDS  # padded to the FGS length
    col = {n: table.column(n).to_numpy() for n in table.column_names}

    k = np.arange(N_AIRS_CDS)
    airs_t = np.empty(2 * N_AIRS_CDS)
    airs_t[0::2], airs_t[1::2] = (0.1 + 4.8 * k) / 3600, (0.2 + 4.8 * k) / 3600
    np.testing.assert_allclose(col["AIRS-CH0-axis0-h"][: 2 * N_AIRS_CDS], airs_t, rtol=1e-12)
    assert np.isnan(col["AIRS-CH0-axis0-h"][2 * N_AIRS_CDS :]).all()

    k = np.arange(N_FGS_CDS)
    fgs_t = np.empty(2 * N_FGS_CDS)
    fgs_t[0::2], fgs_t[1::2] = (0.1 + 0.4 * k) / 3600, (0.2 + 0.4 * k) / 3600
    np.testing.assert_allclose(col["FGS1-axis0-h"], fgs_t, rtol=1e-12)
    # AIRS and FGS cover the same stretch of time
    assert abs(airs_t[-1] - fgs_t[-1]) * 3600 < 4.8

    wl = col["AIRS-CH0-axis2-um"]
    np.testing.assert_allclose(wl[:356], lam(320 - np.arange(356)), rtol=1e-12)
    assert np.isnan(wl[356:]).all()
    assert wl[0] == pytest.approx(4.078463, abs=1e-6)
    assert wl[355] == pytest.approx(1.633253, abs=1e-6)
    assert np.all(np.diff(wl[:356]) < 0)

    integ = col["AIRS-CH0-integration_time"]
    np.testing.assert_array_equal(integ[: 2 * N_AIRS_CDS], np.tile([0.1, 4.5], N_AIRS_CDS))
    assert np.isnan(integ[2 * N_AIRS_CDS :]).all()


def test_adc_info_exact(tiny_dataset: Path) -> None:
    text = (tiny_dataset / "adc_info.csv").read_text()
    assert text.splitlines() == [
        "FGS1_adc_offset,FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS-CH0_adc_gain",
        "-1000.0,0.4369,-1000.0,0.4369",
    ]


def test_wavelengths_solution_and_flip(tiny_dataset: Path) -> None:
    header, rows = read_csv(tiny_dataset / "wavelengths.csv")
    assert header == [f"wl_{j}" for j in range(1, 284)]
    assert len(rows) == 1
    wl = np.array(rows[0], dtype=float)
    assert wl[0] == 0.7
    assert rows[0][1] == "1.951761" and rows[0][282] == "3.895036"
    # wl_m = lambda(m - 2): detector column 39 + j (wavelength lambda(281 - j)) is wl_(283 - j)
    np.testing.assert_allclose(wl[1:], lam(np.arange(282)), atol=5e-7)
    axis = pq.read_table(tiny_dataset / "axis_info.parquet").column(1).to_numpy()[:356]
    np.testing.assert_allclose(wl[1:], axis[39:321][::-1], atol=5e-7)


def test_labels_star_info_and_submission(tiny_dataset: Path) -> None:
    train_ids = sorted(int(p.name) for p in planet_dirs(tiny_dataset, "train"))
    test_ids = sorted(int(p.name) for p in planet_dirs(tiny_dataset, "test"))

    header, rows = read_csv(tiny_dataset / "train.csv")
    assert header == ["planet_id"] + [f"wl_{j}" for j in range(1, 284)]
    assert [int(r[0]) for r in rows] == train_ids
    labels = np.array([r[1:] for r in rows], dtype=float)
    assert labels.shape == (3, 283)
    assert labels.min() > 0.005 and labels.max() < 0.05
    # The flip: label wl_(283 - j) is the depth injected in detector column 39 + j.
    for pid, row in zip(train_ids, labels, strict=True):
        depth_cols = planet_truth(tiny_dataset, "train", pid).depth_airs
        np.testing.assert_array_equal(row[1:], depth_cols[39:321][::-1])
        assert np.all(np.isfinite(row))

    for split, ids in (("train", train_ids), ("test", test_ids)):
        header, rows = read_csv(tiny_dataset / f"{split}_star_info.csv")
        assert header == ["planet_id", "Rs", "Ms", "Ts", "Mp", "e", "P", "sma", "i"]
        assert [int(r[0]) for r in rows] == ids
        values = np.array([r[1:] for r in rows], dtype=float)
        assert np.all(values[:, 4] == 0.0)  # e
        assert np.all((values[:, 2] > 4000) & (values[:, 2] < 7500))  # Ts
        assert np.all((values[:, 7] > 84) & (values[:, 7] <= 90))  # i
        assert np.all(values[:, 6] > 3)  # sma in stellar radii

    header, rows = read_csv(tiny_dataset / "sample_submission.csv")
    assert header == (
        ["planet_id"] + [f"wl_{j}" for j in range(1, 284)] + [f"sigma_{j}" for j in range(1, 284)]
    )
    assert len(header) == 567
    assert sorted(int(r[0]) for r in rows) == test_ids
    assert np.array([r[1:] for r in rows], dtype=float).min() >= 0

    truth_ids, truth = read_truth_csv(tiny_dataset)
    assert sorted(truth_ids.tolist()) == test_ids
    assert truth.shape == (2, 283) and truth.min() > 0.005
