"""Cost of issue 12's audit work per job, as a ratio to the job (tiny and default configs).

Usage: python benchmarks/audit_overhead.py [--configs tiny,default] [--workspace DIR] [--reps 5]

For each config, runs the real workflow once in a fresh copy of the repository (or reads a
finished ``--workspace``), then, for every recorded job, redoes in this process the work that
issue 12 added to the wrapper and times it (median of ``--reps``):

- ``started``: appending the ``started`` line (lock, one write, fsync) to a scratch events file
  beside the real ones;
- ``check``: ``lineage.check_inputs`` on the job's recorded inputs (index lookup + the
  producer's record line read back);
- ``index``: ``lineage.index_record`` of the job's artifacts;
- ``ckpt``: predict only, ``load_checkpoint``'s ``verify_consumed`` (re-hash of model.pt).

It prints per stage the jobs, the median job duration (the record's ``duration_s``), the median
added seconds (and its parts) and their ratio, and the totals. Reference: the same producer
lookups done the straightforward way, by reading every record of every run (``scan``), and the
input hashing the wrapper already did before issue 12 (``hash``, the record's
``overhead_s.hash_inputs``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from workflow_helpers import copy_workflow, snakemake

from spectramind.repro import lineage
from spectramind.repro.audit import all_records
from spectramind.repro.manifest import append_record

CONFIGS = {"tiny": ("--configfile", "config/tiny.yaml"), "default": ()}


def timed(reps: int, function, *args) -> float:
    """Median seconds of ``function(*args)`` over ``reps`` calls."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(workdir: Path, reps: int) -> None:
    import os

    os.chdir(workdir)  # records name paths relative to the workflow folder
    root = Path("artifacts/runs")
    runs = all_records(root)
    run_id = max(runs)
    scratch = Path(tempfile.mkdtemp(prefix=".bench-", dir=root)) / "events.jsonl"
    rows: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for record in runs[run_id]:
        if record.get("status") != "ok":
            continue
        started = {**record, "status": "started", "artifacts": [], "duration_s": None}
        append_s = timed(reps, append_record, scratch, started)
        check_s = timed(reps, lineage.check_inputs, root, record["inputs"])
        index_s = timed(reps, lineage.index_record, root, scratch, 0, record)
        if record["stage"] == "predict":
            ckpt = next(e["path"] for e in record["inputs"] if e["path"].endswith(".pt"))
            check_s += timed(reps, lineage.verify_consumed, ckpt, root)
        cost = append_s + check_s + index_s
        scan = timed(1, lambda inputs: [lineage.scan_producer(root, e["path"]) for e in inputs],
                     record["inputs"])  # fmt: skip
        hashed = (record.get("overhead_s") or {}).get("hash_inputs", float("nan"))
        rows[record["stage"]].append(
            (record["duration_s"], cost, append_s, check_s, index_s, scan, hashed)
        )
    lineage.rebuild_index(root)  # the scratch entries pointed at the scratch file
    shutil.rmtree(scratch.parent)
    print(f"\nrun {run_id} in {workdir}: {sum(map(len, rows.values()))} jobs")
    names = ("job s", "added s", "started", "check", "index", "scan s", "hash s")
    print(f"{'stage':10} {'jobs':>5} " + " ".join(f"{n:>8}" for n in names) + "    ratio")
    total_job = total_added = 0.0
    for stage, values in sorted(rows.items()):
        medians = [statistics.median(col) for col in zip(*values, strict=True)]
        total_job += sum(v[0] for v in values)
        total_added += sum(v[1] for v in values)
        print(
            f"{stage:10} {len(values):5d} "
            + " ".join(f"{m:8.4f}" for m in medians)
            + f" {medians[1] / medians[0]:8.2%}"
        )
    print(
        f"{'all':10} {sum(map(len, rows.values())):5d} {total_job:8.1f} {total_added:8.3f}"
        f"  ratio {total_added / total_job:.2%} (sums over jobs)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="tiny,default", help="tiny and/or default")
    parser.add_argument("--workspace", type=Path, help="a finished workflow folder to measure")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if args.workspace:
        measure(args.workspace.resolve(), args.reps)
        return 0
    for name in args.configs.split(","):
        workdir = copy_workflow(Path(tempfile.mkdtemp()) / name, git=True)
        start = time.perf_counter()
        result = snakemake(workdir, *CONFIGS[name], timeout=7200)
        if result.returncode != 0:
            sys.exit(f"{name}: snakemake failed:\n{result.stderr[-4000:]}")
        print(f"{name}: workflow in {time.perf_counter() - start:.0f} s")
        measure(workdir, args.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
