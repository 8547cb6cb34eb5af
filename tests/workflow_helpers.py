"""Run the real Snakemake workflow in a temporary copy of the repository (tests and benchmarks).

``copy_workflow(dest)`` copies what a run needs (Snakefile, workflow/, config/, schemas/, envs/,
profiles/, tests/workflow_tiny.yaml); ``snakemake(workdir, *args)`` runs it with the installed
package on PATH and without inherited ``SPECTRAMIND_*`` variables (a pinned run id would merge
runs). ``placeholder_tree(root, n_train, ...)`` writes an empty-file dataset in the exact ADC 2025
layout for dry runs.

About ``scontrol``: snakemake imports every installed executor plugin at start-up, and the SLURM
plugin (2.8.0) runs ``scontrol show config`` while its module loads. Where slurm-client is
installed but no controller answers (this machine, after the SLURM cluster test), that call
blocks ~9 s on every ``snakemake`` invocation, local or not. ``no_slurm_probe=True`` (the
default) puts a stand-in ``scontrol`` that exits 1 first on PATH, which the plugin treats as "no
SLURM here"; nothing in the workflow itself is replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "schemas", "envs", "profiles")
#: The smallest config the workflow runs end to end on (tests): 4 train + 1 test planets.
TINY_OVERLAY = REPO / "tests" / "workflow_tiny.yaml"

_NO_SLURM = Path(tempfile.gettempdir()) / "spectramind-no-scontrol"


def copy_workflow(dest: Path, git: bool = False) -> Path:
    """Copy the workflow files into ``dest`` (created); optionally make it a git repository."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    (dest / "tests").mkdir(exist_ok=True)
    shutil.copy2(TINY_OVERLAY, dest / "tests" / TINY_OVERLAY.name)
    if git:
        # A throwaway repository of the copy, so records carry a real git_commit.
        run = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
        subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
        (dest / ".gitignore").write_text("/data/\n/artifacts/\n/logs/\n.snakemake/\n*.truth.csv\n")
        subprocess.run([*run, "add", "-A"], cwd=dest, check=True)
        subprocess.run([*run, "commit", "-q", "-m", "workflow copy"], cwd=dest, check=True)
    return dest


def environment(no_slurm_probe: bool = True) -> dict[str, str]:
    """The environment for snakemake: venv bin first on PATH, no SPECTRAMIND_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    path = [str(Path(sys.executable).parent), env.get("PATH", "")]
    if no_slurm_probe:
        _NO_SLURM.mkdir(exist_ok=True)
        stand_in = _NO_SLURM / "scontrol"
        if not stand_in.exists():
            stand_in.write_text("#!/bin/sh\nexit 1\n")
            stand_in.chmod(0o755)
        path.insert(0, str(_NO_SLURM))
    env["PATH"] = os.pathsep.join(path)
    return env


def snakemake(
    workdir: Path,
    *args: str,
    cores: int = 2,
    timeout: float = 900,
    no_slurm_probe: bool = True,
) -> subprocess.CompletedProcess:
    """``snakemake --cores N ARGS`` in ``workdir`` (the workflow profile applies)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores), *args],
        cwd=workdir,
        env=environment(no_slurm_probe),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spectramind(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spectramind", *args],
        cwd=workdir,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def placeholder_tree(
    root: Path,
    n_train: int,
    n_test: int = 1,
    second_visit_every: int = 10,
) -> Path:
    """Empty files in the exact ADC 2025 layout: ``n_train`` + ``n_test`` planets.

    Every ``second_visit_every``-th planet has a second visit (about 10% as in the real data).
    Enough for ``snakemake -n``; nothing can read the files.
    """
    from spectramind.data import layout

    def planets(split: str, count: int, first: int) -> Iterable[tuple[str, int, list[int]]]:
        for i in range(count):
            visits = [0, 1] if i % second_visit_every == 0 else [0]
            yield split, first + 7919 * i, visits

    for split, planet_id, visits in [
        *planets("train", n_train, 1_000_000),
        *planets("test", n_test, 90_000_000),
    ]:
        for visit in visits:
            for instrument in (layout.AIRS, layout.FGS):
                signal = layout.signal_path(root, split, planet_id, instrument, visit)
                signal.parent.mkdir(parents=True, exist_ok=True)
                signal.touch()
                for name in layout.CALIBRATION_MAPS:
                    path = layout.calibration_path(root, split, planet_id, instrument, visit, name)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
    for name in (
        layout.LABELS_CSV,
        *layout.STAR_INFO_CSV.values(),
        layout.WAVELENGTHS_CSV,
        layout.AXIS_INFO_PARQUET,
        layout.ADC_INFO_CSV,
        layout.SAMPLE_SUBMISSION_CSV,
    ):
        (root / name).touch()
    return root


@contextlib.contextmanager
def mounted_tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (mount's ``size=`` option) at the existing folder ``mount``, unmounted
    on exit. Mounting needs root (CI runs as root): the caller skips otherwise."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
