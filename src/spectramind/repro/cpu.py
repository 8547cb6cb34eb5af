"""Same bytes on any x86-64 CPU: pinned kernel paths and the CPU profiles that test them.

Numerical libraries pick their kernels from the CPU they run on: torch (ATen) vectorises for
AVX2 or AVX-512, MKL (inside torch) has one sgemm per instruction set, OpenBLAS (inside numpy
and scipy) one dgemm/LAPACK kernel set per core type, numpy one ufunc loop per SIMD target.
Different kernels sum in different orders and round differently, so the same seed gives other
bytes on another machine. Every ``spectramind`` command therefore pins the kernel choice before
numpy or torch load (:func:`pin_environment`, called first thing by the CLI):

========================  ===================  ==============================================
variable                  pinned to            why
========================  ===================  ==============================================
ATEN_CPU_CAPABILITY       ``default``          torch's portable kernels: no AVX2/AVX-512
                                               lanes, libm transcendental functions
MKL_CBWR                  ``COMPATIBLE,STRICT``  MKL's conditional numerical reproducibility:
                                               one code path on every x86-64, alignment-
                                               and thread-count-independent gemm
OPENBLAS_CORETYPE         ``Nehalem``          one OpenBLAS kernel set (SSE4.2, which numpy
                                               2.4 requires anyway) instead of per-CPU ones
NPY_DISABLE_CPU_FEATURES  += AVX-512 targets   numpy's AVX-512 loops have their own exp/log;
                                               the AVX2 and baseline loops are checked equal
                                               for our outputs by the lower profile
GLIBC_TUNABLES            hwcaps -FMA,-FMA4    glibc's libm has FMA variants of exp, log,
                                               pow, sin, ... that round differently from its
                                               SSE2 ones; keep the SSE2 ones everywhere
========================  ===================  ==============================================

The dynamic loader reads ``GLIBC_TUNABLES`` when a process starts, so the CLI restarts itself
once (:func:`needs_restart`) when the pin changed it. The workflow applies the pin to its own
environment (``workflow/rules/common.smk``), so its jobs start pinned: ``spectramind run-stage``
then runs its stage in-process (:mod:`spectramind.repro.inprocess`) with no restart.

Torch's oneDNN path is switched off and train/predict run one intra-op thread
(:func:`spectramind.repro.determinism.set_deterministic`). ``SPECTRAMIND_CPU_PIN=0`` turns
the pin off (bytes then depend on the CPU; for measuring what the pin buys only).

The pin only takes effect in a process that has not yet run a numpy BLAS or torch kernel:
:func:`effective_kernels` reads back what the loaded libraries really use, so a run can
record it and :func:`pin_problems` can say when the pin came too late.

:data:`PROFILES` are environments that emulate other CPUs on this one (used by
``spectramind determinism-check --cross-cpu`` and the tests): ``lower`` is a pre-Haswell
x86-64 (SSE4.2/AVX, no AVX2, no FMA) to numpy, torch, OpenBLAS, MKL, oneDNN, Arrow and glibc,
with two threads instead of one.

This module imports only the standard library: it must run before numpy and torch load.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import platform
import sys
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Set to ``0`` to leave the kernel choice to the libraries (bytes then depend on the CPU).
PIN_SWITCH = "SPECTRAMIND_CPU_PIN"

#: Variables the pin sets (overriding any value in the environment).
PINNED_VARIABLES: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE,STRICT",
    "OPENBLAS_CORETYPE": "Nehalem",
}
#: glibc CPU features the pin masks (merged into ``GLIBC_TUNABLES=glibc.cpu.hwcaps=...``): with
#: FMA and FMA4 masked, libm's ifuncs pick their SSE2/AVX variants, which round alike.
GLIBC_MASKED_FEATURES = ("FMA", "FMA4")
_HWCAPS = "glibc.cpu.hwcaps"

#: numpy dispatch targets the pin always disables (merged into ``NPY_DISABLE_CPU_FEATURES``;
#: names of numpy 2.4, whose baseline is X86_V2 = SSE4.2).
NUMPY_DISABLED_TARGETS = ("X86_V4", "AVX512_ICL", "AVX512_SPR")

#: What the loaded libraries report when the pin is in effect (see :func:`effective_kernels`).
PINNED_KERNELS: dict[str, str] = {
    "aten_cpu_capability": "DEFAULT",
    "mkl_cbwr_branch": "COMPATIBLE",
    "openblas_core_numpy": "Nehalem",
    "openblas_core_scipy": "Nehalem",
}

#: Emulated CPUs: environment variables and a thread count. ``native`` leaves the machine as it
#: is; ``lower`` looks like an x86-64 without AVX2/FMA/AVX-512 to numpy, torch, OpenBLAS, MKL,
#: oneDNN, Arrow (parquet), numba and glibc's libm, and runs two threads per job.
PROFILES: dict[str, dict[str, Any]] = {
    "native": {"env": {}, "threads": 1},
    "lower": {
        "env": {
            "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
            "ATEN_CPU_CAPABILITY": "default",
            "OPENBLAS_CORETYPE": "Sandybridge",
            "MKL_CBWR": "AUTO",
            "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
            "ONEDNN_MAX_CPU_ISA": "SSE41",
            "ARROW_USER_SIMD_LEVEL": "SSE4_2",
            "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX",
            # numba (calibrate's fused kernel) compiles for this CPU instead of the host; the
            # on-disk cache is keyed by CPU name and features, so it compiles afresh.
            "NUMBA_CPU_NAME": "nehalem",
            "NUMBA_CPU_FEATURES": "+sse,+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,"
            "-avx,-avx2,-fma,-avx512f",
        },
        "threads": 2,
    },
}

_MKL_BRANCHES = {
    0: "OFF", 1: "BRANCH_OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3",
    7: "SSE4_1", 8: "SSE4_2", 9: "AVX", 10: "AVX2", 11: "AVX512_MIC", 12: "AVX512",
    13: "AVX512_MIC_E1", 14: "AVX512_E1",
}  # fmt: skip


def pin_enabled(env: Mapping[str, str] | None = None) -> bool:
    """False when ``SPECTRAMIND_CPU_PIN`` is ``0`` (or ``false``/``no``/``off``)."""
    value = (os.environ if env is None else env).get(PIN_SWITCH, "1").strip().lower()
    return value not in {"0", "false", "no", "off"}


def pin_applies() -> bool:
    """The pin is for x86-64 (the kernels it names exist there); elsewhere it does nothing."""
    return platform.machine().lower() in {"x86_64", "amd64"}


def _with_glibc_mask(tunables: str) -> str:
    """``GLIBC_TUNABLES`` value with :data:`GLIBC_MASKED_FEATURES` added to the hwcaps list."""
    items = [item for item in tunables.split(":") if item]
    for k, item in enumerate(items):
        name, _, value = item.partition("=")
        if name == _HWCAPS:
            caps = [c for c in value.split(",") if c]
            caps += [f"-{f}" for f in GLIBC_MASKED_FEATURES if f"-{f}" not in caps]
            items[k] = f"{_HWCAPS}={','.join(caps)}"
            return ":".join(items)
    items.append(f"{_HWCAPS}={','.join(f'-{f}' for f in GLIBC_MASKED_FEATURES)}")
    return ":".join(items)


def pinned_environment(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` with the kernel pin applied (unchanged when the pin is off)."""
    out = dict(env)
    if not pin_enabled(out) or not pin_applies():
        return out
    out.update(PINNED_VARIABLES)
    disabled = out.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    disabled += [t for t in NUMPY_DISABLED_TARGETS if t not in disabled]
    out["NPY_DISABLE_CPU_FEATURES"] = " ".join(disabled)
    if platform.libc_ver()[0] == "glibc":
        out["GLIBC_TUNABLES"] = _with_glibc_mask(out.get("GLIBC_TUNABLES", ""))
    return out


def pin_environment() -> dict[str, str]:
    """Apply the pin to ``os.environ``; return ``{name: value}`` of what it changed.

    Call before numpy or torch are imported (the CLI does so first thing); later it still
    reaches child processes and any library not yet loaded.
    """
    target = pinned_environment(os.environ)
    changed = {k: v for k, v in target.items() if os.environ.get(k) != v}
    os.environ.update(changed)
    if changed:
        log.debug("CPU kernel pin: %s", changed)
    return changed


def needs_restart(changed: Mapping[str, str]) -> bool:
    """True when :func:`pin_environment` changed what only a new process sees
    (``GLIBC_TUNABLES``, read by the dynamic loader at start-up)."""
    return "GLIBC_TUNABLES" in changed


def profile_environment(name: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) with profile ``name``'s variables set."""
    if name not in PROFILES:
        raise KeyError(f"unknown CPU profile {name!r}; known: {sorted(PROFILES)}")
    env = dict(os.environ if base is None else base)
    env.update(PROFILES[name]["env"])
    return env


def _openblas_core(package: str, pattern: str, symbol: str) -> str | None:
    module = sys.modules.get(package)
    if module is None or not getattr(module, "__file__", None):
        return None
    libs = sorted(glob.glob(os.path.join(os.path.dirname(module.__file__) + ".libs", pattern)))
    if not libs:
        return None
    try:
        get = getattr(ctypes.CDLL(libs[0]), symbol)
    except (OSError, AttributeError):
        return None
    get.restype = ctypes.c_char_p
    return get().decode()


def _mkl_branch() -> str | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        get = ctypes.CDLL(path).mkl_serv_cbwr_get  # exported by torch's static MKL
    except (OSError, AttributeError):
        return None
    get.restype = ctypes.c_int
    branch = int(get(1))  # MKL_CBWR_BRANCH
    return _MKL_BRANCHES.get(branch, str(branch))


def _startup_glibc_tunables() -> str | None:
    """``GLIBC_TUNABLES`` as the loader saw it when this process started (Linux), else None."""
    try:
        with open("/proc/self/environ", "rb") as handle:
            entries = handle.read().split(b"\0")
    except OSError:
        return None
    for entry in entries:
        if entry.startswith(b"GLIBC_TUNABLES="):
            return entry.partition(b"=")[2].decode(errors="replace")
    return ""


def libm_pinned(tunables: str | None) -> bool:
    """True when ``tunables`` (a ``GLIBC_TUNABLES`` value) masks every FMA libm variant."""
    for item in (tunables or "").split(":"):
        name, _, value = item.partition("=")
        if name == _HWCAPS:
            return all(f"-{f}" in value.split(",") for f in GLIBC_MASKED_FEATURES)
    return False


def effective_kernels() -> dict[str, Any]:
    """The kernel paths the already-loaded libraries use (None: library not loaded here).

    Never imports numpy or torch itself. ``aten_cpu_capability`` is fixed by the first torch
    kernel call, ``mkl_cbwr_branch`` by the first MKL call, the OpenBLAS cores when numpy /
    scipy.linalg load; reading them earlier would fix them here.
    """
    out: dict[str, Any] = {"pin": pin_enabled()}
    if platform.libc_ver()[0] == "glibc":
        out["libm_fma_masked"] = libm_pinned(_startup_glibc_tunables())
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

        out["numpy_dispatch"] = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
    out["openblas_core_numpy"] = _openblas_core(
        "numpy", "libscipy_openblas64_*.so", "scipy_openblas_get_corename64_"
    )
    if "scipy.linalg" in sys.modules:
        out["openblas_core_scipy"] = _openblas_core(
            "scipy", "libscipy_openblas-*.so", "scipy_openblas_get_corename"
        )
    if "pyarrow" in sys.modules:  # informational: parquet encoding is lossless at any level
        out["arrow_simd_level"] = sys.modules["pyarrow"].runtime_info().simd_level
    torch = sys.modules.get("torch")
    if torch is not None:
        out["aten_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        out["mkl_cbwr_branch"] = _mkl_branch()
        out["mkldnn_enabled"] = bool(torch.backends.mkldnn.enabled)
        out["torch_threads"] = torch.get_num_threads()
    return out


def pin_problems(kernels: Mapping[str, Any]) -> list[str]:
    """Kernels in ``kernels`` (from :func:`effective_kernels`) that differ from the pin."""
    if not kernels.get("pin", True):
        return ["the CPU kernel pin is off (SPECTRAMIND_CPU_PIN=0)"]
    problems = [
        f"{name} is {kernels[name]}, the pin wants {wanted}"
        for name, wanted in PINNED_KERNELS.items()
        if kernels.get(name) is not None and kernels[name] != wanted
    ]
    avx512 = [t for t in kernels.get("numpy_dispatch") or [] if t in NUMPY_DISABLED_TARGETS]
    if avx512:
        problems.append(f"numpy dispatches to {avx512}, the pin disables them")
    if kernels.get("libm_fma_masked") is False:
        problems.append(
            "glibc's libm uses its FMA variants: GLIBC_TUNABLES was not pinned when this "
            "process started (run through the spectramind command)"
        )
    return problems


def record_kernels() -> dict[str, Any]:
    """Add :func:`effective_kernels` to the stage's manifest record (``extra.cpu_kernels``).

    A no-op outside ``spectramind run-stage``; keeps what the stage put under ``extra``.
    """
    import json

    from spectramind.repro.manifest import ENV_RECORD, contribute

    kernels = effective_kernels()
    target = os.environ.get(ENV_RECORD)
    if not target:
        return kernels
    try:
        with open(target, encoding="utf-8") as handle:
            extra = (json.loads(handle.read() or "{}") or {}).get("extra") or {}
    except (OSError, ValueError):
        extra = {}
    contribute(extra={**extra, "cpu_kernels": kernels})
    return kernels
