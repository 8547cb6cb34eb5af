"""The fit configuration chosen by the train planets' labels (spectramind fit-select)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectramind import cli
from spectramind.data import layout
from spectramind.io import load_arrays, save_arrays
from spectramind.oracles import synthetic_light_curves as synthetic
from spectramind.physics.selection import choose, weighted_mse
from spectramind.plan import selection_subset


def test_subset_depends_on_the_ids_only_and_has_the_asked_size():
    ids = list(range(1000, 1100))
    subset = selection_subset(ids, 40, seed=0)
    assert len(subset) == 40 and subset == sorted(subset)
    assert selection_subset(ids[::-1], 40, seed=0) == subset
    assert selection_subset(ids, 200, seed=0) == ids
    # one more planet displaces at most one: the subset is the 40 smallest hashes
    assert len(set(selection_subset([*ids, 5000], 40, seed=0)) - set(subset)) <= 1


def test_fgs1_counts_like_the_metric():
    """A candidate 100 ppm better on every AIRS channel but 800 ppm worse on FGS1 loses: FGS1
    weighs 57.846 channels (800^2 x 57.8 > 100^2 x 282 ... per planet)."""
    labels = np.zeros((5, 283))
    airs_better = np.zeros((5, 283))
    airs_better[:, 0] = 800e-6
    fgs_better = np.full((5, 283), 100e-6)
    fgs_better[:, 0] = 0.0
    assert weighted_mse(airs_better, labels) > weighted_mse(fgs_better, labels)
    chosen = choose([{"a": 1}, {"b": 2}], [airs_better, fgs_better], labels, [1, 2, 3, 4, 5])
    assert chosen.index == 1 and chosen.overrides == {"b": 2}


def _write_planet(tmp_path, planet_id: int, seed: int):
    """A synthetic visit with a quadratic drift (what a degree-0 drift cannot describe)."""
    lc = synthetic.make_visit(synthetic.make_truth(), relative_noise=1e-3, seed=seed)
    path = tmp_path / "calibrated" / f"{planet_id}_0.npz"
    save_arrays(
        path,
        {k: getattr(lc, k) for k in ("time_h", "flux", "flux_err", "quality", "regressors")},
        {"planet_id": planet_id, "split": "train", "visit": 0, "regressor_names": ["jitter"]},
    )
    return path


def test_cli_chooses_the_drift_the_labels_prefer_and_fit_uses_it(tmp_path, caplog):
    truth = synthetic.make_truth()
    ids = [11, 12]
    visits = [_write_planet(tmp_path, pid, seed) for seed, pid in enumerate(ids)]
    data = tmp_path / "data"
    data.mkdir()
    star = truth.star_info()
    names = layout.STAR_INFO_COLUMNS
    (data / "train_star_info.csv").write_text(
        ",".join(names)
        + "\n"
        + "".join(",".join([str(p)] + [repr(star[n]) for n in names[1:]]) + "\n" for p in ids)
    )
    (data / "train.csv").write_text(
        ",".join(("planet_id", *layout.WL_COLUMNS))
        + "\n"
        + "".join(",".join([str(p)] + [repr(float(v)) for v in truth.depth]) + "\n" for p in ids)
    )
    (data / layout.WAVELENGTHS_CSV).write_text(
        ",".join(layout.WL_COLUMNS)
        + "\n"
        + ",".join(f"{v:.6f}" for v in layout.target_wavelengths_um())
        + "\n"
    )
    out = tmp_path / "selected.json"
    argv = [
        "fit-select", "--calibrated", *map(str, visits), "--labels", str(data / "train.csv"),
        "--star-info", str(data / "train_star_info.csv"), "--out", str(out),
        "--fit-config", '{"ld_prior_sigma": [0.2, 0.2]}',
        "--candidates", '[{"drift_degree": 0}, {"drift_degree": 2}]',
    ]  # fmt: skip
    assert cli.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["selection"]["chosen"] == 1, report
    rmse = report["selection"]["weighted_rmse_ppm"]
    assert rmse[1] < 0.5 * rmse[0]
    assert report["config"] == {"ld_prior_sigma": [0.2, 0.2], "drift_degree": 2}
    fit_out = tmp_path / "fit.npz"
    fit_argv = [
        "fit", "--calibrated", str(visits[0]), "--star-info", str(data / "train_star_info.csv"),
        "--planet", "11", "--out", str(fit_out), "--fit-config-file", str(out),
    ]  # fmt: skip
    assert cli.main(fit_argv) == 0
    _, meta = load_arrays(fit_out)
    assert meta["config"]["drift_degree"] == 2
    # a candidate that is not a FitConfig setting is refused before any fit
    bad = [*argv[:-2], "--candidates", '[{"drift_order": 2}]']
    assert cli.main(bad) == 2 and "unknown keys" in caplog.text


@pytest.mark.parametrize("text", ["[1, 2]", "{}", "not json"])
def test_cli_refuses_malformed_candidates(tmp_path, text, caplog):
    argv = [
        "fit-select", "--calibrated", str(tmp_path / "x.npz"), "--labels", "l.csv",
        "--star-info", "s.csv", "--out", str(tmp_path / "o.json"), "--candidates", text,
    ]  # fmt: skip
    assert cli.main(argv) == 2
    assert "--candidates" in caplog.text
    assert not (tmp_path / "o.json").exists()
