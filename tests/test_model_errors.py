"""Bad inputs to spectramind train / predict give one-line errors (exit code 2)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from spectramind.cli import main
from spectramind.errors import ConfigError, DataFormatError
from spectramind.io import load_arrays, save_arrays
from spectramind.model.config import load_config
from spectramind.model.data import feature_files_in, load_planets
from spectramind.oracles.synthetic_fits import write_synthetic_set


@pytest.fixture
def syn(tmp_path):
    return write_synthetic_set(tmp_path / "set", 12, seed=5)


def _load(syn):
    return load_planets(feature_files_in(syn.features_dir), syn.star_info_csv, syn.labels_csv)


def _rewrite(path, **changes):
    arrays, meta = load_arrays(path)
    save_arrays(path, {**arrays, **changes}, meta)


def test_missing_fit_file_for_labelled_planet(syn):
    missing = feature_files_in(syn.features_dir)[3]
    missing.unlink()
    with pytest.raises(DataFormatError, match=f"no physics fit file, e.g. \\[{missing.stem}\\]"):
        _load(syn)


def test_missing_star_info(syn):
    lines = syn.star_info_csv.read_text().splitlines()
    syn.star_info_csv.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataFormatError, match="no star info"):
        _load(syn)


def test_nan_feature_names_the_file(syn):
    path = feature_files_in(syn.features_dir)[2]
    arrays, _ = load_arrays(path)
    _rewrite(path, features=np.where(np.arange(arrays["features"].size) == 1, np.nan, 0.0))
    with pytest.raises(
        DataFormatError, match=rf"{path.name}: non-finite features \(first at index 1\)"
    ):
        _load(syn)


def test_nan_depth_and_bad_depth_err(syn):
    first, second = feature_files_in(syn.features_dir)[:2]
    _rewrite(first, depth=np.full(283, np.inf))
    with pytest.raises(DataFormatError, match="non-finite depth"):
        _load(syn)
    _rewrite(first, depth=np.full(283, 0.01))
    _rewrite(second, depth_err=np.zeros(283))
    with pytest.raises(DataFormatError, match="depth_err > 0"):
        _load(syn)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("depth", np.zeros(282), r"depth of shape \(283,\), found \(282,\)"),
        ("depth_err", np.ones((283, 1)), r"depth_err of shape \(283,\)"),
        ("features", np.zeros(5), "expected 3 features like the other files, found 5"),
        ("features", np.zeros((3, 1)), "1-D features"),
    ],
)
def test_mismatched_shapes(syn, key, value, message):
    _rewrite(feature_files_in(syn.features_dir)[-1], **{key: value})
    with pytest.raises(DataFormatError, match=message):
        _load(syn)


def test_missing_array_and_duplicate_planet(syn, tmp_path):
    files = feature_files_in(syn.features_dir)
    arrays, meta = load_arrays(files[0])
    save_arrays(files[0], {k: v for k, v in arrays.items() if k != "depth_err"}, meta)
    with pytest.raises(DataFormatError, match=r"missing arrays \['depth_err'\]"):
        _load(syn)
    save_arrays(files[0], arrays, meta)
    shutil.copy(files[1], syn.features_dir / "copy.npz")
    with pytest.raises(DataFormatError, match="more than one fit file"):
        _load(syn)


def test_cli_exit_code_and_predict_input_mismatch(syn, tmp_path, caplog):
    ckpt = tmp_path / "m.pt"
    args = ["--features-dir", str(syn.features_dir), "--star-info", str(syn.star_info_csv)]
    assert (
        main(
            [
                "train",
                *args,
                "--labels",
                str(syn.labels_csv),
                "--out",
                str(ckpt),
                "--config",
                str(_yaml(tmp_path, "max_epochs: 5\n")),
            ]
        )
        == 0
    )
    for path in feature_files_in(syn.features_dir):
        _rewrite(path, features=np.zeros(4))
    assert main(["predict", "--ckpt", str(ckpt), *args, "--out", str(tmp_path / "p.npz")]) == 2
    assert "the checkpoint was trained on 11" in caplog.text
    assert not (tmp_path / "p.npz").exists()
    assert (
        main(["predict", "--ckpt", str(syn.labels_csv), *args, "--out", str(tmp_path / "x.npz")])
        == 2
    )
    assert "not a readable checkpoint" in caplog.text


def _yaml(tmp_path, text):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown keys \['epochs'\]"):
        load_config(_yaml(tmp_path, "epochs: 3\n"))
    with pytest.raises(ConfigError, match="max_epochs expects int"):
        load_config(_yaml(tmp_path, "train:\n  max_epochs: lots\n"))
    with pytest.raises(ConfigError, match="holdout_fraction"):
        load_config(None, {"holdout_fraction": 1.5})
    cfg = load_config(_yaml(tmp_path, "train:\n  lr: 1\n  hidden: 8\n"), {"seed": 4})
    assert (cfg.lr, cfg.hidden, cfg.seed) == (1.0, 8, 4)
    if not torch.cuda.is_available():
        from spectramind.model.train import select_device

        with pytest.raises(ConfigError, match="no CUDA device"):
            select_device("cuda")
