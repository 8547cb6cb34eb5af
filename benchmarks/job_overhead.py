"""Per-job overhead of the ``spectramind`` command and its manifest wrapper (issue 15).

Usage: python benchmarks/job_overhead.py [--reps 7] [--reference-rev REV] [--input-mb 256]
                                         [--workspace DIR]

All in one script, interleaved (A, B, C, A, B, C, ...), medians of ``--reps`` runs; the machine
may be shared, so read the ratios, and the load average printed with them:

1. start-up: ``python -c pass`` (the floor: one interpreter), ``spectramind --help`` and the
   import-time breakdown of building the parser (``python -X importtime``; microseconds of CPU,
   less sensitive to load than wall time);
2. a no-op stage (``spectramind cpu-profile --list``: parses, prints, imports nothing heavy)
   bare and through ``spectramind run-stage``: in-process (the default), as a child process
   (``SPECTRAMIND_IN_PROCESS=0``) and, with ``--reference-rev``, the wrapper of that revision
   (its ``src/`` extracted with ``git archive``, run on ``PYTHONPATH``). Jobs of the current
   workflow start with the CPU pin in their environment (workflow/rules/common.smk); the
   reference revision's did not, so it runs as its jobs did, unpinned;
3. input hashing: one ``--input-mb`` file as a calibrate input, hashed (first job) and reused
   (a later job), through the wrapper;
4. with ``--workspace`` (a finished workflow folder): the manifest layer's share of that run,
   from its records' ``overhead_s`` (see docs/reproducibility.md) against the jobs' wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_pin import extract_base  # src/ of a revision, by git archive

from spectramind.repro.audit import all_records
from spectramind.repro.cpu import PINNED_VARIABLES, pinned_environment

REPO = Path(__file__).resolve().parents[1]
RUN_ID = "20250101_000000"
NOOP = ["cpu-profile", "--list"]


def base_environment() -> dict[str, str]:
    """As a shell starts: no SPECTRAMIND_* variables, no CPU pin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    for name in ("GLIBC_TUNABLES", "NPY_DISABLE_CPU_FEATURES", *PINNED_VARIABLES):
        env.pop(name, None)
    # As on a user's machine: Python caches compiled modules (__pycache__). Some sandboxes set
    # PYTHONDONTWRITEBYTECODE=1, which recompiles every spectramind module at every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SPECTRAMIND_RUN_ID"] = RUN_ID
    return env


def wall(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=600)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr.decode()[-3000:]}")
    return elapsed


def interleaved(cases: dict[str, tuple[list[str], dict[str, str]]], reps: int, cwd: Path):
    times: dict[str, list[float]] = defaultdict(list)
    for command, env in cases.values():  # warm the page cache once
        wall(command, env, cwd)
    for _ in range(reps):
        for name, (command, env) in cases.items():
            times[name].append(wall(command, env, cwd))
    return {name: statistics.median(values) for name, values in times.items()}


def import_breakdown(python_path: str | None = None) -> tuple[float, list[tuple[float, str]]]:
    """(total ms, top 8 (cumulative ms, module)) of importing and building the parser."""
    env = dict(os.environ)
    if python_path:
        env["PYTHONPATH"] = python_path
    code = "from spectramind.cli import build_parser; build_parser()"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    top = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        if not name.startswith(" ") or name.startswith("  "):  # top level only
            continue
        top.append((int(parts[1]) / 1000, name.strip()))
    return sum(ms for ms, _ in top), sorted(top, reverse=True)[:8]


def wrapped(stage: str, command: list[str], *options: str) -> list[str]:
    return ["spectramind", "run-stage", "--stage", stage, "--log", f"logs/{stage}.log",
            *options, "--", *command]  # fmt: skip


def startup_and_noop(reps: int, reference: Path | None, scratch: Path) -> None:
    plain = base_environment()
    pinned = pinned_environment(plain)
    cases = {
        "python -c pass": ([sys.executable, "-c", "pass"], plain),
        "spectramind --help": (["spectramind", "--help"], plain),
        "bare no-op (pinned env)": (["spectramind", *NOOP], pinned),
        "wrapped, in-process": (wrapped("noop", ["spectramind", *NOOP]), pinned),
        "wrapped, child process": (
            wrapped("noop", ["spectramind", *NOOP]),
            {**pinned, "SPECTRAMIND_IN_PROCESS": "0"},
        ),
    }
    if reference is not None:
        old = {**plain, "PYTHONPATH": str(reference)}
        cases["reference: spectramind --help"] = (["spectramind", "--help"], old)
        cases["reference: bare no-op (unpinned)"] = (["spectramind", *NOOP], old)
        cases["reference: wrapped (unpinned)"] = (wrapped("noop_ref", ["spectramind", *NOOP]), old)
    medians = interleaved(cases, reps, scratch)
    floor = medians["python -c pass"]
    print(f"\n## start-up and a no-op stage (median of {reps}, interleaved)")
    print(f"{'case':38s} {'wall s':>8s} {'x python -c pass':>17s}")
    for name, value in medians.items():
        print(f"{name:38s} {value:8.3f} {value / floor:17.2f}")
    bare = medians["bare no-op (pinned env)"]
    for case in ("wrapped, in-process", "wrapped, child process"):
        print(f"per-job overhead, {case}: {medians[case] - bare:.3f} s")
    if reference is not None:
        print(
            "per-job overhead, reference wrapper (its jobs' real cost, unpinned): "
            f"{medians['reference: wrapped (unpinned)'] - bare:.3f} s over the bare pinned no-op"
        )
    total, top = import_breakdown()
    print(f"\nimports to build the parser (-X importtime, top level): {total:.1f} ms")
    for ms, name in top:
        print(f"  {ms:8.1f} ms  {name}")
    if reference is not None:
        total, top = import_breakdown(str(reference))
        print(f"reference revision: {total:.1f} ms")
        for ms, name in top[:4]:
            print(f"  {ms:8.1f} ms  {name}")


def hashing(reps: int, input_mb: int, scratch: Path) -> None:
    env = pinned_environment(base_environment())
    raw = scratch / "visit.parquet"
    with open(raw, "wb") as handle:
        for _ in range(input_mb):
            handle.write(os.urandom(1 << 20))
    time.sleep(2.5)  # past the racy window: the first hash is reusable
    command = ["spectramind", *NOOP]
    hashed, reused = [], []
    for k in range(reps):
        off = {**env, "SPECTRAMIND_HASH_REUSE": "0"}
        hashed.append(wall(wrapped(f"hash{k}", command, "--input", raw.name), off, scratch))
        reused.append(wall(wrapped(f"hash{k}", command, "--input", raw.name), env, scratch))
    records = [r for rs in all_records(scratch / "artifacts/runs").values() for r in rs]
    sources = [r["inputs"][0]["hash_source"] for r in records if r["stage"].startswith("hash")]
    hash_s = [r["overhead_s"]["hash_inputs"] for r in records if r["stage"].startswith("hash")]
    h, u = statistics.median(hashed), statistics.median(reused)
    print(f"\n## a {input_mb} MiB calibrate input through the wrapper (median of {reps})")
    print(f"hashed every job (SPECTRAMIND_HASH_REUSE=0): {h:.3f} s/job")
    print(f"reused from the earlier record:               {u:.3f} s/job  (ratio {h / u:.1f})")
    print(f"hash_inputs in the records: hashed {max(hash_s):.3f} s, reused {min(hash_s):.4f} s;"
          f" sources: {sorted(set(s.split(' (')[0][:40] for s in sources))}")  # fmt: skip
    print(f"sha256 throughput: {input_mb / max(hash_s):.0f} MiB/s -> 500 MB visit: "
          f"{500 / 1.048576 / (input_mb / max(hash_s)):.2f} s when hashed")  # fmt: skip


def manifest_share(workspace: Path) -> None:
    runs = all_records(workspace / "artifacts/runs")
    run_id = max(runs)
    by_stage: dict[str, list[dict]] = defaultdict(list)
    for record in runs[run_id]:
        if record.get("status") == "ok" and record.get("overhead_s"):
            by_stage[record["stage"]].append(record)
    print(f"\n## manifest layer in {workspace} run {run_id} (records' overhead_s)")
    print(f"{'stage':10s} {'jobs':>5s} {'job s':>9s} {'startup s':>10s} {'manifest s':>11s} "
          f"{'manifest %':>11s}")  # fmt: skip
    total_job = total_manifest = total_startup = 0.0
    for stage, records in sorted(by_stage.items()):
        job = sum(r["duration_s"] for r in records)
        startup = sum(r["overhead_s"].get("startup", 0.0) for r in records)
        manifest = sum(
            sum(v for k, v in r["overhead_s"].items() if k != "startup") for r in records
        )
        whole = job + startup + manifest
        total_job, total_manifest, total_startup = (
            total_job + job, total_manifest + manifest, total_startup + startup)  # fmt: skip
        print(f"{stage:10s} {len(records):5d} {job:9.2f} {startup:10.2f} {manifest:11.2f} "
              f"{100 * manifest / whole:10.2f}%")  # fmt: skip
    whole = total_job + total_startup + total_manifest
    print(
        f"{'all':10s} {sum(map(len, by_stage.values())):5d} {total_job:9.2f} "
        f"{total_startup:10.2f} {total_manifest:11.2f} {100 * total_manifest / whole:10.2f}%"
    )
    print(
        "(job s: the stage's own duration_s; startup: interpreter, imports, parsing before the "
        "wrapper's work; manifest: hashing, git/version fields, appends, lineage check, index)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--reference-rev", help="git revision to compare with (e.g. feb183a)")
    parser.add_argument("--input-mb", type=int, default=256)
    parser.add_argument("--workspace", type=Path, help="finished workflow folder")
    parser.add_argument("--skip-hashing", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set here; the runs below unset it (bytecode cached)")
    scratch = Path(tempfile.mkdtemp(prefix="job-overhead-"))
    try:
        reference = None
        if args.reference_rev:
            reference = extract_base(args.reference_rev, scratch)
        work = scratch / "work"
        work.mkdir()
        startup_and_noop(args.reps, reference, work)
        if not args.skip_hashing:
            hashing(args.reps, args.input_mb, work)
        if args.workspace:
            manifest_share(args.workspace)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
