"""Run a ``spectramind`` stage inside the wrapper's process, isolated like a child process.

``spectramind run-stage -- spectramind calibrate ...`` used to start a second Python process
for the stage: one more interpreter start and import of the CLI per job (issue 15). When the
stage command is this installation's own ``spectramind`` (:func:`own_cli_arguments`), the
wrapper now calls it in its own process (:func:`execute_in_process`) with what a child process
gave it:

- **environment**: the job's variables (thread pins, seed, run id, contribution file) are set
  in ``os.environ`` before the stage imports anything heavy; the wrapper itself has not loaded
  numpy, pyarrow or torch (``tests/test_cheap_jobs.py``), so each library starts with the
  job's settings, as in a fresh process. The CPU pin's ``GLIBC_TUNABLES`` is read by the
  loader at process start only, so the stage runs in-process only when this process started
  pinned (:func:`started_pinned`); otherwise it runs as a child, which inherits the pin.
- **stderr**: file descriptor 2 is pointed at the job's log for the stage's duration (without
  a log, at a temporary file copied to our stderr afterwards), and the last lines are read back
  for the record, as from a child's stderr. C-level output (numba, OpenBLAS warnings), the
  stage's own child processes and a fault handler's traceback land there too.
- **failures**: an exception becomes exit code 1 with its traceback in the log (what Python
  prints for an uncaught exception), ``SystemExit`` its code, Ctrl-C 130, and SIGTERM (Snakemake
  cancelling a job) exit ``-15``, "killed by signal 15", as a child killed by it would report.
- **crashes**: a segfault, ``os._exit`` or the OOM killer ends the wrapper with the stage. The
  ``started`` line it wrote first then has no final line, and readers report the job as
  ``interrupted`` (:mod:`spectramind.repro.manifest`); Snakemake sees the job fail and deletes
  its outputs. A child would have let the wrapper write ``failed`` instead: that record is the
  one thing in-process running gives up.

``SPECTRAMIND_IN_PROCESS=0`` makes every stage a child process again.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from spectramind.repro.cpu import libm_pinned, pin_applies, pin_enabled

ENV_IN_PROCESS = "SPECTRAMIND_IN_PROCESS"
#: What a stage command's ``argv[0]`` may be for it to run in-process.
CLI_NAME = "spectramind"


class StageTerminated(BaseException):
    """Raised in the stage by SIGTERM: a BaseException so ``except Exception`` cannot eat it."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


def in_process_enabled(environ: dict[str, str] | None = None) -> bool:
    """False when ``SPECTRAMIND_IN_PROCESS`` is ``0``/``false``/``no``/``off``."""
    value = (environ if environ is not None else os.environ).get(ENV_IN_PROCESS, "1")
    return value.strip().lower() not in {"0", "false", "no", "off"}


def started_pinned() -> bool:
    """True when this process needs no restart for the CPU pin: the loader saw the pinned
    ``GLIBC_TUNABLES`` at start-up, or the pin is off or does not apply here."""
    if not pin_enabled() or not pin_applies():
        return True
    from spectramind.repro.cpu import _startup_glibc_tunables

    tunables = _startup_glibc_tunables()
    return tunables is None or libm_pinned(tunables)


def _our_interpreter(path: str) -> bool:
    """True when ``path`` is this interpreter as installed here: same folder (the virtual
    environment's ``bin``) and same file. Comparing the resolved files alone would take another
    venv's python, a symlink to the same base interpreter, for ours."""
    found = shutil.which(path) if os.sep not in path else path
    if found is None:
        return False
    try:
        return os.path.samefile(os.path.dirname(os.path.abspath(found)),
                                os.path.dirname(os.path.abspath(sys.executable))) and (
            os.path.samefile(found, sys.executable))  # fmt: skip
    except OSError:
        return False


def own_cli_arguments(command: list[str]) -> list[str] | None:
    """The arguments after ``spectramind`` when ``command`` runs this installation's CLI
    (``spectramind ...`` found on PATH as a script of this interpreter, or
    ``<this python> -m spectramind ...``); None for anything else, or ``run-stage`` itself.

    A ``spectramind`` of another environment runs as a child: it may be other code."""
    if not command:
        return None
    if command[0] == CLI_NAME:
        script = shutil.which(CLI_NAME)
        if script is None:
            return None
        try:
            with open(script, "rb") as handle:
                first = handle.readline(4096)
        except OSError:
            return None
        if not first.startswith(b"#!"):
            return None
        interpreter = first[2:].strip().split(b" ")[0].decode(errors="replace")
        if not _our_interpreter(interpreter):
            return None
        arguments = list(command[1:])
    elif command[1:3] == ["-m", CLI_NAME] and _our_interpreter(command[0]):
        arguments = list(command[3:])
    else:
        return None
    if "run-stage" in arguments:  # a wrapper inside a wrapper: keep it a process of its own
        return None
    return arguments


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


_TAIL_BYTES = 1 << 16


def _last_lines(fd: int, start: int, count: int) -> list[str]:
    """The last ``count`` lines written to ``fd`` (readable) from byte ``start`` on."""
    end = os.fstat(fd).st_size
    begin = max(start, end - _TAIL_BYTES)
    data = os.pread(fd, end - begin, begin)
    lines = data.decode(errors="replace").splitlines()
    if begin > start and lines:
        lines = lines[1:]  # cut mid-line
    return lines[-count:]


@contextlib.contextmanager
def _stderr_to(log_path: str | None, tail: list[str], tail_lines: int) -> Iterator[None]:
    """Point fd 2 (and so ``sys.stderr``) at the log file, or, without one, at a temporary file
    copied to our stderr afterwards; put the last lines the stage wrote into ``tail``.

    A file, not a pipe: processes the stage leaves behind (multiprocessing's resource tracker
    lives until we exit) inherit fd 2, and a pipe would never see its end; a file also keeps
    everything written before a crash.
    """
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        target = open(log_path, "a+b")
    else:
        target = tempfile.TemporaryFile(prefix="spectramind-stderr.")
    sys.stderr.flush()
    saved_fd = os.dup(2)
    start = os.lseek(target.fileno(), 0, os.SEEK_END)
    os.dup2(target.fileno(), 2)
    had_faulthandler = faulthandler.is_enabled()
    faulthandler.enable(file=sys.stderr)  # a crash's Python traceback goes to the log
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        faulthandler.disable()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        if had_faulthandler:
            faulthandler.enable()
        try:
            tail.extend(_last_lines(target.fileno(), start, tail_lines))
            if not log_path:  # no log: what the stage wrote goes to our stderr, as it would
                target.seek(start)
                shutil.copyfileobj(target, sys.stderr.buffer)
                sys.stderr.buffer.flush()
        finally:
            target.close()


@contextlib.contextmanager
def _terminate_raises() -> Iterator[None]:
    def terminate(signum: int, _frame: Any) -> None:
        raise StageTerminated(signum)

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave the default
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def execute_in_process(
    entry: Callable[[list[str]], int],
    arguments: list[str],
    env: dict[str, str],
    log_path: str | None,
    tail_lines: int,
) -> tuple[int, list[str]]:
    """Call ``entry(arguments)`` as the stage with ``env`` as its environment and its stderr
    appended to ``log_path`` (None: our stderr, after the stage); return (exit code, last
    stderr lines)."""
    tail: list[str] = []
    saved_argv = sys.argv
    code: int
    with _environment(env), _stderr_to(log_path, tail, tail_lines):
        sys.argv = [CLI_NAME, *arguments]
        try:
            with _terminate_raises():
                code = int(entry(arguments) or 0)
        except StageTerminated as stop:
            sys.stderr.write(f"{CLI_NAME}: {stop}\n")
            code = -stop.signum
        except KeyboardInterrupt:
            sys.stderr.write(f"{CLI_NAME}: interrupted\n")
            code = 130
        except SystemExit as done:
            if done.code is None or isinstance(done.code, int):
                code = int(done.code or 0)
            else:  # sys.exit("message"): Python prints it and exits 1
                sys.stderr.write(f"{done.code}\n")
                code = 1
        except BaseException:  # what Python does with an uncaught exception
            traceback.print_exc()
            code = 1
        finally:
            sys.argv = saved_argv
    return code, tail
