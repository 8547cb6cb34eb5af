"""The audit trail under faults: a manifest line is written whole or not at all.

Real processes, real signals, a real full filesystem (a small tmpfs; mounting needs root, which
CI has): a writer killed with SIGKILL inside ``write()``, an append that runs out of space, and 8
processes appending 500 records each to one file. Readers report what is damaged as
``path:line: damaged record`` and go on.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workflow_helpers import mounted_tmpfs

from spectramind.repro.manifest import (
    DamagedLine,
    append_record,
    fold_attempts,
    read_records,
    recover,
)

WRITER = """
import sys
from spectramind.repro.manifest import append_record
append_record(sys.argv[1], {"status": "ok", "i": 1, "payload": "x" * int(sys.argv[2])})
"""


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def tear_an_append(path: Path, payload: int) -> bool:
    """Start a real append of a huge record and SIGKILL the writer while its bytes are landing.

    True when the kill tore the line (some bytes written, not all); False when the write was
    over (or had not begun) before the kill.
    """
    before = path.stat().st_size
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(payload)])
    try:
        deadline = time.monotonic() + 60
        while path.stat().st_size == before and writer.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError("the writer never started writing")
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(timeout=60)
    grown = path.stat().st_size - before
    return 0 < grown < payload


def test_kill_9_inside_an_append_is_cut_and_readers_go_on(tmp_path: Path) -> None:
    path = tmp_path / "runs/calibrate/20250101_000000/events.jsonl"
    append_record(path, {"status": "ok", "i": 0})
    whole = path.read_bytes()
    for payload in (64 << 20, 128 << 20, 256 << 20, 256 << 20, 256 << 20):
        if tear_an_append(path, payload):
            break
        path.write_bytes(whole)  # the write finished before the kill: try a larger one
    else:
        pytest.fail("could not land a SIGKILL inside a write() in 5 tries")
    assert not path.read_bytes().endswith(b"\n")  # a torn line, as the kernel left it

    damaged: list[DamagedLine] = []
    assert [r["i"] for r in read_records(path, damaged=damaged)] == [0]
    assert [str(d) for d in damaged] == [f"{path}:2: damaged record"]

    # The killed writer's lock died with it; the next append cuts the torn line first.
    append_record(path, {"status": "ok", "i": 2}, timeout_s=10)
    damaged.clear()
    assert [r["i"] for r in read_records(path, damaged=damaged)] == [0, 2]
    assert damaged == [] and path.read_bytes().startswith(whole)


def test_recover_cuts_a_torn_tail_that_no_append_follows(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    path = root / "fit" / "20250101_000000" / "events.jsonl"
    append_record(path, {"status": "ok", "i": 0})
    whole = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"status": "ok", "i": 1, "payl')  # what a killed writer leaves
    other = root / "train" / "20250101_000000" / "events.jsonl"
    append_record(other, {"status": "ok", "i": 0})
    assert recover(root) == [path]
    assert path.read_bytes() == whole
    assert recover(root) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A 256 kB tmpfs (root only; CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    with mounted_tmpfs(mount, "256k"):
        yield mount


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the filesystem of ``folder``, then free ``leave`` bytes; return the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as err:
        assert err.errno == errno.ENOSPC, err
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


def test_an_append_that_runs_out_of_space_leaves_the_file_as_it_was(small_tmpfs: Path) -> None:
    path = small_tmpfs / "events.jsonl"
    for i in range(3):
        append_record(path, {"status": "ok", "i": i, "payload": "y" * 3000})
    before = path.read_bytes()
    filler = fill(small_tmpfs, leave=8192)  # room for part of the next record, not all
    with pytest.raises(OSError) as raised:
        append_record(path, {"status": "ok", "i": 3, "payload": "z" * 60_000})
    assert raised.value.errno == errno.ENOSPC
    assert path.read_bytes() == before  # not a byte of the failed line

    filler.unlink()
    append_record(path, {"status": "ok", "i": 4})
    damaged: list[DamagedLine] = []
    assert [r["i"] for r in read_records(path, damaged=damaged)] == [0, 1, 2, 4]
    assert damaged == []


APPENDER = """
import sys
from spectramind.repro.manifest import append_record
from test_manifest_crash import size_of
path, writer, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    append_record(path, {"writer": writer, "i": i, "payload": "p" * size_of(writer, i)})
"""


def size_of(writer: int, i: int) -> int:
    """50 B to 13 kB (many lines cross a page boundary), and every 50th 300 kB (>> PIPE_BUF)."""
    return 300_000 if i % 50 == 7 else 50 + (i * 977 + writer * 131) % 13000


def test_8_processes_x_500_appends_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writers, count = 8, 500
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(path), str(w), str(count)],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
        )
        for w in range(writers)
    ]
    assert all(p.wait(timeout=600) == 0 for p in procs)
    lines = lines_of(path)
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]  # every line whole JSON
    assert len(records) == writers * count
    assert {(r["writer"], r["i"]) for r in records} == {
        (w, i) for w in range(writers) for i in range(count)
    }
    for r in records:
        assert len(r["payload"]) == size_of(r["writer"], r["i"])


def test_fold_attempts_gives_one_record_per_job_and_marks_the_killed(tmp_path: Path) -> None:
    lines = [
        {"attempt": "a", "status": "started", "pid": 1, "host": "elsewhere"},
        {"attempt": "b", "status": "started", "pid": 2, "host": "elsewhere"},
        {"attempt": "a", "status": "ok", "artifacts": [{"path": "x"}]},
        {"status": "ok", "legacy": True},  # written before attempts existed
    ]
    folded = fold_attempts(lines)
    assert [(r.get("attempt"), r["status"]) for r in folded] == [
        ("a", "ok"),
        ("b", "interrupted"),
        (None, "ok"),
    ]
    assert folded[1]["artifacts"] == [] and folded[1]["error"]["message"]
    # a started line whose process still runs here is "running", not "interrupted"
    me = {"attempt": "c", "status": "started", "pid": os.getpid()}
    from spectramind.repro.manifest import process_start_ticks

    me.update(host=os.uname().nodename, pid_start=process_start_ticks(os.getpid()))
    assert fold_attempts([me])[0]["status"] == "running"


def test_a_killed_job_left_as_a_zombie_reads_as_interrupted():
    """A job killed with its workflow stays a zombie until reaped (forever under a PID 1 that
    does not reap orphans): same pid, same start time, but dead."""
    from spectramind.repro.manifest import process_start_ticks

    child = subprocess.Popen(["sleep", "30"])
    started = {
        "attempt": "z", "status": "started", "pid": child.pid, "host": os.uname().nodename,
        "pid_start": process_start_ticks(child.pid),
    }  # fmt: skip
    assert fold_attempts([started])[0]["status"] == "running"
    child.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().split(")")[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not become a zombie"
        time.sleep(0.01)
    try:
        assert process_start_ticks(child.pid) == started["pid_start"]  # not reaped: same process
        assert fold_attempts([started])[0]["status"] == "interrupted"
    finally:
        child.wait()
