"""Same bytes on any x86-64 CPU: every numeric stage under this CPU and an emulated lower one.

The lower profile (spectramind.repro.cpu.PROFILES) makes numpy, torch, OpenBLAS, MKL, oneDNN and
glibc's libm choose the kernels of a CPU without AVX2/FMA, and runs two threads. The stages run
as real `spectramind` commands in fresh processes (the kernel pin applies at process start),
each pair side by side. With the pin off the same pairs must differ on a CPU that has AVX2 and
FMA: that shows the emulation reaches the libraries, so the comparisons can fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from spectramind.data import layout
from spectramind.io import save_arrays
from spectramind.oracles import synthetic_light_curves as synthetic
from spectramind.oracles.synthetic_fits import write_synthetic_set
from spectramind.repro.cpu import (
    PINNED_KERNELS,
    PROFILES,
    pin_problems,
    pinned_environment,
)

LOWER = PROFILES["lower"]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


# Without AVX2 and FMA this machine already is the lower profile: nothing to tell apart.
EMULATION_DIFFERS = {"avx2", "fma"} <= _cpu_flags()


def env_for(profile: str, pin: bool = True) -> dict[str, str]:
    """A clean environment for a stage command under ``profile`` (pin on or off)."""
    emulated = set(LOWER["env"])
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in emulated and k != "GLIBC_TUNABLES" and not k.startswith("SPECTRAMIND_")
    }
    # conftest pinned this process; the stages must pin (or not) by themselves.
    for name in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "OPENBLAS_CORETYPE"):
        env.pop(name, None)
    env.update(PROFILES[profile]["env"])
    threads = str(PROFILES[profile]["threads"])
    env.update(SPECTRAMIND_THREADS=threads, OMP_NUM_THREADS=threads)
    env.update(OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    if not pin:
        env["SPECTRAMIND_CPU_PIN"] = "0"
    return env


def run_pair(make_args, cwd: Path, pin: bool = True) -> dict[str, bytes]:
    """Run ``spectramind <make_args(profile)>`` under native and lower side by side; return
    the bytes of each run's output (the last argument)."""
    procs = {}
    for profile in ("native", "lower"):
        args = make_args(profile)
        procs[profile] = (
            args[-1],
            subprocess.Popen(
                [sys.executable, "-m", "spectramind", "-q", *args],
                cwd=cwd,
                env=env_for(profile, pin),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
    out = {}
    for profile, (path, proc) in procs.items():
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{profile}: {stderr}"
        out[profile] = (cwd / path).read_bytes()
    return out


def test_pin_overrides_kernel_choices_and_merges_lists():
    env = pinned_environment(
        {
            "OPENBLAS_CORETYPE": "SkylakeX",
            "ATEN_CPU_CAPABILITY": "avx512",
            "NPY_DISABLE_CPU_FEATURES": "X86_V3",
            "GLIBC_TUNABLES": "glibc.malloc.check=1:glibc.cpu.hwcaps=-AVX2",
        }
    )
    assert env["OPENBLAS_CORETYPE"] == "Nehalem" and env["ATEN_CPU_CAPABILITY"] == "default"
    assert env["MKL_CBWR"] == "COMPATIBLE,STRICT"
    assert env["NPY_DISABLE_CPU_FEATURES"] == "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.check=1:glibc.cpu.hwcaps=-AVX2,-FMA,-FMA4"
    assert pinned_environment({"SPECTRAMIND_CPU_PIN": "0", "MKL_CBWR": "AVX2"}) == {
        "SPECTRAMIND_CPU_PIN": "0",
        "MKL_CBWR": "AVX2",
    }


PROBE = """
import json, sys
from spectramind.repro.cpu import effective_kernels
import numpy, scipy.linalg, torch
numpy.linalg.qr(numpy.eye(3)); torch.ones(3, 3) @ torch.ones(3, 3)
print(json.dumps(effective_kernels()))
"""


def probe(env: dict[str, str]) -> dict:
    """Kernels of a fresh `spectramind`-like process: the CLI pins, then restarts once."""
    code = "from spectramind.repro.cpu import *; import os, sys\n"
    code += "if needs_restart(pin_environment()):\n"
    code += "    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])\n"
    proc = subprocess.run(
        [sys.executable, "-c", code + PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def test_pinned_kernels_hold_under_the_lower_profile_and_the_emulation_is_real():
    kernels = probe(env_for("lower"))
    assert {k: kernels[k] for k in PINNED_KERNELS} == PINNED_KERNELS
    assert kernels["numpy_dispatch"] == []  # the profile took numpy's AVX2 loops away
    assert kernels["libm_fma_masked"] is True and pin_problems(kernels) == []
    native = probe(env_for("native"))
    assert {k: native[k] for k in PINNED_KERNELS} == PINNED_KERNELS
    unpinned = probe(env_for("lower", pin=False))
    assert unpinned["openblas_core_numpy"] == "Sandybridge"  # the emulation reaches OpenBLAS
    assert "the CPU kernel pin is off (SPECTRAMIND_CPU_PIN=0)" in pin_problems(unpinned)


def test_calibrate_same_bytes_under_the_lower_profile_even_unpinned(tiny_dataset, tmp_path):
    planet = sorted(p.name for p in (tiny_dataset / "train").iterdir() if p.is_dir())[0]

    def args(profile: str, name: str) -> list[str]:
        return [
            "calibrate", "--data-dir", str(tiny_dataset), "--split", "train",
            "--planet", planet, "--visit", "0", "--out", f"{name}-{profile}.npz",
        ]  # fmt: skip

    pinned = run_pair(lambda p: args(p, "pinned"), tmp_path)
    assert pinned["native"] == pinned["lower"]
    # Invariant by computation too (fixed-order numpy sums, no BLAS), not only by the pin.
    unpinned = run_pair(lambda p: args(p, "unpinned"), tmp_path, pin=False)
    assert unpinned["native"] == unpinned["lower"] == pinned["native"]


def _synthetic_visit(tmp_path: Path, planet_id: int = 7) -> tuple[Path, Path]:
    """A calibrated visit drawn from batman (enough time bins for the full fit path)."""
    truth = synthetic.make_truth()
    lc = synthetic.make_visit(truth, n_bins=300, relative_noise=2e-3, seed=8, planet_id=planet_id)
    visit = tmp_path / "calibrated" / f"{planet_id}_0.npz"
    arrays = {k: getattr(lc, k) for k in ("time_h", "flux", "flux_err", "quality", "regressors")}
    meta = {"planet_id": planet_id, "split": "train", "visit": 0, "regressor_names": ["jitter"]}
    save_arrays(visit, arrays, meta)
    star = truth.star_info()
    star_csv = tmp_path / layout.STAR_INFO_CSV["train"]
    values = [str(planet_id)] + [repr(star[n]) for n in layout.STAR_INFO_COLUMNS[1:]]
    star_csv.write_text(",".join(layout.STAR_INFO_COLUMNS) + "\n" + ",".join(values) + "\n")
    # the fit reads the dataset's wavelengths beside the star info (here the documented grid)
    grid = ",".join(repr(float(v)) for v in layout.target_wavelengths_um())
    (tmp_path / layout.WAVELENGTHS_CSV).write_text(",".join(layout.WL_COLUMNS) + "\n" + grid + "\n")
    return visit, star_csv


def test_fit_same_bytes_under_the_lower_profile_and_differs_unpinned(tmp_path):
    visit, star_csv = _synthetic_visit(tmp_path)

    def args(profile: str) -> list[str]:
        return [
            "fit", "--calibrated", str(visit), "--star-info", str(star_csv),
            "--planet", "7", "--out", f"{profile}.npz",
        ]  # fmt: skip

    pinned = run_pair(args, tmp_path)
    assert pinned["native"] == pinned["lower"]
    if EMULATION_DIFFERS:  # OpenBLAS kernels and libm's FMA variants change the fit
        unpinned = run_pair(args, tmp_path, pin=False)
        assert unpinned["native"] != unpinned["lower"]


def test_train_and_predict_same_bytes_under_the_lower_profile(tmp_path):
    data = write_synthetic_set(tmp_path / "set", 40, seed=5)
    config = tmp_path / "train.yaml"
    config.write_text("max_epochs: 20\npatience: 10\n", encoding="utf-8")
    fits = sorted(str(p) for p in data.features_dir.glob("*.npz"))

    def train(profile: str) -> list[str]:
        return [
            "train", "--features", *fits, "--labels", str(data.labels_csv),
            "--star-info", str(data.star_info_csv), "--config", str(config), "--seed", "4",
            "--device", "cpu", "--out", f"{profile}.pt",
        ]  # fmt: skip

    checkpoints = run_pair(train, tmp_path)
    assert checkpoints["native"] == checkpoints["lower"]
    predictions = run_pair(
        lambda profile: [
            "predict", "--ckpt", "native.pt", "--features", *fits,
            "--star-info", str(data.star_info_csv), "--device", "cpu",
            "--out", f"{profile}.npz",
        ],
        tmp_path,
    )  # fmt: skip
    assert predictions["native"] == predictions["lower"]
    if EMULATION_DIFFERS:  # torch's AVX2 kernels, MKL and oneDNN paths change the weights
        unpinned = run_pair(lambda p: [*train(p)[:-1], f"unpinned-{p}.pt"], tmp_path, pin=False)
        assert unpinned["native"] != unpinned["lower"]


def test_cpu_profile_prints_an_environment_to_eval():
    proc = subprocess.run(
        [sys.executable, "-m", "spectramind", "cpu-profile", "lower"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith("#")]
    assert lines == [f"export {k}={v}" if " " not in v else f"export {k}='{v}'"
                     for k, v in LOWER["env"].items()]  # fmt: skip
    assert "threads=2" in proc.stdout.splitlines()[0]
    bad = subprocess.run(
        [sys.executable, "-m", "spectramind", "cpu-profile", "pentium"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "unknown CPU profile 'pentium'" in bad.stderr
