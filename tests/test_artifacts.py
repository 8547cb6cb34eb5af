"""spectramind.artifacts: one reader and writer per inter-stage file, refusing bad files.

Each refusal names the file and (where there is one) the planet; writers leave nothing behind.
The contract table of docs/CONTRACTS.md is checked against the modules it names.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spectramind import artifacts, plan
from spectramind.artifacts.calibrated import (
    CalibratedVisit,
    read_calibrated_visit,
    write_calibrated_visit,
)
from spectramind.artifacts.checkpoint import (
    CHECKPOINT_FORMAT,
    REQUIRED_KEYS,
    read_checkpoint,
    write_checkpoint,
)
from spectramind.artifacts.fits import PlanetFit, read_planet_fit, write_planet_fit
from spectramind.artifacts.predictions import Predictions, read_predictions, write_predictions
from spectramind.artifacts.scores import read_score_json, write_score_json
from spectramind.artifacts.submission import read_submission_csv
from spectramind.artifacts.tables import (
    align_on_planet_id,
    read_labels,
    read_planet_table,
    read_sample_submission,
    read_star_info,
)
from spectramind.cli import main
from spectramind.data import layout
from spectramind.errors import DataFormatError, SubmissionFormatError
from spectramind.io import save_arrays

REPO = Path(__file__).resolve().parents[1]
N_WL = layout.N_WAVELENGTHS


def _write_csv(path: Path, header, rows) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _labels(path: Path, ids=(3, 1, 2), value="0.01") -> Path:
    rows = [[pid, *([value] * N_WL)] for pid in ids]
    return _write_csv(path, ("planet_id", *layout.WL_COLUMNS), rows)


def _arrays(n=3, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.arange(100, 100 + n, dtype=np.int64)
    return ids, rng.uniform(0.01, 0.02, (n, N_WL)), rng.uniform(1e-5, 1e-4, (n, N_WL))


# --- planet tables -------------------------------------------------------------------------------


def test_planet_tables_read_in_file_order(tmp_path):
    table = read_labels(_labels(tmp_path / "train.csv"))
    assert table.planet_ids.tolist() == [3, 1, 2] and table.values.shape == (3, N_WL)
    star = _write_csv(
        tmp_path / "train_star_info.csv",
        layout.STAR_INFO_COLUMNS,
        [[7, 1.0, 1.0, 5700, 1.0, 0.0, 3.0, 0.04, 88.0]],
    )
    assert read_star_info(star).values[0, 2] == 5700.0


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda rows: rows[1].__setitem__(5, "abc"), r"train\.csv: column wl_5 .*'abc' .*planet 1"),
        (lambda rows: rows[2].__setitem__(9, "nan"), r"train\.csv: planet 2 column wl_9: .*finite"),
        (lambda rows: rows[2].__setitem__(0, "3"), r"train\.csv: .*planet 3 in rows 2 and 4"),
        (lambda rows: rows[0].pop(), r"train\.csv: row 2: expected 284 fields, found 283"),
    ],
)
def test_bad_labels_refused_naming_file_and_planet(tmp_path, mutate, pattern):
    rows = [[pid, *(["0.01"] * N_WL)] for pid in (3, 1, 2)]
    mutate(rows)
    path = _write_csv(tmp_path / "train.csv", ("planet_id", *layout.WL_COLUMNS), rows)
    with pytest.raises(DataFormatError, match=pattern):
        read_labels(path)


def test_wrong_header_and_missing_file_refused(tmp_path):
    path = _write_csv(tmp_path / "sample_submission.csv", ("planet_id", "wl_1"), [[1, 0.1]])
    with pytest.raises(DataFormatError, match=r"sample_submission\.csv: expected columns"):
        read_sample_submission(path)
    with pytest.raises(DataFormatError, match=r"nowhere\.csv: file not found"):
        read_planet_table(tmp_path / "nowhere.csv")


def test_align_on_planet_id_names_missing_doubled_and_extra_planets(caplog):
    assert align_on_planet_id([5, 7], [7, 9, 5], source="t", expected="x").tolist() == [2, 0]
    with pytest.raises(DataFormatError, match=r"^t: planet 8: expected a row, found 1 missing"):
        align_on_planet_id([5, 8], [5, 7], source="t", expected="a row")
    with pytest.raises(DataFormatError, match=r"^t: planet 5: expected one row, found two"):
        align_on_planet_id([5], [5, 5], source="t", expected="a row")
    with pytest.raises(SubmissionFormatError, match=r"^t: planet 9: not among"):
        align_on_planet_id([5], [9, 5], source="t", expected="x", extra="error",
                           error=SubmissionFormatError)  # fmt: skip
    with caplog.at_level(logging.WARNING):
        align_on_planet_id([5], [9, 5], source="t", expected="x", extra="warn")
    assert "not among those expected (e.g. 9)" in caplog.text


# --- predictions ---------------------------------------------------------------------------------


def test_predictions_round_trip_byte_stable(tmp_path):
    ids, mu, sigma = _arrays()
    write_predictions(tmp_path / "a.npz", ids, mu, sigma, planets="holdout")
    write_predictions(tmp_path / "b.npz", ids, mu, sigma, planets="holdout")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = read_predictions(tmp_path / "a.npz")
    assert isinstance(back, Predictions) and back.meta == {"planets": "holdout"}
    np.testing.assert_array_equal(back.mu, mu)
    np.testing.assert_array_equal(back.planet_id, ids)


@pytest.mark.parametrize(
    ("array", "value", "pattern"),
    [
        ("sigma", -1e-6, r"planet 101 column sigma_8: expected a non-negative value"),
        ("mu", np.nan, r"planet 101 column wl_8: expected a finite value"),
    ],
)
def test_predictions_writer_refuses_bad_values_and_writes_nothing(tmp_path, array, value, pattern):
    ids, mu, sigma = _arrays()
    (sigma if array == "sigma" else mu)[1, 7] = value
    out = tmp_path / "preds" / "test.npz"
    with pytest.raises(SubmissionFormatError, match=rf"test\.npz: {pattern}"):
        write_predictions(out, ids, mu, sigma)
    assert not out.exists() and not out.parent.exists()


def test_predictions_reader_refuses_bad_files(tmp_path):
    ids, mu, sigma = _arrays()
    save_arrays(tmp_path / "short.npz", {"planet_id": ids, "mu": mu})
    with pytest.raises(DataFormatError, match=r"short\.npz: missing arrays \['sigma'\]"):
        read_predictions(tmp_path / "short.npz")
    save_arrays(tmp_path / "twice.npz", {"planet_id": ids[[0, 0, 1]], "mu": mu, "sigma": sigma})
    with pytest.raises(DataFormatError, match=r"twice\.npz: planet 100: expected one row"):
        read_predictions(tmp_path / "twice.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match=r"junk\.npz: not a readable predictions"):
        read_predictions(tmp_path / "junk.npz")


def test_submit_command_refuses_bad_predictions_exit_2_no_output(tmp_path, caplog):
    ids, mu, sigma = _arrays()
    mu[2, 0] = np.inf
    bad = tmp_path / "test.npz"
    save_arrays(bad, {"planet_id": ids, "mu": mu, "sigma": sigma})  # bypasses the writer
    sample = _write_csv(
        tmp_path / "sample_submission.csv",
        layout.SUBMISSION_COLUMNS,
        [[pid, *(["0"] * 2 * N_WL)] for pid in ids],
    )
    out = tmp_path / "out" / "submission.csv"
    argv = ["submit", "--predictions", str(bad), "--sample-submission", str(sample)]
    with caplog.at_level(logging.ERROR):
        assert main([*argv, "--out", str(out)]) == 2
    assert re.search(r"test\.npz: planet 102 column wl_1: expected a finite value", caplog.text)
    assert not out.exists()


def test_submission_reader_takes_values_by_position(tmp_path):
    ids, mu, sigma = _arrays()
    rows = [
        [pid, *map(repr, m), *map(repr, s)]
        for pid, m, s in zip(ids.tolist(), mu.tolist(), sigma.tolist(), strict=True)
    ]
    path = _write_csv(tmp_path / "s.csv", layout.SUBMISSION_COLUMNS, rows)
    back = read_submission_csv(path)
    np.testing.assert_array_equal(back.sigma, sigma)
    short = _write_csv(
        tmp_path / "short.csv", layout.SUBMISSION_COLUMNS[:-1], [r[:-1] for r in rows]
    )
    with pytest.raises(SubmissionFormatError, match=r"short\.csv: expected exactly 566 value"):
        read_submission_csv(short)


# --- checkpoint ----------------------------------------------------------------------------------


def _checkpoint() -> dict:
    import torch

    checkpoint = {key: {} for key in REQUIRED_KEYS}
    checkpoint.update(format=CHECKPOINT_FORMAT, holdout_ids=[1], state_dict={"w": torch.ones(2)})
    return checkpoint


def test_checkpoint_round_trip_same_bytes(tmp_path):
    sha_a = write_checkpoint(_checkpoint(), tmp_path / "a.pt")
    sha_b = write_checkpoint(_checkpoint(), tmp_path / "sub" / "b.pt")
    assert sha_a == sha_b  # the file name does not enter the bytes
    assert read_checkpoint(tmp_path / "a.pt", verify=False)["holdout_ids"] == [1]


def test_checkpoint_refusals_name_the_file(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(DataFormatError, match=r"junk\.pt: not a readable checkpoint"):
        read_checkpoint(tmp_path / "junk.pt", verify=False)
    partial = _checkpoint()
    del partial["normalisation"]
    write_checkpoint(partial, tmp_path / "partial.pt")
    with pytest.raises(
        DataFormatError, match=r"partial\.pt: checkpoint without \['normalisation'\]"
    ):
        read_checkpoint(tmp_path / "partial.pt", verify=False)
    with pytest.raises(DataFormatError, match=r"other\.pt: expected a checkpoint of format"):
        write_checkpoint({**_checkpoint(), "format": "other/1"}, tmp_path / "other.pt")
        read_checkpoint(tmp_path / "other.pt", verify=False)
    with pytest.raises(DataFormatError, match=r"none\.pt: refusing"):
        write_checkpoint({"config": {}}, tmp_path / "none.pt")
    assert not (tmp_path / "none.pt").exists()


# --- score.json ----------------------------------------------------------------------------------


def test_score_json_round_trip_and_refusals(tmp_path):
    out = tmp_path / "metrics" / "score.json"
    write_score_json(out, {"score": 0.5, "n_planets": 4, "z_rms": float("nan")}, {"labels": "t"})
    record = read_score_json(out)
    assert (record.score, record.n_planets, record.inputs) == (0.5, 4, {"labels": "t"})
    assert record.values["z_rms"] is None  # NaN written as null
    out.write_text(json.dumps({"score": 1.5, "n_planets": 4, "inputs": {}}))
    with pytest.raises(DataFormatError, match=r"score\.json: expected a score in \[0, 1\]"):
        read_score_json(out)
    out.write_text(json.dumps({"score": 0.5}))
    with pytest.raises(DataFormatError, match=r"score\.json: expected keys .*'n_planets'"):
        read_score_json(out)


def test_report_title_names_the_score_and_its_data(tmp_path):
    from spectramind.report import score_title

    out = tmp_path / "score.json"
    inputs = {"predictions": "artifacts/preds/holdout.npz", "labels": "data/x/train.csv"}
    write_score_json(
        out, {"score": 0.61234, "n_planets": 5}, {**inputs, "naive": "data/x/train.csv"}
    )
    title = score_title(out)
    assert title == (
        "validation score 0.6123 on 5 planets: artifacts/preds/holdout.npz vs data/x/train.csv"
    )


# --- calibrated visit ----------------------------------------------------------------------------


def _visit(n_bins=12, planet_id=7, seed=0) -> CalibratedVisit:
    rng = np.random.default_rng(seed)
    flux = rng.uniform(1e3, 2e3, (n_bins, N_WL))
    meta = {"planet_id": planet_id, "split": "test", "visit": 1, "regressor_names": ["x", "y"]}
    return CalibratedVisit(
        np.arange(n_bins) * 0.1,
        flux,
        np.sqrt(flux),
        np.where(np.arange(N_WL) == 5, 4, 0).astype(np.uint16),
        rng.standard_normal((n_bins, 2)),
        meta,
    )


def _written_twice_and_read_back(tmp_path, write, read, artifact):
    """Write ``artifact`` to two places (one in a new sub-folder): the bytes must not depend on
    where or when it was written; return what ``read`` gives back from the first."""
    write(tmp_path / "a.npz", artifact)
    write(tmp_path / "sub" / "b.npz", artifact)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "sub" / "b.npz").read_bytes()
    return read(tmp_path / "a.npz")


def test_calibrated_visit_round_trip_byte_stable(tmp_path):
    visit = _visit()
    back = _written_twice_and_read_back(
        tmp_path, write_calibrated_visit, read_calibrated_visit, visit
    )
    assert back.source == str(tmp_path / "a.npz") and back.meta == visit.meta
    assert (back.planet_id, back.split, back.visit, back.regressor_names) == (
        7,
        "test",
        1,
        ("x", "y"),
    )
    for name, array in visit.arrays().items():
        np.testing.assert_array_equal(getattr(back, name), array)
        assert getattr(back, name).dtype == array.dtype
    assert back.n_bins == 12
    with np.load(tmp_path / "a.npz") as raw:  # the dtypes of docs/CONTRACTS.md, in the file
        assert {k: str(raw[k].dtype) for k in raw.files if k != "meta"} == {
            "time_h": "float64",
            "flux": "float64",
            "flux_err": "float64",
            "quality": "uint16",
            "regressors": "float64",
        }


def test_calibrated_visit_reader_refuses_bad_files_naming_them(tmp_path):
    good = _visit().arrays()
    meta = _visit().meta
    with pytest.raises(DataFormatError, match=r"gone\.npz: calibrated visit file not found"):
        read_calibrated_visit(tmp_path / "gone.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match=r"junk\.npz: not a readable calibrated visit"):
        read_calibrated_visit(tmp_path / "junk.npz")
    cases = {
        "short": (
            {k: v for k, v in good.items() if k != "regressors"},
            meta,
            r"missing arrays \['regressors'\]",
        ),
        "flux": (
            {**good, "flux": good["flux"][:, :282]},
            meta,
            r"expected flux of shape \(12, 283\), found \(12, 282\)",
        ),
        "regressors": (
            {**good, "regressors": good["regressors"][:5]},
            meta,
            r"expected regressors of shape \(12, k\)",
        ),
        "quality": (
            {**good, "quality": good["quality"] * 0.5},
            meta,
            "expected integer quality bits",
        ),
        "meta": (good, {**meta, "planet_id": "seven"}, "expected an integer meta planet_id"),
    }
    for name, (arrays, file_meta, pattern) in cases.items():
        path = tmp_path / f"{name}.npz"
        save_arrays(path, arrays, file_meta)  # bypasses the writer
        with pytest.raises(DataFormatError, match=rf"{name}\.npz: .*{pattern}"):
            read_calibrated_visit(path)


def test_calibrated_visit_record_refuses_a_bad_shape_before_writing(tmp_path):
    visit = _visit()
    with pytest.raises(DataFormatError, match=r"expected flux_err of shape \(12, 283\)"):
        replace(visit, flux_err=visit.flux_err[:, :10])
    with pytest.raises(DataFormatError, match=r"expected time_h of shape"):
        replace(visit, time_h=visit.time_h[:, None])


# --- physics fit ---------------------------------------------------------------------------------


def _fit(planet_id=7, n_features=3) -> PlanetFit:
    rng = np.random.default_rng(planet_id)
    meta = {"planet_id": planet_id, "split": "train", "feature_names": ["a", "b", "c"]}
    return PlanetFit(
        rng.uniform(0.01, 0.02, N_WL),
        rng.uniform(1e-5, 1e-4, N_WL),
        rng.standard_normal(n_features),
        meta,
    )


def test_planet_fit_round_trip_byte_stable(tmp_path):
    fit = _fit()
    back = _written_twice_and_read_back(tmp_path, write_planet_fit, read_planet_fit, fit)
    assert back.meta == fit.meta and back.planet_id == 7 and back.feature_names == ["a", "b", "c"]
    for name in ("depth", "depth_err", "features"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fit, name))


def test_planet_fit_writer_refuses_bad_values_and_writes_nothing(tmp_path):
    fit = _fit()
    out = tmp_path / "fit" / "7.npz"
    depth_err = fit.depth_err.copy()
    depth_err[4] = 0.0
    with pytest.raises(DataFormatError, match=r"expected depth_err > 0"):
        write_planet_fit(out, replace(fit, depth_err=depth_err))
    depth = fit.depth.copy()
    depth[9] = np.nan
    with pytest.raises(DataFormatError, match=r"non-finite depth \(first at index 9\)"):
        write_planet_fit(out, replace(fit, depth=depth))
    assert not out.exists() and not out.parent.exists()


def test_planet_fit_reader_refuses_bad_files_naming_them(tmp_path):
    fit = _fit()
    arrays = {"depth": fit.depth, "depth_err": fit.depth_err, "features": fit.features}
    cases = {
        "short": (
            {k: v for k, v in arrays.items() if k != "features"},
            fit.meta,
            r"missing arrays \['features'\]",
        ),
        "depth": (
            {**arrays, "depth": fit.depth[:-1]},
            fit.meta,
            r"expected depth of shape \(283,\), found \(282,\)",
        ),
        "features": (
            {**arrays, "features": fit.features[:, None]},
            fit.meta,
            "expected 1-D features",
        ),
        "noid": (arrays, {"split": "train"}, "no planet_id in meta and the file name is not"),
    }
    for name, (file_arrays, meta, pattern) in cases.items():
        path = tmp_path / f"{name}.npz"
        save_arrays(path, file_arrays, meta)  # bypasses the writer
        with pytest.raises(DataFormatError, match=rf"{name}\.npz: {pattern}"):
            read_planet_fit(path)
    save_arrays(tmp_path / "12.npz", arrays, {"split": "train"})  # the id from the file name
    assert read_planet_fit(tmp_path / "12.npz").planet_id == 12
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match=r"junk\.npz: not a readable physics fit \.npz"):
        read_planet_fit(tmp_path / "junk.npz")


# --- the contract table --------------------------------------------------------------------------


def test_contract_table_matches_the_code():
    text = (REPO / "docs" / "CONTRACTS.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`: " in line]
    assert len(rows) == 7, rows
    paths = {
        "calibrated": [plan.calibrated_path("{split}", "{planet_id}", "{visit}")],
        "fits": [plan.fit_path("{split}", "{planet_id}")],
        "predictions": [artifacts.predictions_path("test"), artifacts.predictions_path("holdout")],
        "submission": [artifacts.submission_path()],
        "checkpoint": [artifacts.checkpoint_path()],
        "scores": [artifacts.score_path()],
        "tables": [layout.LABELS_CSV, layout.SAMPLE_SUBMISSION_CSV],
    }
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        module_name = re.match(r"`(\w+)`:", cells[2]).group(1)
        module = importlib.import_module(f"spectramind.artifacts.{module_name}")
        names = re.findall(r"`(\w+)`", cells[2])[1:]
        assert names and all(hasattr(module, n) for n in names), (module_name, names)
        expanded = cells[1].replace("{test,holdout}", "test") + cells[1].replace(
            "{test,holdout}", "holdout"
        )
        assert all(p in expanded for p in paths[module_name]), (cells[1], paths[module_name])
    assert f"`{CHECKPOINT_FORMAT}`" in text
