"""Determinism guardrails (ADR 0006 layer 5): one call, made by every stage.

Float results on CPU depend on the thread count, so the thread count is pinned explicitly and
recorded; on CUDA, deterministic kernels, no cudnn autotuning and no TF32. On CPU they also
depend on the kernels the libraries pick for the machine: the pin of :mod:`spectramind.repro.cpu`
(applied here too, for callers that bypass the CLI), torch's oneDNN path off, and the kernels
really in use recorded (``kernels``) with a warning when the pin came too late.

Limits worth knowing: BLAS libraries read ``OMP_NUM_THREADS`` & co. when NumPy is first imported,
so setting them here reaches child processes, and numpy's and scipy's loaded OpenBLAS through its
``set_num_threads``; the workflow wrapper (``spectramind run-stage --threads N``) sets them before
the stage starts. ``CUBLAS_WORKSPACE_CONFIG`` must be set
before the first CUDA call, i.e. call this at the start of the stage.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

import numpy as np

from spectramind.repro.cpu import effective_kernels, pin_environment, pin_problems
from spectramind.repro.manifest import contribute

log = logging.getLogger(__name__)

DEFAULT_THREADS = 1
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_WARNED: set[str] = set()


def set_deterministic(
    seed: int, threads: int | None = None, use_torch: bool = True
) -> dict[str, Any]:
    """Seed Python, NumPy and torch; make torch deterministic; pin thread counts.

    The settings are also contributed to the run manifest record when the stage runs under
    ``spectramind run-stage`` (field ``threads``).

    Args:
        seed: the run's seed.
        threads: intra-op threads for torch and BLAS; default ``SPECTRAMIND_THREADS`` or 1.
        use_torch: import and configure torch (stages that never touch torch may skip its
            import cost).

    Returns:
        The settings applied, for the run manifest.
    """
    if threads is None:
        threads = int(os.environ.get("SPECTRAMIND_THREADS", DEFAULT_THREADS))
    pin_environment()  # a no-op after the CLI did it; reaches libraries not yet loaded
    # cuBLAS reads this at handle creation: set before any CUDA work.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    os.environ["PYTHONHASHSEED"] = str(seed)  # affects child processes only
    for name in _THREAD_VARIABLES:
        # Explicit, not setdefault: a stale inherited value must not contradict ``threads``.
        os.environ[name] = str(threads)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - legacy global state some libraries use
    settings: dict[str, Any] = {
        "seed": seed,
        "threads": threads,
        "CUBLAS_WORKSPACE_CONFIG": os.environ["CUBLAS_WORKSPACE_CONFIG"],
        **{name: os.environ[name] for name in _THREAD_VARIABLES},
    }
    if use_torch:
        import torch

        torch.manual_seed(seed)  # seeds every CUDA device too
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        # oneDNN picks its kernels per CPU (and ignores MKL_CBWR); without it float32 matmuls
        # go to MKL, whose code path the pin fixes.
        torch.backends.mkldnn.enabled = False
        settings.update(
            torch_threads=torch.get_num_threads(),
            torch_deterministic=torch.are_deterministic_algorithms_enabled(),
            cudnn_benchmark=torch.backends.cudnn.benchmark,
            cudnn_deterministic=torch.backends.cudnn.deterministic,
            tf32=torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32,
            float32_matmul_precision=torch.get_float32_matmul_precision(),
        )
    set_blas_threads(threads)
    settings["kernels"] = effective_kernels()
    for problem in sorted(set(pin_problems(settings["kernels"])) - _WARNED):
        _WARNED.add(problem)  # once per process, not once per call
        log.warning("CPU kernels not pinned (outputs may differ on another CPU): %s", problem)
    log.debug("determinism settings: %s", settings)
    contribute(threads=settings)
    return settings


def set_blas_threads(threads: int) -> None:
    """Set the thread count of the OpenBLAS libraries numpy and scipy already loaded.

    ``OPENBLAS_NUM_THREADS`` is read when the library loads; this reaches a loaded one. The
    physics fit calls it with 1: OpenBLAS splits some of its reductions across threads, so its
    bytes would depend on the thread count (tests/test_cross_cpu.py, two threads under ``lower``).
    """
    import ctypes
    import glob
    import sys

    for package, pattern, symbol in (
        ("numpy", "libscipy_openblas64_*.so", "scipy_openblas_set_num_threads64_"),
        ("scipy", "libscipy_openblas-*.so", "scipy_openblas_set_num_threads"),
    ):
        module = sys.modules.get(package)
        if module is None or not getattr(module, "__file__", None):
            continue
        for path in glob.glob(os.path.join(os.path.dirname(module.__file__) + ".libs", pattern)):
            try:
                getattr(ctypes.CDLL(path), symbol)(ctypes.c_int(threads))
            except (OSError, AttributeError):
                log.debug("cannot set the thread count of %s", path)
