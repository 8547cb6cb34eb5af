"""submission.csv: order, Table Schema validation before writing, round-trip floats, CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spectramind.data.layout import SUBMISSION_COLUMNS
from spectramind.io import save_arrays
from spectramind.metric import SubmissionFormatError
from spectramind.submission import (
    DEFAULT_SCHEMA_PATH,
    validate_submission_csv,
    write_submission,
)

N_WL = 283
REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "submission.tableschema.sample_id.json"


def test_schema_file_describes_the_submission():
    # The package's schema (spectramind.assets; a link in the checkout) is the repository's file.
    assert DEFAULT_SCHEMA_PATH.resolve() == SCHEMA.resolve()
    schema = json.loads(SCHEMA.read_text())
    names = [f["name"] for f in schema["fields"]]
    assert names[0] == "planet_id" and len(names) == 567
    assert names[1:4] == ["wl_1", "wl_2", "wl_3"] and names[-1] == "sigma_283"
    assert tuple(names) == SUBMISSION_COLUMNS
    assert schema["primaryKey"] == ["planet_id"]
    assert schema["fields"][0]["type"] == "integer"
    for f in schema["fields"][1:]:
        assert f["type"] == "number"
        assert f["constraints"] == {"required": True, "minimum": 0}


def predictions(n=5, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.choice(10_000, n, replace=False).astype(np.int64)
    mu = rng.uniform(0.006, 0.046, (n, 1)) + rng.uniform(0, 1e-4, (n, N_WL))
    sigma = rng.uniform(1e-5, 1e-3, (n, N_WL))
    return ids, mu, sigma


def read_back(path):
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_write_submission_order_and_exact_round_trip(tmp_path):
    ids, mu, sigma = predictions()
    sample = [int(ids[k]) for k in (3, 0, 4, 1, 2)]
    out = tmp_path / "artifacts" / "submission.csv"
    write_submission(out, ids, mu, sigma, sample)
    header, rows = read_back(out)
    assert tuple(header) == SUBMISSION_COLUMNS
    assert [int(r[0]) for r in rows] == sample
    for row, k in zip(rows, (3, 0, 4, 1, 2), strict=True):
        values = np.array([float(v) for v in row[1:]])
        # Bit-exact round trip of every float64.
        np.testing.assert_array_equal(values[:N_WL], mu[k])
        np.testing.assert_array_equal(values[N_WL:], sigma[k])
    assert out.read_bytes().endswith(b"\n") and b"\r" not in out.read_bytes()
    # Byte-deterministic: the same predictions give the same bytes.
    again = tmp_path / "again.csv"
    write_submission(again, ids, mu, sigma, sample)
    assert again.read_bytes() == out.read_bytes()
    assert [p.name for p in out.parent.iterdir()] == ["submission.csv"]  # no temp files left


def test_predicted_planets_not_in_sample_are_dropped(tmp_path):
    ids, mu, sigma = predictions()
    out = write_submission(tmp_path / "s.csv", ids, mu, sigma, [int(ids[1])])
    _, rows = read_back(out)
    assert [int(r[0]) for r in rows] == [int(ids[1])]


def test_missing_planet_refused_and_nothing_written(tmp_path):
    ids, mu, sigma = predictions()
    out = tmp_path / "s.csv"
    with pytest.raises(SubmissionFormatError, match="planet 123456"):
        write_submission(out, ids, mu, sigma, [*ids.tolist(), 123456])
    assert not out.exists()


@pytest.mark.parametrize(
    ("array", "value", "expected"),
    [("sigma", -1e-6, "non-negative"), ("mu", np.nan, "finite"), ("sigma", np.inf, "finite")],
)
def test_bad_values_refused_naming_planet_and_column(tmp_path, array, value, expected):
    ids, mu, sigma = predictions()
    target = sigma if array == "sigma" else mu
    target[2, 7] = value
    column = "sigma_8" if array == "sigma" else "wl_8"
    out = tmp_path / "s.csv"
    with pytest.raises(
        SubmissionFormatError, match=rf"planet {ids[2]} column {column}: .*{expected}"
    ):
        write_submission(out, ids, mu, sigma, ids.tolist())
    assert not out.exists()


def write_rows(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def good_rows():
    ids, mu, sigma = predictions(3, seed=1)
    return [
        [str(p), *map(repr, m), *map(repr, s)]
        for p, m, s in zip(ids.tolist(), mu.tolist(), sigma.tolist(), strict=True)
    ]


def test_schema_validation_of_a_good_file(tmp_path):
    validate_submission_csv(write_rows(tmp_path / "ok.csv", SUBMISSION_COLUMNS, good_rows()))


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (
            lambda rows: rows[1].__setitem__(5, "-0.5"),
            r"planet {p1} \(row 3\) column wl_5.*minimum",
        ),
        (lambda rows: rows[2].__setitem__(300, ""), r"planet {p2} \(row 4\) column sigma_17"),
        (lambda rows: rows[0].__setitem__(9, "x1"), r"planet {p0} \(row 2\) column wl_9.*type"),
        (
            lambda rows: rows[2].__setitem__(0, rows[0][0]),
            r"planet {p0} \(row 4\) column planet_id.*unique",
        ),
    ],
)
def test_schema_refuses_broken_files_with_clear_message(tmp_path, mutate, pattern):
    rows = good_rows()
    ids = {f"p{k}": row[0] for k, row in enumerate(rows)}
    mutate(rows)
    path = write_rows(tmp_path / "broken.csv", SUBMISSION_COLUMNS, rows)
    with pytest.raises(SubmissionFormatError, match=pattern.format(**ids)):
        validate_submission_csv(path)


def test_schema_refuses_wrong_header(tmp_path):
    rows = [r[:-1] for r in good_rows()]
    path = write_rows(tmp_path / "short.csv", SUBMISSION_COLUMNS[:-1], rows)
    with pytest.raises(SubmissionFormatError, match=r"short\.csv"):
        validate_submission_csv(path)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "spectramind", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def test_cli_submit(tmp_path):
    ids, mu, sigma = predictions(4, seed=2)
    pred = tmp_path / "pred.npz"
    save_arrays(pred, {"planet_id": ids, "mu": mu, "sigma": sigma})
    sample_ids = sorted(ids.tolist())
    sample_rows = [[p, *["0.0"] * (2 * N_WL)] for p in sample_ids]
    sample = write_rows(tmp_path / "sample_submission.csv", SUBMISSION_COLUMNS, sample_rows)
    out = tmp_path / "out" / "submission.csv"
    proc = run_cli("submit", "--predictions", pred, "--sample-submission", sample, "--out", out)
    assert proc.returncode == 0, proc.stderr
    _, rows = read_back(out)
    assert [int(r[0]) for r in rows] == sample_ids

    sigma[1, 0] = -1.0
    save_arrays(pred, {"planet_id": ids, "mu": mu, "sigma": sigma})
    bad_out = tmp_path / "out" / "bad.csv"
    proc = run_cli("submit", "--predictions", pred, "--sample-submission", sample, "--out", bad_out)
    assert proc.returncode == 2
    assert f"planet {ids[1]} column sigma_1" in proc.stderr
    assert not bad_out.exists()
