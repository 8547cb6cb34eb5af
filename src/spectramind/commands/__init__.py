"""CLI subcommands, one module per stage; see :mod:`spectramind.cli`.

The parser, logging set-up and dispatch live here (not in :mod:`spectramind.cli`) so that
``spectramind run-stage`` can run a stage command in its own process (:func:`invoke`,
:mod:`spectramind.repro.inprocess`) without importing the layer above it.

Nothing here or in a subcommand module imports numpy, pyarrow, torch, pandas or scipy at import
time: building the parser must stay cheap (``spectramind --help``, and every job's wrapper).
``tests/test_cheap_jobs.py`` checks it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from spectramind import __version__
from spectramind.errors import SpectraMindError

log = logging.getLogger("spectramind")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spectramind",
        description=(
            "SpectraMind: ADC 2025 pipeline from raw detector frames to submission.csv. "
            "Each subcommand is one pipeline stage; the Snakemake workflow calls them."
        ),
    )
    parser.add_argument("--version", action="version", version=f"spectramind {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    root = logging.getLogger()
    if root.handlers:  # already set up (a stage run in-process by run-stage): keep the stream
        root.setLevel(level)
        return
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def run_parsed(args: argparse.Namespace) -> int:
    """Run a parsed command; a :class:`SpectraMindError` becomes its one-line message and exit
    code, Ctrl-C exit code 130. Other exceptions propagate (a traceback, as from Python)."""
    from spectramind.repro.cpu import record_kernels

    try:
        code = int(args.func(args) or 0)
        record_kernels()  # which kernels produced the outputs, into the run manifest
        return code
    except SpectraMindError as err:
        log.error("%s", err)
        return err.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


def invoke(argv: list[str]) -> int:
    """``spectramind ARGV...`` in this process, without the CPU-pin restart of
    :func:`spectramind.cli.main` (the caller started pinned); argparse errors raise SystemExit."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    return run_parsed(args)
