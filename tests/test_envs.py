"""The per-rule conda environments agree with the package's pins (pyproject.toml)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}
NOT_PYTHON_PACKAGES = {"python", "pip"}


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        name, version = requirement.split("==")
        pins[name.split("[")[0].lower()] = version  # drop extras: snakemake[reports]
    return pins


def env_files() -> list[Path]:
    return sorted((ROOT / "envs").glob("*.yaml"))


def conda_specs(env_file: Path) -> list[str]:
    env = yaml.safe_load(env_file.read_text())
    return [dep for dep in env["dependencies"] if isinstance(dep, str)]


def test_there_are_environments():
    assert {p.stem for p in env_files()} >= {"simulate", "calibrate", "fit", "train", "submit"}


@pytest.mark.parametrize("env_file", env_files(), ids=lambda p: p.stem)
def test_env_pins_are_exact_and_match_pyproject(env_file):
    pins = pyproject_pins()
    for spec in conda_specs(env_file):
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)=([0-9][^=\s]*)", spec)
        assert match, f"{env_file.name}: {spec!r} is not an exact name=version pin"
        name, version = match.groups()
        if name in NOT_PYTHON_PACKAGES:
            continue
        pypi_name = CONDA_TO_PYPI.get(name, name)
        assert pypi_name in pins, f"{env_file.name}: {name} is not a declared dependency"
        pinned = pins[pypi_name]
        assert pinned == version, (
            f"{env_file.name}: {name}={version} but pyproject.toml pins {pypi_name}=={pinned}"
        )


@pytest.mark.parametrize("env_file", env_files(), ids=lambda p: p.stem)
def test_pin_file_matches_env(env_file):
    pin_file = env_file.with_name(f"{env_file.stem}.linux-64.pin.txt")
    assert pin_file.is_file(), f"missing {pin_file.name}"
    pinned = [
        line.strip()
        for line in pin_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    expected = conda_specs(env_file)
    assert pinned == expected


def test_every_rule_names_an_existing_env():
    rules_dir = ROOT / "workflow" / "rules"
    for smk in rules_dir.glob("*.smk"):
        text = smk.read_text()
        n_rules = len(re.findall(r"^(?:rule|checkpoint) \w+:", text, flags=re.M))
        envs = re.findall(r'conda:\s*\n\s*"([^"]+)"', text)
        assert len(envs) == n_rules, f"{smk.name}: {n_rules} rules but {len(envs)} conda envs"
        for env in envs:
            assert (smk.parent / env).resolve().is_file(), f"{smk.name}: missing {env}"
