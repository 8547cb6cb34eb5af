"""The import contracts (pyproject.toml [tool.importlinter], run by `lint-imports`).

They hold on the package, they cover every module, and each one breaks when a forbidden import
is added to a copy of the package (real lint-imports on the copy, not a model of it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "spectramind"
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def contracts() -> dict[str, dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    # Folders of Python modules (resources/ holds data files only).
    names |= {p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    return names


def lint_imports(src: Path, *contract_ids: str) -> subprocess.CompletedProcess:
    """lint-imports with the repository's contracts on the package under ``src``."""
    cmd = [LINT_IMPORTS, "--no-cache", "--config", str(REPO / "pyproject.toml")]
    for contract_id in contract_ids:
        cmd += ["--contract", contract_id]
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(cmd, cwd=src, capture_output=True, text=True, env=env)


def test_contracts_hold_on_the_package():
    proc = lint_imports(REPO / "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(contracts())} kept, 0 broken" in proc.stdout


def test_every_folder_is_a_regular_package():
    """grimp skips a folder without __init__.py: its modules would escape every contract."""
    for folder in PACKAGE.rglob("*"):
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
            assert (folder / "__init__.py").is_file(), f"{folder} has no __init__.py"


def test_every_module_is_layered_and_fenced():
    layered = [
        name.strip(" ()")
        for layer in contracts()["layers"]["layers"]
        for name in layer.replace(":", "|").split("|")
    ]
    runtime = top_level_modules() - {"oracles", "__main__"}
    assert sorted(layered) == sorted(runtime), "every module in exactly one layer"
    fenced = contracts()["no-truth-in-stages"]["source_modules"]
    sources = {m.removeprefix("spectramind.") for m in fenced}
    # The simulator writes its own truth; "simulator-fenced" keeps every stage away from it.
    assert sources == top_level_modules() - {"oracles", "simulate"}


def test_every_physics_module_has_its_layer():
    layered = {
        name.strip()
        for layer in contracts()["physics-fit-layers"]["layers"]
        for name in layer.split("|")
    }
    modules = {p.stem for p in (PACKAGE / "physics").glob("*.py")} - {"__init__"}
    assert layered == modules, "a new physics module needs its place in physics-fit-layers"


VIOLATIONS = [
    # (module file, line appended, the contract it must break)
    ("calibrate/pipeline.py", "from spectramind.oracles import ceiling", "no-truth-in-stages"),
    # inside a function, and through the simulator's package: still caught
    (
        "model/train.py",
        "def _peek():\n    from spectramind.simulate import planet_truth\n",
        "no-truth-in-stages",
    ),
    ("metric.py", "from spectramind.simulate import constants", "simulator-fenced"),
    ("data/reader.py", "from spectramind.model import net", "layers"),
    ("physics/fit.py", "import spectramind.calibrate.pipeline", "layers"),
    # the white-light stage reaching up to the visit that runs it
    ("physics/white_light.py", "import spectramind.physics.visit", "physics-fit-layers"),
    ("report.py", "import argparse", "only-commands-parse-arguments"),
]


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(PACKAGE, src / "spectramind", ignore=shutil.ignore_patterns("__pycache__"))
    return src


@pytest.mark.parametrize(("module", "line", "contract"), VIOLATIONS, ids=lambda v: str(v)[:40])
def test_a_forbidden_import_breaks_its_contract(package_copy, module, line, contract):
    assert lint_imports(package_copy, contract).returncode == 0  # the copy holds before
    path = package_copy / "spectramind" / module
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original + "\n" + line + "\n", encoding="utf-8")
        proc = lint_imports(package_copy, contract)
    finally:
        path.write_text(original, encoding="utf-8")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "BROKEN" in proc.stdout and contracts()[contract]["name"] in proc.stdout
    imported = line.split()[1] if line.startswith(("import", "from")) else "spectramind.simulate"
    assert imported in proc.stdout, proc.stdout


@pytest.mark.parametrize("path", [".ci/run", ".github/workflows/ci.yml", ".pre-commit-config.yaml"])
def test_ci_and_pre_commit_run_the_contracts(path):
    assert "lint-imports --no-cache" in (REPO / path).read_text(encoding="utf-8")


def _doc_layers(heading: str) -> list[str]:
    """The backticked module column of the table under ``heading`` in docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = text[text.index(heading) :].split("\n\n")[0].splitlines()[2:]
    layers = []
    for row in rows:
        cells = row.strip().removeprefix("|").removesuffix("|").split(" | ")
        cell = next(c for c in cells if c.strip().startswith("`"))
        layers.append(cell.strip().strip("`").replace("\\|", "|"))
    return layers


@pytest.mark.parametrize(
    ("heading", "contract"),
    [("| layer (top to bottom)", "layers"), ("| layer | modules", "physics-fit-layers")],
)
def test_the_architecture_doc_shows_the_contracts_layers(heading, contract):
    def normal(layer: str) -> str:
        return " | ".join(m.strip() for m in layer.split("|"))

    assert [normal(x) for x in _doc_layers(heading)] == [
        normal(x) for x in contracts()[contract]["layers"]
    ]
