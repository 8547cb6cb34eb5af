"""Retry the fault cases of issue 12 on a checkout and print what a user sees, one row each.

    python benchmarks/fault_cases.py [--code DIR] [--work DIR] [--cases kill,readers,...]

``--code DIR`` tries another checkout (its workflow files, and its ``src/`` first on PYTHONPATH
for every ``spectramind`` and ``snakemake`` call), e.g. a clone of the commit before issue 12,
so the same script gives the "before" and "after" columns. Each case runs real ``snakemake``
and ``spectramind`` on the tiny simulated dataset (3 train + 2 test planets at 1% of the real
frames, made once under ``--work``). ``kill`` and ``killfit`` run the whole workflow (minutes
each); ``torn`` mounts a tmpfs and needs root. Cases: paths, kill (during calibrate), ckpt,
orphans, forcerun (these three on the workspace ``kill`` left), killfit (kill during fit), torn,
preflight, readers, prune.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "schemas", "envs", "profiles")
OVERLAY = ("--configfile", "tests/workflow_tiny.yaml")
CASES = (
    "paths", "kill", "ckpt", "orphans", "forcerun", "killfit", "torn", "preflight", "readers",
    "prune",
)  # fmt: skip


class Trial:
    """Runs commands against one checkout (``code``) in folders under ``work``."""

    def __init__(self, code: Path, work: Path):
        self.code, self.work = code, work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
        self.env["PYTHONPATH"] = str(code / "src")
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env['PATH']}"
        self.rows: list[tuple[str, str]] = []

    def row(self, case: str, outcome: str) -> None:
        self.rows.append((case, outcome))
        print(f"| {case} | {outcome} |", flush=True)

    def workflow(self, name: str) -> Path:
        dest = self.work / name
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for item in WORKFLOW_FILES:
            src = self.code / item
            copy = shutil.copytree if src.is_dir() else shutil.copy2
            copy(src, dest / item)
        (dest / "tests").mkdir()
        shutil.copy2(self.code / "tests/workflow_tiny.yaml", dest / "tests")
        return dest

    def run(self, cwd: Path, *cmd: str, timeout: float = 1800, **kw) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                cmd, cwd=cwd, env={**self.env, **kw}, capture_output=True, text=True,
                timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired as err:
            return subprocess.CompletedProcess(cmd, 124, str(err.stdout), str(err.stderr))

    def snakemake(self, cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(cwd, sys.executable, "-m", "snakemake", "--cores", "2", *args, **kw)

    def spectramind(self, cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(cwd, sys.executable, "-m", "spectramind", *args, **kw)


def dataset(work: Path) -> Path:
    """The tiny dataset (made once with this checkout's simulator)."""
    out = work / "dataset" / "data"
    if not (out / "train.csv").is_file():
        shutil.rmtree(out.parent, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "spectramind", "simulate", "--out", str(out), "--train", "3",
             "--test", "2", "--seed", "11", "--frames-scale", "0.01",
             "--second-visit-fraction", "0.5"],
            check=True, capture_output=True,
        )  # fmt: skip
    return out


def with_data(trial: Trial, workdir: Path, data: Path) -> tuple[str, ...]:
    import yaml

    (workdir / "data_dir.yaml").write_text(yaml.safe_dump({"data_dir": str(data)}))
    return (*OVERLAY, "--configfile", "data_dir.yaml")


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:160]


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def case_paths(trial: Trial, data: Path) -> None:
    for label, name in (("space", "my data"), ("quote", "it's"), ("$( )", "x$(touch PWNED)")):
        copy = trial.work / "paths" / name / "adc"
        shutil.rmtree(trial.work / "paths", ignore_errors=True)
        shutil.copytree(data, copy)
        workdir = trial.workflow("paths-wf")
        planet = sorted(p.name for p in (copy / "train").iterdir())[0]
        target = f"artifacts/calib/train/{planet}/visit_0.npz"
        result = trial.snakemake(workdir, target, *with_data(trial, workdir, copy))
        ran = [str(p.relative_to(trial.work)) for p in trial.work.rglob("PWNED")]
        outcome = "ok" if result.returncode == 0 else f"rc {result.returncode}"
        if result.returncode and "unrecognized arguments" in result.stderr:
            outcome += " (calibrate: unrecognized arguments)"
        trial.row(f"data_dir with a {label}", outcome + (f"; RAN: {ran}" if ran else ""))
        for found in trial.work.rglob("PWNED"):
            found.unlink()


def wait_midway(workdir: Path, proc: subprocess.Popen, stage: str) -> None:
    """Until a ``stage`` job starts after another one finished (so snakemake registered that
    one as complete and a resume can reuse it): its log is created after the first result."""
    first_result = None
    while proc.poll() is None:
        for path in (workdir / "artifacts/runs" / stage).glob("*/events.jsonl"):
            if first_result is None and b'"status":"ok"' in path.read_bytes():
                first_result = time.time()
        if first_result is not None and any(
            p.stat().st_ctime > first_result + 0.2
            for p in (workdir / "logs" / stage).rglob("*.log")
        ):
            return
        time.sleep(0.1)
    raise SystemExit("the workflow ended before it could be killed")


def case_kill(trial: Trial, data: Path, stage: str = "calibrate") -> Path:
    """Kill -9 the whole run while ``stage`` jobs run, then recover as documented."""
    workdir = trial.workflow(f"kill-{stage}")
    config = with_data(trial, workdir, data)
    tmpdir = trial.work / "kill-tmp"
    shutil.rmtree(tmpdir, ignore_errors=True)
    tmpdir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", *config], cwd=workdir,
        env={**trial.env, "TMPDIR": str(tmpdir)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_midway(workdir, proc, stage)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    when = f"kill -9 during {stage}"
    listing = trial.spectramind(workdir, "runs", "list").stdout.strip()
    trial.row(f"{when}: `runs list`", listing.split("  ")[1] if listing else "no runs")
    started = sum(1 for p in (workdir / "logs" / stage).rglob("*.log"))
    recorded = [
        json.loads(x)
        for x in (next((workdir / "artifacts/runs" / stage).glob("*/events.jsonl")))
        .read_bytes()
        .split(b"\n")
        if x.strip()
    ]
    finished = sum(1 for r in recorded if r.get("status") in ("ok", "failed"))
    trial.row(
        f"{when}: {stage} jobs started / finished / record lines",
        f"{started} / {finished} / {len(recorded)}",
    )
    rerun = trial.snakemake(workdir, *config, TMPDIR=str(tmpdir))
    trial.row(f"{when}: rerun", f"rc {rerun.returncode}: {last_line(rerun.stderr)[:90]}")
    trial.snakemake(workdir, *config, "--unlock")
    resumed = trial.snakemake(workdir, *config, TMPDIR=str(tmpdir))
    trial.row(f"{when}: after --unlock, resume", f"rc {resumed.returncode}")
    gate = trial.spectramind(workdir, "compliance")
    events = next((x for x in gate.stdout.splitlines() if " events:" in x), gate.stderr[-200:])
    trial.row(f"{when}: resumed run, compliance events gate", events[:150])
    leaked = [p.name for p in tmpdir.iterdir() if p.name.startswith("spectramind")]
    trial.row(f"{when}: temporary record files left in TMPDIR", str(len(leaked)))
    return workdir


def case_ckpt(trial: Trial, workdir: Path) -> None:
    ws = trial.work / "ckpt"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(workdir, ws, symlinks=True)
    before = (ws / "artifacts/submission/submission.csv").read_bytes()
    flip(ws / "artifacts/ckpt/model.pt")
    rerun = trial.snakemake(ws, "artifacts/submission/submission.csv", *OVERLAY, "--configfile",
                            "data_dir.yaml")  # fmt: skip
    sub = ws / "artifacts/submission/submission.csv"
    changed = sub.is_file() and sub.read_bytes() != before
    message = next((x for x in rerun.stderr.splitlines() if "refusing" in x), "")
    trial.row(
        "flipped byte in model.pt, rerun",
        f"rc {rerun.returncode}, submission changed: {changed}"
        + (f"; {message[:120]}..." if message else ""),
    )
    verify = trial.spectramind(ws, "runs", "verify")
    trial.row("flipped model.pt: `runs verify` (latest run)", last_line(verify.stdout))


def case_forcerun(trial: Trial, workdir: Path) -> None:
    """A run that redoes only train and what follows, reusing every calibration and fit."""
    ws = trial.work / "forcerun"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(workdir, ws, symlinks=True)
    rerun = trial.snakemake(ws, "--forcerun", "train", *OVERLAY, "--configfile", "data_dir.yaml")
    gate = trial.spectramind(ws, "compliance")
    events = next((x for x in gate.stdout.splitlines() if " events:" in x), gate.stderr[-200:])
    trial.row("`--forcerun train` run: compliance events gate", f"rc {rerun.returncode}; {events}")


def case_orphans(trial: Trial, workdir: Path) -> None:
    root = workdir / "artifacts/runs"
    config = (*OVERLAY, "--configfile", "data_dir.yaml")
    for label, args in (
        ("dry run", (*config, "-n", "--forcerun", "train")),
        ("--lint", ("--lint",)),
        ("--report", (*config, "--report", "artifacts/report.html")),
        ("failed parse", (*config, "--config", "unknwon_key=1")),
    ):
        before = {p.name for p in root.iterdir()}
        trial.snakemake(workdir, *args)
        new = {p.name for p in root.iterdir()} - before
        trial.row(f"{label}: new run folders", str(len(new)))


def case_torn(trial: Trial, data: Path) -> None:
    if os.geteuid() != 0:
        trial.row("full disk during an append", "skipped (needs root for a tmpfs)")
        return
    ws = trial.work / "torn"
    shutil.rmtree(ws, ignore_errors=True)
    (ws / "artifacts").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(ws / "artifacts")],
                   check=True)  # fmt: skip
    try:
        run_id = "20250101_000001"
        for i in range(2):  # two jobs recorded; then the disk fills and a third append runs out
            if i == 1:
                filler = ws / "artifacts/filler"
                fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
                try:
                    while True:
                        os.write(fd, b"\0" * 4096)
                except OSError:
                    os.close(fd)
                os.truncate(filler, filler.stat().st_size - 4096)
            trial.spectramind(
                ws, "run-stage", "--stage", "train", "--wildcards", json.dumps({"x": "y" * 9000}),
                "--", "true", SPECTRAMIND_RUN_ID=run_id,
            )  # fmt: skip
        events = next((ws / "artifacts/runs").rglob("events.jsonl"))
        torn = not events.read_bytes().endswith(b"\n")
        (ws / "artifacts/filler").unlink()
        trial.row("full disk during an append: torn last line", str(torn))
        for tool in (("runs", "list"), ("runs", "verify"), ("compliance",)):
            result = trial.spectramind(ws, *tool)
            crash = "Traceback" in result.stderr
            trial.row(
                f"then `{' '.join(tool)}`",
                f"rc {result.returncode}"
                + (f", {last_line(result.stderr)[:80]}" if crash else ", no traceback"),
            )
    finally:
        subprocess.run(["umount", "-l", str(ws / "artifacts")], check=False)


def case_preflight(trial: Trial, data: Path) -> None:
    workdir = trial.workflow("preflight")
    missing = with_data(trial, workdir, trial.work / "no such folder")
    result = trial.snakemake(workdir, *missing, "-n", timeout=300)
    kind = "InputFunctionException" if "InputFunctionException" in result.stderr else ""
    trial.row(
        "missing data_dir, dry run", f"rc {result.returncode} {kind or last_line(result.stderr)}"
    )
    (workdir / "bad.yaml").write_text("calibrate:\n  steps:\n    linearty: {skip: true}\n")
    result = trial.snakemake(workdir, *OVERLAY, "--configfile", "bad.yaml", "-n", timeout=300)
    trial.row(
        "typo in calibrate.steps, dry run", f"rc {result.returncode} {last_line(result.stderr)}"
    )
    t0 = time.monotonic()
    result = trial.run(workdir, sys.executable, "-m", "snakemake", "--cores", "0", *OVERLAY,
                       timeout=90)  # fmt: skip
    waited = time.monotonic() - t0
    outcome = "hangs (killed after 90 s)" if result.returncode == 124 else f"rc {result.returncode}"
    trial.row("--cores 0", f"{outcome} in {waited:.0f} s: {last_line(result.stderr)[:80]}")


def case_readers(trial: Trial, data: Path) -> None:
    for label, cut in (("truncated", 0.5), ("empty", 0.0)):
        copy = trial.work / "readers" / "data"
        shutil.rmtree(copy.parent, ignore_errors=True)
        shutil.copytree(data, copy)
        planet = sorted(p.name for p in (copy / "train").iterdir())[0]
        signal_file = copy / "train" / planet / "AIRS-CH0_signal_0.parquet"
        raw = signal_file.read_bytes()
        signal_file.write_bytes(raw[: int(len(raw) * cut)])
        result = trial.spectramind(
            copy.parent, "calibrate", "--data-dir", str(copy), "--split", "train", "--planet",
            planet, "--visit", "0", "--out", "out.npz",
        )  # fmt: skip
        names = str(signal_file) in result.stderr and f"planet {planet}" in result.stderr
        trial.row(
            f"{label} signal parquet: calibrate",
            f"rc {result.returncode}, names file and planet: {names}: "
            f"{last_line(result.stderr)[-90:]}",
        )
    copy = trial.work / "readers" / "data"
    shutil.rmtree(copy.parent, ignore_errors=True)
    shutil.copytree(data, copy)
    lines = (copy / "train.csv").read_text().splitlines(keepends=True)
    (copy / "train.csv").write_text("".join([*lines, lines[1]]))
    result = trial.spectramind(copy.parent, "validate", "--data-dir", str(copy))
    trial.row("train.csv with a planet_id twice: validate", f"rc {result.returncode}")


def case_prune(trial: Trial, data: Path) -> None:
    """Run 1 calibrates planet a, runs 2 and 3 planet b: a.npz is current, only run 1 has it."""
    ws = trial.work / "prune"
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir()
    for run_id, planet in (
        ("20250101_000001", "a"),
        ("20250101_000002", "b"),
        ("20250101_000003", "b"),
    ):
        out = f"artifacts/calib/{planet}.npz"
        trial.spectramind(
            ws, "run-stage", "--stage", "calibrate", "--output", out, "--", "sh", "-c",
            f"mkdir -p artifacts/calib && date +%N > {out}", SPECTRAMIND_RUN_ID=run_id,
        )  # fmt: skip
    dry = trial.spectramind(ws, "runs", "prune", "--keep", "1", "--dry-run")
    lines = [x for x in (dry.stdout + dry.stderr).splitlines() if "would remove" in x]
    folders = {x.rsplit(" ", 1)[-1] for x in lines}
    trial.row("`runs prune --keep 1 --dry-run`", f"{len(lines)} lines for {len(folders)} folders")
    trial.spectramind(ws, "runs", "prune", "--keep", "1")
    kept = sorted(p.name for p in (ws / "artifacts/runs/calibrate").iterdir())
    trial.row(
        "`runs prune --keep 1`: record of the current a.npz (run 1) kept",
        str("20250101_000001" in kept),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=REPO, help="checkout to try (default: this)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/spectramind-fault-cases"))
    parser.add_argument("--cases", default=",".join(CASES), help=f"any of {','.join(CASES)}")
    args = parser.parse_args()
    cases = args.cases.split(",")
    trial = Trial(args.code.resolve(), args.work / args.code.resolve().name)
    trial.work.mkdir(parents=True, exist_ok=True)
    data = dataset(args.work)
    print(f"code: {trial.code}\n\n| case | outcome |\n|---|---|", flush=True)
    workdir = None
    if "paths" in cases:
        case_paths(trial, data)
    if {"kill", "ckpt", "orphans", "forcerun"} & set(cases):
        workdir = case_kill(trial, data)
    if "ckpt" in cases and workdir:
        case_ckpt(trial, workdir)
    if "orphans" in cases and workdir:
        case_orphans(trial, workdir)
    if "forcerun" in cases and workdir:
        case_forcerun(trial, workdir)
    if "killfit" in cases:
        case_kill(trial, data, "fit")
    for name, case in (
        ("torn", case_torn),
        ("preflight", case_preflight),
        ("readers", case_readers),
        ("prune", case_prune),
    ):
        if name in cases:
            case(trial, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
