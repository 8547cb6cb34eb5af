"""Issue 15, cheap jobs: a light CLI, stages run in the wrapper's process, raw inputs hashed once.

Every test runs the real ``spectramind`` command (or the real wrapper code in a fresh Python
process, where a test needs a stage that crashes on purpose).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spectramind.repro.cpu import PINNED_VARIABLES, pinned_environment
from spectramind.repro.hashcache import RACY_WINDOW_NS
from spectramind.repro.hashing import sha256_file
from spectramind.repro.manifest import read_records

RUN_ID = "20250102_030405"
HEAVY = ("numpy", "pyarrow", "torch", "pandas", "scipy", "numba", "snakemake", "matplotlib")
SETTLE_S = RACY_WINDOW_NS / 1e9 + 0.2


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Our environment without SPECTRAMIND_* variables or the CPU pin, the run id set, and a
    sitecustomize
    that appends one line to ``starts.txt`` per Python interpreter started."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import os\n"
        "with open(os.environ['COUNT_STARTS'], 'a') as f:\n"
        "    f.write(str(os.getpid()) + '\\n')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAMIND_")}
    for name in ("GLIBC_TUNABLES", "NPY_DISABLE_CPU_FEATURES", *PINNED_VARIABLES):
        env.pop(name, None)  # as a shell starts: unpinned
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(site)
    env["COUNT_STARTS"] = str(tmp_path / "starts.txt")
    env["SPECTRAMIND_RUN_ID"] = RUN_ID
    env.update(extra)
    return env


def starts(tmp_path: Path) -> int:
    path = tmp_path / "starts.txt"
    n = len(path.read_text().splitlines()) if path.exists() else 0
    path.unlink(missing_ok=True)
    return n


def spectramind(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["spectramind", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def records(tmp_path: Path, stage: str) -> list[dict]:
    return read_records(tmp_path / "artifacts/runs" / stage / RUN_ID / "events.jsonl")


# --- a light CLI ---------------------------------------------------------------------------------


def test_the_parser_and_the_wrapper_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from spectramind.cli import build_parser\n"
        "import spectramind.repro.stage, spectramind.repro.hashcache, spectramind.repro.inprocess\n"
        "build_parser()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", f"imported when building the parser: {out.stdout}"


def test_help_starts_one_interpreter_and_a_computing_command_restarts_once(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path)
    assert pinned_environment(env) != env, "the pin must change this environment for the test"
    result = spectramind(tmp_path, "--help", env=env)
    assert result.returncode == 0 and "run-stage" in result.stdout
    assert starts(tmp_path) == 1
    # the restart for the pin still happens where a command computes (the counter works)
    assert spectramind(tmp_path, "cpu-profile", "--list", env=env).returncode == 0
    assert starts(tmp_path) == 2


# --- stages in the wrapper's process -------------------------------------------------------------


def test_a_spectramind_stage_runs_in_the_wrapper_process_pinned(tmp_path: Path) -> None:
    env = pinned_environment(environment(tmp_path))  # as the workflow's jobs start
    wrapped = ["run-stage", "--stage", "noop", "--threads", "1", "--log", "noop.log", "--"]
    result = spectramind(tmp_path, *wrapped, "spectramind", "cpu-profile", "--list", env=env)
    assert result.returncode == 0, result.stderr
    assert starts(tmp_path) == 1
    [record] = records(tmp_path, "noop")
    assert record["status"] == "ok" and record["runner"] == "in-process"
    assert record["extra"]["cpu_kernels"]["libm_fma_masked"] is True
    off = spectramind(tmp_path, *wrapped, "spectramind", "cpu-profile", "--list",
                      env={**env, "SPECTRAMIND_IN_PROCESS": "0"})  # fmt: skip
    assert off.returncode == 0, off.stderr
    assert starts(tmp_path) == 2
    assert records(tmp_path, "noop")[-1]["runner"] == "subprocess"


def test_an_in_process_stage_error_is_a_failed_record_with_its_message(tmp_path: Path) -> None:
    env = pinned_environment(environment(tmp_path))
    result = spectramind(
        tmp_path, "run-stage", "--stage", "validate", "--log", "logs/v.log", "--output", "o.txt",
        "--", "spectramind", "validate", "--data-dir", str(tmp_path / "no such dir"),
        env=env,
    )  # fmt: skip
    assert result.returncode == 2
    [record] = records(tmp_path, "validate")
    assert record["runner"] == "in-process" and record["status"] == "failed"
    assert record["error"]["exit_code"] == 2
    assert any("no such dir" in line for line in record["error"]["stderr_tail"])
    assert "no such dir" in (tmp_path / "logs/v.log").read_text()
    assert "no such dir" in result.stderr  # echoed for Snakemake's console


# A wrapper around stand-in stages, in a fresh process (the stage is ours: `spectramind ...`).
FAULTS = """
import ctypes, os, signal, sys, time
from pathlib import Path
from spectramind.repro.stage import StageRun, run_stage

def stage(argv):
    Path("out.bin").write_text("partial")
    print("stage says hello", file=sys.stderr)
    os.write(2, b"C-level line\\n")
    what = argv[0]
    if what == "raise":
        raise RuntimeError("boom from the stage")
    if what == "exit3":
        sys.exit(3)
    if what == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
    if what == "segfault":
        ctypes.string_at(0)
    if what == "orphan":  # like multiprocessing's resource tracker: outlives the stage, holds fd 2
        import subprocess
        orphan = subprocess.Popen(["sleep", "60"], stdout=-3, start_new_session=True)
        Path("orphan.pid").write_text(str(orphan.pid))
        return 0
    if what == "env":
        Path("out.bin").write_text(os.environ["OMP_NUM_THREADS"])
        return 0
    return 0

code = run_stage(
    StageRun(stage="fault", command=["spectramind", sys.argv[1]], outputs=["out.bin"],
             log_path="fault.log", threads=3),
    entry=stage,
)
print("wrapper env after:", os.environ.get("OMP_NUM_THREADS"))
sys.exit(code)
"""


def run_fault(tmp_path: Path, what: str, timeout: float = 120) -> subprocess.CompletedProcess:
    (tmp_path / "faults.py").write_text(FAULTS)
    env = pinned_environment(environment(tmp_path))
    env.pop("OMP_NUM_THREADS", None)
    return subprocess.run(
        [sys.executable, "faults.py", what],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("what", "exit_code", "message", "in_log"),
    [
        ("raise", 1, "exit code 1", "RuntimeError: boom from the stage"),
        ("exit3", 3, "exit code 3", "stage says hello"),
        ("sigterm", -15, "killed by signal 15", "terminated by signal 15"),
    ],
)
def test_an_in_process_failure_is_recorded_like_a_child_process(
    tmp_path: Path, what: str, exit_code: int, message: str, in_log: str
) -> None:
    result = run_fault(tmp_path, what)
    assert result.returncode == exit_code % 256, result.stderr
    [record] = records(tmp_path, "fault")
    assert record["runner"] == "in-process" and record["status"] == "failed"
    assert record["error"]["exit_code"] == exit_code and message in record["error"]["message"]
    assert record["error"]["removed_outputs"] == ["out.bin"] and not (tmp_path / "out.bin").exists()
    log = (tmp_path / "fault.log").read_text()
    assert in_log in log and "C-level line" in log
    assert "C-level line" in record["error"]["stderr_tail"]
    assert "wrapper env after: None" in result.stdout  # the job's environment was undone


def test_an_in_process_stage_sees_the_job_environment(tmp_path: Path) -> None:
    result = run_fault(tmp_path, "env")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.bin").read_text() == "3"
    assert "wrapper env after: None" in result.stdout
    [record] = records(tmp_path, "fault")
    assert record["status"] == "ok" and record["artifacts"][0]["path"] == "out.bin"


def test_a_process_the_stage_leaves_behind_does_not_hold_the_job(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_fault(tmp_path, "orphan", timeout=40)  # the orphan sleeps 60 s
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    [record] = records(tmp_path, "fault")
    assert record["status"] == "ok"
    assert "C-level line" in (tmp_path / "fault.log").read_text()
    os.kill(int((tmp_path / "orphan.pid").read_text()), signal.SIGKILL)


def test_a_crash_in_process_leaves_an_interrupted_record_and_a_traceback(tmp_path: Path) -> None:
    result = run_fault(tmp_path, "segfault")
    assert result.returncode == -11
    [record] = records(tmp_path, "fault")
    assert record["status"] == "interrupted" and record["runner"] == "in-process"
    assert "Segmentation fault" in (tmp_path / "fault.log").read_text()


# --- raw inputs hashed once ------------------------------------------------------------------


def consume(tmp_path: Path, stage: str, path: str, env: dict[str, str]) -> dict:
    result = spectramind(
        tmp_path, "run-stage", "--stage", stage, "--input", path, "--", "true", env=env
    )
    return {"code": result.returncode, "stderr": result.stderr, **records(tmp_path, stage)[-1]}


def test_a_settled_input_is_hashed_once_and_the_record_says_so(tmp_path: Path) -> None:
    env = environment(tmp_path)
    raw = tmp_path / "raw.parquet"
    raw.write_bytes(os.urandom(1 << 20))
    future = time.time_ns() + 3600 * 10**9  # changed "after" its hashing began: never trusted
    os.utime(raw, ns=(future, future))
    racy = consume(tmp_path, "calibrate", "raw.parquet", env)["inputs"][0]
    assert racy["hash_source"] == "hashed" and "stat" not in racy
    os.utime(raw, ns=(future - 7200 * 10**9,) * 2)
    time.sleep(SETTLE_S)
    first = consume(tmp_path, "calibrate", "raw.parquet", env)
    second = consume(tmp_path, "calibrate", "raw.parquet", env)
    [hashed], [reused] = first["inputs"], second["inputs"]
    assert hashed["hash_source"] == "hashed" and hashed["stat"]["size"] == 1 << 20
    assert reused["hash_source"].startswith(f"reused from calibrate/{RUN_ID}/")
    assert reused["sha256"] == hashed["sha256"] == sha256_file(raw)
    # SPECTRAMIND_HASH_REUSE=0 hashes again; so does a rename (new ctime) or a rewrite
    off = consume(tmp_path, "calibrate", "raw.parquet", {**env, "SPECTRAMIND_HASH_REUSE": "0"})
    assert off["inputs"][0]["hash_source"] == "hashed"
    raw.write_bytes(raw.read_bytes())  # same bytes, rewritten: hashed again, same hash
    again = consume(tmp_path, "calibrate", "raw.parquet", env)["inputs"][0]
    assert again["hash_source"] == "hashed" and again["sha256"] == hashed["sha256"]


def same_size_change_with_restored_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    with open(path, "r+b") as handle:  # in place: same inode, same size
        handle.write(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size


def test_a_same_size_edit_with_restored_mtime_is_caught(tmp_path: Path) -> None:
    env = environment(tmp_path)
    made = spectramind(
        tmp_path, "run-stage", "--stage", "simulate", "--output", "frames.bin", "--",
        sys.executable, "-c", "import os; open('frames.bin', 'wb').write(os.urandom(1 << 20))",
        env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    time.sleep(SETTLE_S)
    first = consume(tmp_path, "calibrate", "frames.bin", env)
    assert first["code"] == 0 and first["inputs"][0]["stat"], first["stderr"]
    assert consume(tmp_path, "calibrate", "frames.bin", env)["inputs"][0]["hash_source"] != (
        "hashed"
    )
    same_size_change_with_restored_mtime(tmp_path / "frames.bin")
    tampered = consume(tmp_path, "calibrate", "frames.bin", env)
    assert tampered["inputs"][0]["hash_source"] == "hashed"  # the ctime changed
    assert tampered["inputs"][0]["sha256"] == sha256_file(tmp_path / "frames.bin")
    assert tampered["code"] == 2 and tampered["status"] == "failed"
    assert "frames.bin" in tampered["stderr"] and "simulate run" in tampered["stderr"]


def test_an_index_entry_pointing_elsewhere_means_hashing_again(tmp_path: Path) -> None:
    env = environment(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"a" * 1000)
    (tmp_path / "b.bin").write_bytes(b"b" * 1000)
    time.sleep(SETTLE_S)
    consume(tmp_path, "calibrate", "a.bin", env)
    consume(tmp_path, "calibrate", "b.bin", env)
    index = sorted((tmp_path / "artifacts/runs/.hashes").glob("*/*.json"))
    pointers = [json.loads(p.read_text()) for p in index]
    by_path = dict(zip([p["path"] for p in pointers], index, strict=True))
    # a's pointer now names b's record line: that record holds no entry for a.bin
    by_path["a.bin"].write_text(by_path["b.bin"].read_text())
    assert consume(tmp_path, "calibrate", "a.bin", env)["inputs"][0]["hash_source"] == "hashed"


def test_only_this_installation_s_spectramind_runs_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spectramind.repro.inprocess import own_cli_arguments

    assert own_cli_arguments(["spectramind", "fit", "-h"]) == ["fit", "-h"]
    assert own_cli_arguments([sys.executable, "-m", "spectramind", "fit"]) == ["fit"]
    assert own_cli_arguments(["spectramind", "run-stage", "--stage", "x"]) is None
    assert own_cli_arguments(["python3", "-c", "pass"]) is None
    # another environment's python (a symlink to the same base interpreter) and its script
    other = tmp_path / "other-venv" / "bin"
    other.mkdir(parents=True)
    (other / "python3").symlink_to(os.path.realpath(sys.executable))
    assert own_cli_arguments([str(other / "python3"), "-m", "spectramind", "fit"]) is None
    script = other / "spectramind"
    script.write_text(f"#!{other / 'python3'}\nimport sys\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ['PATH']}")
    assert own_cli_arguments(["spectramind", "fit"]) is None
