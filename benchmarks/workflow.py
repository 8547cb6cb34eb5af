"""Benchmark the Snakemake workflow (issue 5): end-to-end time, manifest cost, dry-run scaling.

Usage: python benchmarks/workflow.py [--skip-default] [--reps N] [--planets N] [--keep DIR]

Each measurement runs the real workflow in a fresh temporary copy of the repository
(``tests/workflow_helpers.copy_workflow``) with ``python -m snakemake``:

1. default end to end: ``snakemake --cores 2`` with config/config.yaml as it is (24 train + 8 test
   planets at 5% of the real frames), once;
2. manifest layer: ``--configfile config/tiny.yaml manifest.yaml`` with ``manifest: false``
   or ``manifest: true`` in that overlay, N fresh runs each (a git repository each), interleaved
   (off, on, off, on, ...); medians and the ratio. Also, free of machine noise, the manifest work
   itself redone on a finished workspace: hashing every recorded input and artifact, the git and
   environment fields and the record append, for every job of the run;
3. ``snakemake -n`` on a placeholder dataset of N planets (empty files in the exact layout, every
   10th planet with a second visit), ``--config data_dir=...``: wall time with and without the
   SLURM plugin's start-up probe (see workflow_helpers: ``scontrol show config`` blocks ~9 s
   per invocation where slurm-client is installed but no controller answers).

They run in the order 3, 2, 1. The machine may be shared: read the medians and compare figures
from the same invocation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from workflow_helpers import copy_workflow, placeholder_tree, snakemake

from spectramind.repro.audit import run_records, stage_runs
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import append_record, environment_fields


def timed_run(workdir: Path, *args: str, cores: int = 2, **kwargs) -> float:
    start = time.perf_counter()
    result = snakemake(workdir, *args, cores=cores, timeout=3600, **kwargs)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{result.stderr[-4000:]}")
    return wall


def manifest_work_s(workdir: Path) -> tuple[float, int]:
    """Seconds the wrapper's manifest work takes for every record of the run, redone now."""
    root = workdir / "artifacts/runs"
    [run_id] = {r for runs in stage_runs(root).values() for r in runs}
    records = run_records(root, run_id)
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp()) / "events.jsonl"
    for record in records:
        for entry in (*record["inputs"], *record["artifacts"]):
            sha256_file(workdir / entry["path"])
        environment_fields(workdir)
        sha256_file(workdir / record["config_snapshot_path"])
        append_record(scratch, record)
    return time.perf_counter() - start, len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-default", action="store_true", help="skip the default run")
    parser.add_argument("--reps", type=int, default=3, help="runs per manifest setting")
    parser.add_argument("--planets", type=int, default=1100, help="planets for the dry run")
    parser.add_argument("--keep", type=Path, help="work here instead of a temporary folder")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="spectramind-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    print(f"workspaces under {base}; cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")

    dataset = placeholder_tree(base / "dry/data", args.planets)
    workdir = copy_workflow(base / "dry/repo")
    dry = ("-n", "--config", f"data_dir={dataset}")
    timed_run(workdir, *dry)  # warm the file cache
    no_probe = [timed_run(workdir, *dry) for _ in range(3)]
    with_probe = timed_run(workdir, *dry, no_slurm_probe=False)
    print(
        f"snakemake -n on {args.planets} train + 1 test planets: "
        f"median {statistics.median(no_probe):.1f} s"
        f" (runs {', '.join(f'{w:.1f}' for w in no_probe)}); with the SLURM plugin probe: "
        f"{with_probe:.1f} s",
        flush=True,
    )

    walls: dict[bool, list[float]] = {False: [], True: []}
    work = []
    for rep in range(args.reps):
        for enabled in (False, True):
            workdir = copy_workflow(base / f"manifest-{enabled}-{rep}", git=True)
            # --config parses manifest=false as the string "false": booleans need an overlay
            setting = f"manifest: {'true' if enabled else 'false'}"
            (workdir / "manifest.yaml").write_text(setting + "\n")
            wall = timed_run(workdir, "--configfile", "config/tiny.yaml", "manifest.yaml")
            walls[enabled].append(wall)
            print(f"  tiny run {rep + 1}, {setting}: {wall:.1f} s", flush=True)
            if enabled:
                work.append(manifest_work_s(workdir))
    off, on = statistics.median(walls[False]), statistics.median(walls[True])
    print(
        f"manifest layer, config/tiny.yaml, {args.reps} runs each: "
        f"median off {off:.1f} s, on {on:.1f} s, "
        f"ratio {on / off:.3f} ({(on - off) / off:+.1%})"
    )
    seconds, jobs = max(work)
    print(
        f"manifest work itself (hash inputs+artifacts, git, append) for {jobs} jobs: "
        f"{seconds:.2f} s = {seconds / on:.1%} of the median run"
    )

    if not args.skip_default:
        workdir = copy_workflow(base / "default")
        wall = timed_run(workdir)
        print(f"default end to end (config/config.yaml, --cores 2): {wall:.1f} s")


if __name__ == "__main__":
    main()
