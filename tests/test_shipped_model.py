"""Fast checks of the pieces behind the Kaggle bundle (issue 16); the end-to-end runs are in
tests/test_kaggle.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from spectramind.assets import default_config, project_root, schema_path, snakefile
from spectramind.bundle import notebook, runtime_pins
from spectramind.errors import SpectraMindError
from spectramind.repro.lineage import TamperedInputError
from spectramind.repro.manifest import bundle_provenance, environment_fields
from spectramind.repro.shipped import (
    ShippedModelError,
    check_same_science,
    fit_selection_of,
    import_model,
    verify_model,
)

REPO = Path(__file__).resolve().parents[1]


def model_folder(root: Path) -> Path:
    """A model folder whose record vouches for its checkpoint and snapshot."""
    root.mkdir(parents=True)
    ckpt = root / "model.pt"
    ckpt.write_bytes(b"weights" * 100)
    snapshot = root / "config-snapshot.yaml"
    snapshot.write_text("seed: 1234\ncalibrate: {preset: default, steps: {}}\n")
    record = {
        "stage": "train",
        "status": "ok",
        "run_id": "20250101_000000",
        "git_commit": "c" * 40,
        "config_sha256": hashlib.sha256(snapshot.read_bytes()).hexdigest(),
        "artifacts": [
            {
                "path": "artifacts/ckpt/model.pt",
                "size": ckpt.stat().st_size,
                "sha256": hashlib.sha256(ckpt.read_bytes()).hexdigest(),
            }
        ],
    }
    (root / "training-record.json").write_text(json.dumps(record))
    return ckpt


def test_assets_are_the_repository_files():
    assert (project_root() / "Snakefile").resolve() == (REPO / "Snakefile").resolve()
    assert snakefile().is_file() and default_config().is_file()
    assert schema_path("config.schema.yaml").resolve() == (REPO / "schemas/config.schema.yaml")


def test_verify_model_accepts_the_recorded_bytes_and_refuses_others(tmp_path: Path):
    ckpt = model_folder(tmp_path / "model")
    assert verify_model(ckpt)["run_id"] == "20250101_000000"
    out = tmp_path / "work" / "model.pt"
    import_model(ckpt, out)
    assert out.read_bytes() == ckpt.read_bytes()
    ckpt.write_bytes(b"weights" * 99 + b"weightz")
    with pytest.raises(TamperedInputError, match=r"model\.pt"):
        verify_model(ckpt)
    with pytest.raises(TamperedInputError):
        import_model(ckpt, tmp_path / "work" / "other.pt")
    assert not (tmp_path / "work" / "other.pt").exists()


def test_verify_model_refuses_a_changed_snapshot_or_a_missing_record(tmp_path: Path):
    ckpt = model_folder(tmp_path / "model")
    (ckpt.parent / "config-snapshot.yaml").write_text("seed: 1\n")
    with pytest.raises(ShippedModelError, match=r"config-snapshot\.yaml"):
        verify_model(ckpt)
    (ckpt.parent / "training-record.json").unlink()
    with pytest.raises(ShippedModelError, match=r"training-record\.json"):
        verify_model(ckpt)


def test_the_fit_settings_the_model_was_trained_with_travel_with_it(tmp_path: Path):
    """A model trained on fits made with fit_select's settings ships them; the record vouches
    for them, and a folder without them (or with others) is refused."""
    ckpt = model_folder(tmp_path / "model")
    record_file = ckpt.parent / "training-record.json"
    record = json.loads(record_file.read_text())
    shipped_fit = ckpt.parent / "fit-selected.json"
    # settings the record does not list: nothing vouches for them
    shipped_fit.write_text('{"config": {"drift_degree": 2}}\n')
    with pytest.raises(ShippedModelError, match="lists no fit selection"):
        verify_model(ckpt)
    entry = {
        "path": "artifacts/fit_select/selected.json",
        "size": shipped_fit.stat().st_size,
        "sha256": hashlib.sha256(shipped_fit.read_bytes()).hexdigest(),
    }
    record_file.write_text(json.dumps({**record, "inputs": [entry]}))
    verify_model(ckpt)
    assert fit_selection_of(ckpt) == str(shipped_fit)
    shipped_fit.write_text('{"config": {"drift_degree": 3}}\n')  # other settings, same size
    with pytest.raises(TamperedInputError, match=r"fit-selected\.json"):
        verify_model(ckpt)
    shipped_fit.unlink()
    with pytest.raises(ShippedModelError, match=r"expected fit-selected\.json"):
        verify_model(ckpt)
    assert fit_selection_of(ckpt) is None


def test_record_of_another_stage_vouches_for_nothing(tmp_path: Path):
    ckpt = model_folder(tmp_path / "model")
    record_file = ckpt.parent / "training-record.json"
    record = json.loads(record_file.read_text())
    record_file.write_text(json.dumps({**record, "status": "failed"}))
    with pytest.raises(ShippedModelError, match="status 'failed'"):
        verify_model(ckpt)


def test_predict_only_keeps_the_training_science_settings(tmp_path: Path):
    ckpt = model_folder(tmp_path / "model")
    check_same_science(ckpt, {"seed": 1234, "calibrate": {"preset": "default", "steps": {}}})
    with pytest.raises(ShippedModelError, match="config key seed"):
        check_same_science(ckpt, {"seed": 5, "calibrate": {"preset": "default", "steps": {}}})
    with pytest.raises(ShippedModelError, match="config key calibrate"):
        check_same_science(ckpt, {"seed": 1234, "calibrate": {"preset": "starter", "steps": {}}})


def test_records_take_the_commit_from_bundle_json_outside_git(tmp_path, monkeypatch):
    bundle = tmp_path / "BUNDLE.json"
    bundle.write_text(json.dumps({"git_commit": "d" * 40, "git_dirty": True}))
    monkeypatch.setenv("SPECTRAMIND_BUNDLE", str(bundle))
    fields = environment_fields(tmp_path)  # tmp_path is no git repository
    assert fields["git_commit"] == "d" * 40 and fields["git_dirty"] is True
    assert fields["bundle"]["sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
    monkeypatch.delenv("SPECTRAMIND_BUNDLE")
    assert environment_fields(tmp_path)["git_commit"] is None
    bundle.write_text("{}")
    with pytest.raises(SpectraMindError, match=r"BUNDLE\.json"):
        bundle_provenance({"SPECTRAMIND_BUNDLE": str(bundle)})


def test_notebook_is_valid_nbformat4_and_the_same_bytes_each_time():
    text = notebook("0.1.0")
    assert text == notebook("0.1.0")
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.cells[0].cell_type == "markdown"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "run.sh" in code and "/kaggle/working" in code


def test_runtime_pins_are_the_lock_pins_without_dev_tools():
    pins = {p.name: p.version for p in runtime_pins(REPO / "requirements.lock")}
    assert pins["torch"].startswith("2.13.0") and pins["numpy"] == "2.4.6"
    assert "snakemake" in pins and "batman-package" in pins
    assert not {"pytest", "ruff", "dvc", "cyclonedx-bom", "snakefmt", "import-linter"} & set(pins)
