"""Train here, submit on Kaggle (issue 16): a wheel install runs the workflow in any folder,
predict-only mode uses a verified checkpoint and never writes into data_dir, and an offline
bundle reproduces the development environment's submission byte for byte with the network cut.

The module trains once: the tiny workflow run from a wheel install in an empty folder
(``wheel_run``); the predict-only tests and the rehearsal reuse its checkpoint and data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_helpers import TINY_OVERLAY, environment

from spectramind.bundle import BUNDLE_JSON, NOTEBOOK, build_project_wheel
from spectramind.submission import validate_submission_csv

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
SUBMISSION = Path("artifacts/submission/submission.csv")
TINY_OVERLAY_ARG = f"--configfile={TINY_OVERLAY}"


def venv_env(venv: Path) -> dict[str, str]:
    env = environment()
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env["PATH"]])
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 900):
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def tree_state(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, size, mtime and content hash."""
    state = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        state[path.relative_to(root).as_posix()] = (stat.S_IFMT(st.st_mode), st.st_size, digest)
        state[path.relative_to(root).as_posix() + "@mtime"] = st.st_mtime_ns
    return state


def run_records(runs: Path) -> list[dict]:
    """Every line of every events.jsonl under a runs root."""
    return [
        json.loads(line)
        for events in sorted(runs.glob("*/*/events.jsonl"))
        for line in events.read_text().splitlines()
    ]


def workflow_run(venv: Path, *args) -> list:
    """``spectramind workflow run --cores 2 ARGS`` of the wheel install."""
    return [venv / "bin" / "spectramind", "workflow", "run", "--cores", "2", *args]


def kaggle_input(dataset: Path, dest: Path) -> Path:
    """The test side of a dataset (no train split, no labels), read-only."""
    shutil.copytree(
        dataset, dest, ignore=shutil.ignore_patterns("train", "train.csv", "train_star_info.csv")
    )
    for path in [dest, *dest.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return dest


def make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the project installed from its built wheel (not editable). Its
    dependencies come from this environment's site-packages through a .pth line (no network);
    the package itself, data files included, only from the wheel."""
    import site

    root = tmp_path_factory.mktemp("wheel")
    wheel = build_project_wheel(REPO, root / "dist", epoch=0)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
    subprocess.run([*pip, "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    (purelib,) = (venv / "lib").glob("python3*/site-packages")
    (purelib / "_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


@pytest.fixture(scope="module")
def wheel_run(wheel_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny workflow (simulate -> ... -> submit) from the wheel install, in an empty folder
    whose path has a space."""
    work = tmp_path_factory.mktemp("outside") / "empty folder"
    work.mkdir()
    proc = run(
        workflow_run(wheel_venv, "--configfile", TINY_OVERLAY),
        work,
        venv_env(wheel_venv),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_wheel_install_runs_tiny_workflow_outside_checkout(wheel_venv: Path, wheel_run: Path):
    probe = "import spectramind.assets as a; print(a.__file__); print(a.snakefile())"
    out = run([wheel_venv / "bin" / "python", "-c", probe], wheel_run, venv_env(wheel_venv))
    module, snakefile = out.stdout.split()
    # The package and its workflow files come from the venv, not the checkout.
    assert module.startswith(str(wheel_venv)) and snakefile.startswith(str(wheel_venv))
    assert not Path(snakefile).is_symlink()
    validate_submission_csv(wheel_run / SUBMISSION)
    assert (wheel_run / "artifacts/metrics/score.json").is_file()
    records = run_records(wheel_run / "artifacts/runs")
    assert {r["stage"] for r in records} >= {"simulate", "train", "predict", "submit"}
    # Every job ran the installed package in the empty folder (no checkout, so no commit).
    assert {r["workdir"] for r in records} == {str(wheel_run)}
    assert {r["git_commit"] for r in records} == {None}


def export_model(wheel_venv: Path, wheel_run: Path, out: Path) -> Path:
    proc = run(
        [wheel_venv / "bin" / "spectramind", "export-model", "--out", out],
        wheel_run,
        venv_env(wheel_venv),
    )
    assert proc.returncode == 0, proc.stderr
    return out / "model.pt"


def test_predict_only_read_only_data_writes_nothing_there(
    wheel_venv: Path, wheel_run: Path, tmp_path: Path
):
    model = export_model(wheel_venv, wheel_run, tmp_path / "shipped model")
    data = kaggle_input(wheel_run / "data/synthetic", tmp_path / "input ro" / "adc")
    before = tree_state(data.parent)
    bundle_json = tmp_path / BUNDLE_JSON
    bundle_json.write_text(json.dumps({"git_commit": "ab" * 20, "git_dirty": False}))
    env = {**venv_env(wheel_venv), "SPECTRAMIND_BUNDLE": str(bundle_json)}
    work = tmp_path / "work"
    work.mkdir()
    try:
        proc = run(
            workflow_run(
                wheel_venv,
                *("--configfile", model.parent / "config-snapshot.yaml"),
                *("--config", f"data_dir={data}", f"model={model}"),
            ),
            work,
            env,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert tree_state(data.parent) == before
    finally:
        make_writable(data.parent)
    # Same checkpoint, same test planets: the training run's submission, byte for byte.
    assert (work / SUBMISSION).read_bytes() == (wheel_run / SUBMISSION).read_bytes()
    stages = {p.parent.parent.name for p in (work / "artifacts/runs").glob("*/*/events.jsonl")}
    assert stages == {"calibrate", "fit", "import_model", "predict", "submit"}
    records = run_records(work / "artifacts/runs")
    # No git here: every record takes the commit from BUNDLE.json and names that file's hash.
    assert {r["git_commit"] for r in records} == {"ab" * 20}
    digest = hashlib.sha256(bundle_json.read_bytes()).hexdigest()
    assert {r["bundle"]["sha256"] for r in records} == {digest}
    imported = next(r for r in records if r["stage"] == "import_model" and r["status"] == "ok")
    assert imported["artifacts"][0]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()


def test_predict_only_refuses_a_checkpoint_its_record_does_not_vouch_for(
    wheel_venv: Path, wheel_run: Path, tmp_path: Path
):
    model = export_model(wheel_venv, wheel_run, tmp_path / "model")
    data = wheel_run / "data/synthetic"
    env = venv_env(wheel_venv)
    base = [wheel_venv / "bin" / "spectramind", "workflow", "run", "--cores", "1", "-n"]
    base += ["--configfile", model.parent / "config-snapshot.yaml"]
    ok = run([*base, "--config", f"data_dir={data}", f"model={model}"], tmp_path, env)
    assert ok.returncode == 0, ok.stderr[-2000:]
    # A science setting differing from the training run's is refused, naming the key.
    other_seed = run(
        [*base, "--config", f"data_dir={data}", f"model={model}", "seed=7"], tmp_path, env
    )
    assert other_seed.returncode != 0 and "config key seed" in other_seed.stderr
    # Predict-only needs data to predict.
    no_data = run([*base, "--config", f"model={model}"], tmp_path, env)
    assert no_data.returncode != 0 and "needs data_dir" in no_data.stderr
    # One flipped byte in the checkpoint: refused before any job, naming file and hashes.
    body = bytearray(model.read_bytes())
    body[len(body) // 2] ^= 1
    model.write_bytes(bytes(body))
    bad = run([*base, "--config", f"data_dir={data}", f"model={model}"], tmp_path, env)
    assert bad.returncode != 0
    assert str(model) in bad.stderr and "sha256" in bad.stderr
    imported = run(
        [wheel_venv / "bin" / "spectramind", "import-model", "--ckpt", model, "--out", "x.pt"],
        tmp_path,
        env,
    )
    assert imported.returncode != 0 and not (tmp_path / "x.pt").exists()
    # A missing training record is named too.
    body[len(body) // 2] ^= 1
    model.write_bytes(bytes(body))
    (model.parent / "training-record.json").unlink()
    missing = run([*base, "--config", f"data_dir={data}", f"model={model}"], tmp_path, env)
    assert missing.returncode != 0 and "training-record.json" in missing.stderr


def require_sandbox() -> None:
    """Skip where the rehearsal cannot run (not root: a developer's machine); as root (CI) a
    missing ``unshare`` or namespace support is a failure, not a skip, so a green CI run
    means the rehearsal ran with the network cut."""
    if os.geteuid() != 0:
        pytest.skip("the rehearsal needs root for unshare --net --mount (CI runs as root)")
    assert shutil.which("unshare"), "unshare (util-linux) is not installed: .ci/run installs it"
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "true"], check=False, capture_output=True, text=True
    )
    assert probe.returncode == 0, f"unshare --net --mount fails as root: {probe.stderr.strip()}"


def build_bundle_cli(out: Path, wheel_run: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "spectramind", "bundle", "--out", str(out), "--repo", str(REPO)],
        cwd=wheel_run,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.split()[0]


def test_kaggle_rehearsal_offline(wheel_run: Path, tmp_path: Path):
    """Bundle the wheel run's checkpoint twice (same bytes), then, with the network cut and the
    input mounted read-only, run the bundle's notebook cells: the submission is valid and equal,
    byte for byte, to the one the development environment made with the same checkpoint."""
    import nbformat

    require_sandbox()
    first = build_bundle_cli(tmp_path / "bundle one", wheel_run)
    second = build_bundle_cli(tmp_path / "bundle two", wheel_run)
    assert first == second
    assert tree_state(tmp_path / "bundle one") == tree_state(tmp_path / "bundle two")
    bundle = tmp_path / "bundle one"
    info = json.loads((bundle / BUNDLE_JSON).read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    assert info["git_commit"] == head.stdout.strip()
    ckpt = (wheel_run / "artifacts/ckpt/model.pt").read_bytes()
    assert info["checkpoint_sha256"] == hashlib.sha256(ckpt).hexdigest()
    # Runtime only: no test, lint or SBOM tooling in the wheelhouse.
    shipped = {Path(e["path"]).name.split("-")[0].lower() for e in info["files"]}
    assert {"torch", "snakemake", "spectramind"} <= shipped
    assert not shipped & {"pytest", "ruff", "dvc", "cyclonedx_bom", "snakefmt", "import_linter"}
    nbformat.validate(nbformat.read(bundle / NOTEBOOK, as_version=4))

    kaggle = tmp_path / "kaggle"
    data = kaggle_input(wheel_run / "data/synthetic", kaggle / "input/ariel-data-challenge-2025")
    shutil.copytree(bundle, kaggle / "input/spectramind-bundle")
    working = kaggle / "working"
    working.mkdir()
    before = tree_state(kaggle / "input")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "SPECTRAMIND_INPUT_DIR": str(data),
        "SPECTRAMIND_WORKING_DIR": str(working),
        "SPECTRAMIND_BUNDLE_DIR": str(kaggle / "input/spectramind-bundle"),
        "SPECTRAMIND_VENV": str(tmp_path / "kaggle venv"),
        "SPECTRAMIND_PYTHON": sys._base_executable,
        "SPECTRAMIND_CORES": "2",
    }
    mount_ro = 'mount --bind -- "$1" "$1" && mount -o remount,bind,ro -- "$1" && shift && exec "$@"'
    driver = Path(__file__).with_name("kaggle_rehearsal_driver.py")
    notebook = kaggle / "input/spectramind-bundle" / NOTEBOOK
    try:
        proc = subprocess.run(
            [
                "unshare",
                "--net",
                "--mount",
                "--",
                "bash",
                "-c",
                mount_ro,
                "-",
                str(kaggle / "input"),
                sys._base_executable,
                str(driver),
                str(notebook),
                str(data),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        sys.stdout.write(proc.stdout[-4000:])
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        assert "network interfaces ['lo']" in proc.stdout
        assert tree_state(kaggle / "input") == before
    finally:
        make_writable(kaggle / "input")
    submission = working / "submission.csv"
    validate_submission_csv(submission)
    assert submission.read_bytes() == (wheel_run / SUBMISSION).read_bytes()
    records = run_records(working / "spectramind/artifacts/runs")
    assert {r["git_commit"] for r in records} == {info["git_commit"]}
    assert {r["bundle"]["sha256"] for r in records} == {first}
    # The CPU kernel pin (a restart with GLIBC_TUNABLES) held in the wheel install's jobs.
    ok = [r for r in records if r["status"] == "ok"]
    assert ok and all(r["extra"]["cpu_kernels"]["pin"] is True for r in ok)
